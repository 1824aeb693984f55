"""Cells of a hive: the open-time hbin scan, the allocated-cell map and bounds-checked access.

One pass over the bins (like hivex's open and yarp's cell map) records every allocated cell; every
later dereference asks this map whether an offset is the start of an allocated cell big enough for
what is read from it.
"""

from __future__ import annotations

import array
import bisect
import sys

from bcdtool.errors import CorruptionError
from bcdtool.regf import layout_packed as L


# The hot records, read as raw tuples (`Packed.unpack_from`).
NK = L.KeyNode
VK = L.KeyValue
SK = L.KeySecurity
HBIN = L.HbinHeader


class CellMap:
    """Bins and cells of a hive image, found by walking the bins from offset 0 to Length.

    `scan` walks every cell at once; `lazy` walks only the bin headers and each bin's cells the
    first time one of them is asked for (`allocated_size`, `bin_cells`), which is what reading a
    few keys of a big hive needs.  `allocated`, `free` and `problems` always describe the whole
    image (a lazy map scans the rest when one of them is first used).
    """

    def __init__(self, data: bytes, length: int) -> None:
        self.data = data
        self.length = length
        #: (offset, size) of every bin whose header is valid, in order.
        self.bins: list[tuple[int, int]] = []
        self._starts: list[int] = []
        self._header_problems: list[tuple[int, str]] = []
        #: Index in `_header_problems` after which each bin's cell problems go (walk order).
        self._problems_before: list[int] = []
        self._bin_cells: dict[int, tuple[dict[int, int], dict[int, int], list]] = {}
        self._all: tuple[dict[int, int], dict[int, int], list] | None = None

    @classmethod
    def scan(cls, data: bytes, length: int) -> CellMap:
        """Walk every bin and cell of `data` (a whole hive image) up to hive bins data `length`."""
        cells = cls.lazy(data, length)
        cells._complete()
        return cells

    @classmethod
    def lazy(cls, data: bytes, length: int) -> CellMap:
        """Walk the bin headers only; cells are walked bin by bin when first needed."""
        cells = cls(data, length)
        cells._scan_bins()
        return cells

    # --- whole-image views --------------------------------------------------------------------
    @property
    def allocated(self) -> dict[int, int]:
        """Cell offset -> total cell size (header included), for allocated cells."""
        return self._complete()[0]

    @property
    def free(self) -> dict[int, int]:
        """Cell offset -> total cell size, for free cells."""
        return self._complete()[1]

    @property
    def problems(self) -> list[tuple[int, str]]:
        """(offset, message) for every tiling problem; the walk stops at a broken bin."""
        return self._complete()[2]

    def _complete(self) -> tuple[dict[int, int], dict[int, int], list]:
        if self._all is None:
            allocated: dict[int, int] = {}
            free: dict[int, int] = {}
            problems: list[tuple[int, str]] = []
            done = 0
            for index in range(len(self.bins)):
                problems.extend(self._header_problems[done:self._problems_before[index]])
                done = self._problems_before[index]
                alloc, fr, probs = self._cells_of(index)
                allocated.update(alloc)
                free.update(fr)
                problems.extend(probs)
            problems.extend(self._header_problems[done:])
            self._all = (allocated, free, problems)
        return self._all

    # --- per-bin access -----------------------------------------------------------------------
    @property
    def header_problems(self) -> list[tuple[int, str]]:
        """Problems of the bin headers alone (known without walking any cell)."""
        return list(self._header_problems)

    def bin_index(self, offset: int) -> int | None:
        """Index in `bins` of the bin holding cell offset `offset`, or None."""
        index = bisect.bisect_right(self._starts, offset) - 1
        if index < 0 or offset >= self.bins[index][0] + self.bins[index][1]:
            return None
        return index

    def bin_cells(self, index: int) -> tuple[dict[int, int], dict[int, int], list]:
        """(allocated, free, tiling problems) of bin `index`, each cell offset -> size."""
        return self._cells_of(index)

    def allocated_size(self, offset: int) -> int | None:
        """Total size of the allocated cell starting at `offset`, or None when there is none."""
        if self._all is not None:
            return self._all[0].get(offset)
        index = self.bin_index(offset)
        return None if index is None else self._cells_of(index)[0].get(offset)

    def _scan_bins(self) -> None:
        data, length = self.data, self.length
        available = max(len(data) - L.BASE_BLOCK_SIZE, 0)
        if length > available:
            self._header_problems.append((available, f"the hive bins data ({length:#x} bytes) "
                                                     f"extends beyond the end of the file "
                                                     f"({available:#x})"))
        limit = min(length, available)
        pos = 0
        while pos < limit:
            if pos + L.HBIN_HEADER_SIZE > limit:
                self._header_problems.append((pos, "truncated hbin header"))
                return
            signature, offset, size = HBIN.unpack_from(data, L.BASE_BLOCK_SIZE + pos)[:3]
            if signature != b"hbin":
                self._header_problems.append((pos, "no 'hbin' signature where a bin must start"))
                return
            if offset != pos:
                self._header_problems.append((pos, f"hbin offset field is {offset:#x}, not its "
                                                   "position"))
            if size < 4096 or size % 4096:
                self._header_problems.append((pos, f"hbin size {size:#x} is not a multiple of "
                                                   "4096"))
                return
            if pos + size > limit:
                self._header_problems.append((pos, f"hbin of {size:#x} bytes runs past the end "
                                                   "of the hive bins data"))
                return
            self.bins.append((pos, size))
            self._starts.append(pos)
            self._problems_before.append(len(self._header_problems))
            pos += size

    def _cells_of(self, index: int) -> tuple[dict[int, int], dict[int, int], list]:
        found = self._bin_cells.get(index)
        if found is not None:
            return found
        start, size = self.bins[index]
        end = start + size
        # Cell sizes are read through an int32 array of the bin: much cheaper than unpack_from.
        sizes = array.array("i", self.data[L.BASE_BLOCK_SIZE + start:L.BASE_BLOCK_SIZE + end])
        if sys.byteorder == "big":
            sizes.byteswap()
        allocated: dict[int, int] = {}
        free: dict[int, int] = {}
        problems = []
        cell = start + L.HBIN_HEADER_SIZE
        while cell < end:
            raw = sizes[(cell - start) >> 2]
            cell_size = -raw if raw < 0 else raw
            if cell_size < 8 or cell_size & 7 or cell + cell_size > end:
                problems.append((cell, f"cell size {raw} breaks the tiling of the bin at "
                                       f"{start:#x}"))
                break
            if raw < 0:
                allocated[cell] = cell_size
            else:
                free[cell] = cell_size
            cell += cell_size
        found = self._bin_cells[index] = (allocated, free, problems)
        return found

    def size(self, offset: int, what: str) -> int:
        """Data bytes (cell size minus its header) of the allocated cell at `offset`."""
        cell_size = self.allocated_size(offset)
        if cell_size is None:
            raise CorruptionError(f"{what} points to {offset:#x}, which is not an allocated cell",
                                  offset=offset)
        return cell_size - 4

    def payload(self, offset: int, what: str, need: int = 0) -> bytes:
        """The data bytes of the allocated cell at `offset`, which must hold at least `need`."""
        size = self.size(offset, what)
        if need > size:
            raise CorruptionError(f"{what} needs {need} bytes but its cell at {offset:#x} holds "
                                  f"{size}", offset=offset)
        start = L.BASE_BLOCK_SIZE + offset + 4
        return self.data[start:start + size]

    def read(self, offset: int, what: str, length: int) -> bytes:
        """The first `length` data bytes of the allocated cell at `offset` (which must hold
        them)."""
        cell_size = self.allocated_size(offset)
        if cell_size is None or cell_size - 4 < length:
            self.payload(offset, what, length)  # raises the precise error
        start = L.BASE_BLOCK_SIZE + offset + 4
        return self.data[start:start + length]

    def file_offset(self, offset: int) -> int:
        """File offset of the data of the cell at cell offset `offset`."""
        return L.BASE_BLOCK_SIZE + offset + 4
