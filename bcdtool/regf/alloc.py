"""regf cell allocator over a mutable hive image: bins, free cells, split, coalesce, growth.

Layer: regf (below the editor).  Rules from ../shared/reference/regf.md §3-4: cells are
round_up(payload + 4, 8) bytes, free cells are split (allocated part first) and coalesced with
both neighbours in the same bin, new cells are zero-filled, and the hive grows by whole bins
(round_up(cell + 32, 4096)) appended at `hive_bins_data_size`, into the file's slack when there
is some.
"""

from __future__ import annotations

import array
import bisect
import struct
import sys

from bcdtool.errors import CorruptionError
from bcdtool.regf.layout_packed import BASE_BLOCK_SIZE, BB_HIVE_BINS_DATA_SIZE, HBIN_HEADER_SIZE

_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
BIN_ALIGN = 4096
#: Stable cell offsets must stay below bit 31 (volatile storage), so the bins are < 2 GiB.
MAX_HIVE_BINS = 0x7FFFF000


def cell_size_for(payload: int) -> int:
    """Total cell size (header included) for `payload` data bytes."""
    return max(8, (payload + 4 + 7) & ~7)


class CellAllocator:
    """The cells of one hive image (`buf` includes the 4096-byte base block)."""

    def __init__(self, buf: bytearray, cells=None):
        """The cells of `buf`; `cells` (a `cells.CellMap` of the same image) saves a scan."""
        self.buf = buf
        self.length = _U32.unpack_from(buf, BB_HIVE_BINS_DATA_SIZE)[0]
        if self.length < BIN_ALIGN or self.length % BIN_ALIGN or \
                BASE_BLOCK_SIZE + self.length > len(buf):
            raise CorruptionError("hive bins data size is invalid", offset=BB_HIVE_BINS_DATA_SIZE)
        self.bin_starts: list[int] = []
        self.bin_ends: list[int] = []
        self.free: dict[int, int] = {}        # free cell offset -> size
        self.free_end: dict[int, int] = {}    # end of a free cell -> its offset
        self.allocated: set[int] = set()
        #: Starts of the bins whose cells were allocated, freed or created since the scan.
        self.touched: set[int] = set()
        if cells is not None and not cells.problems and cells.length == self.length:
            self._adopt(cells)
        else:
            self._scan()

    def _adopt(self, cells) -> None:
        """Take the bins and cells of the reader's scan of the same image (no second scan)."""
        for start, size in cells.bins:
            self.bin_starts.append(start)
            self.bin_ends.append(start + size)
        self.allocated = set(cells.allocated)
        self.free = dict(cells.free)
        self.free_end = {off + size: off for off, size in self.free.items()}

    def _scan(self) -> None:
        pos = 0
        while pos < self.length:
            base = BASE_BLOCK_SIZE + pos
            if bytes(self.buf[base:base + 4]) != b"hbin":
                raise CorruptionError("hbin signature expected", offset=base)
            own, size = struct.unpack_from("<II", self.buf, base + 4)
            if own != pos or size < BIN_ALIGN or size % BIN_ALIGN or pos + size > self.length:
                raise CorruptionError("hbin header is inconsistent", offset=base)
            self.bin_starts.append(pos)
            self.bin_ends.append(pos + size)
            for cell, csize, free in self.bin_cells(pos, pos + size):
                if free:
                    self._add_free(cell, csize)
                else:
                    self.allocated.add(cell)
            pos += size

    def bin_cells(self, start: int, end: int) -> list[tuple[int, int, bool]]:
        """(offset, size, is free) of every cell of the bin [start, end), as the image says."""
        sizes = array.array("i", bytes(self.buf[BASE_BLOCK_SIZE + start:BASE_BLOCK_SIZE + end]))
        if sys.byteorder == "big":
            sizes.byteswap()
        cells = []
        cell = start + HBIN_HEADER_SIZE
        while cell < end:
            raw = sizes[(cell - start) >> 2]
            csize = -raw if raw < 0 else raw
            if csize < 8 or csize & 7 or cell + csize > end:
                raise CorruptionError("cell size is invalid", offset=BASE_BLOCK_SIZE + cell)
            cells.append((cell, csize, raw > 0))
            cell += csize
        return cells

    # --- bookkeeping --------------------------------------------------------------------------
    def snapshot(self) -> tuple:
        """Everything needed to undo later changes (the image itself included)."""
        return (bytes(self.buf), self.length, list(self.bin_starts), list(self.bin_ends),
                dict(self.free), dict(self.free_end), set(self.allocated), set(self.touched))

    def restore(self, state: tuple) -> None:
        """Return to a state taken by `snapshot`."""
        data, self.length, self.bin_starts, self.bin_ends, self.free, self.free_end, \
            self.allocated, self.touched = state
        self.buf[:] = data

    def _add_free(self, off: int, size: int) -> None:
        self.free[off] = size
        self.free_end[off + size] = off
        _I32.pack_into(self.buf, BASE_BLOCK_SIZE + off, size)

    def _drop_free(self, off: int) -> int:
        size = self.free.pop(off)
        del self.free_end[off + size]
        return size

    def bin_of(self, off: int) -> tuple[int, int]:
        """(start, end) of the bin holding cell offset `off`."""
        i = bisect.bisect_right(self.bin_starts, off) - 1
        if i < 0 or off >= self.bin_ends[i]:
            raise CorruptionError("cell offset outside the hive bins", offset=off)
        return self.bin_starts[i], self.bin_ends[i]

    def size(self, off: int) -> int:
        """Size of the allocated cell at `off` (CorruptionError if it is not one)."""
        if off not in self.allocated:
            raise CorruptionError("pointer to a cell that is not allocated", offset=off)
        return -_I32.unpack_from(self.buf, BASE_BLOCK_SIZE + off)[0]

    # --- allocation ---------------------------------------------------------------------------
    def alloc(self, payload: int, spare: int = 0) -> int:
        """A zero-filled allocated cell for `payload` bytes; returns its cell offset.

        `spare` extra bytes are added when a free cell (or new bin) can hold them, but never
        at the price of growing a hive that has room for the bare payload.
        """
        need = cell_size_for(payload + spare)
        best = self._best_fit(need)
        if best is None and spare:
            best = self._best_fit(cell_size_for(payload))
            if best is not None:
                need = cell_size_for(payload)
        if best is None:
            best = self._grow(need)
        size = self._drop_free(best)
        if size - need >= 8:
            self._add_free(best + need, size - need)
        else:
            need = size
        pos = BASE_BLOCK_SIZE + best
        self.buf[pos:pos + need] = bytes(need)
        _I32.pack_into(self.buf, pos, -need)
        self.allocated.add(best)
        self.touched.add(self.bin_of(best)[0])
        return best

    def _best_fit(self, need: int) -> int | None:
        best = None
        for off, size in self.free.items():
            if size >= need and (best is None or size < self.free[best]):
                best = off
                if size == need:
                    break
        return best

    def _grow(self, need: int) -> int:
        bin_size = (need + HBIN_HEADER_SIZE + BIN_ALIGN - 1) & ~(BIN_ALIGN - 1)
        start = self.length
        if start + bin_size > MAX_HIVE_BINS:
            raise CorruptionError("hive would exceed the 2 GiB limit of stable storage")
        end_pos = BASE_BLOCK_SIZE + start + bin_size
        if end_pos > len(self.buf):
            self.buf.extend(bytes(end_pos - len(self.buf)))
        pos = BASE_BLOCK_SIZE + start
        self.buf[pos:end_pos] = bytes(bin_size)   # slack may hold old bytes
        self.buf[pos:pos + 4] = b"hbin"
        struct.pack_into("<II", self.buf, pos + 4, start, bin_size)
        self.bin_starts.append(start)
        self.bin_ends.append(start + bin_size)
        self.length = start + bin_size
        _U32.pack_into(self.buf, BB_HIVE_BINS_DATA_SIZE, self.length)
        self._add_free(start + HBIN_HEADER_SIZE, bin_size - HBIN_HEADER_SIZE)
        return start + HBIN_HEADER_SIZE

    def free_cell(self, off: int) -> None:
        """Free an allocated cell, zero its payload and coalesce it with free neighbours."""
        size = self.size(off)
        self.allocated.remove(off)
        pos = BASE_BLOCK_SIZE + off
        self.buf[pos + 4:pos + size] = bytes(size - 4)
        start, end = self.bin_of(off)
        self.touched.add(start)
        nxt = off + size
        if nxt < end and nxt in self.free:
            size += self._drop_free(nxt)
            self.buf[BASE_BLOCK_SIZE + nxt:BASE_BLOCK_SIZE + nxt + 4] = bytes(4)
        prev = self.free_end.get(off)
        if prev is not None and off != start:
            psize = self._drop_free(prev)
            self.buf[pos:pos + 4] = bytes(4)
            off, size = prev, psize + size
        self._add_free(off, size)

    def consistent(self) -> bool:
        """True when the cells of every touched bin, re-read from the image, match the books."""
        for start in self.touched:
            _, end = self.bin_of(start)
            for cell, size, free in self.bin_cells(start, end):
                if (self.free.get(cell) != size) if free else (cell not in self.allocated or
                                                                cell in self.free):
                    return False
            listed = sum(1 for c in self.allocated if start <= c < end) + \
                sum(1 for c in self.free if start <= c < end)
            if listed != len(self.bin_cells(start, end)):
                return False
        return True

    def used_bytes(self) -> int:
        """Bytes of allocated cells (for deciding whether a compact rebuild can fit)."""
        return sum(-_I32.unpack_from(self.buf, BASE_BLOCK_SIZE + off)[0]
                   for off in self.allocated)
