"""Cells of a hive: the open-time hbin scan, the allocated-cell map and bounds-checked access.

One pass over the bins (like hivex's open and yarp's cell map) records every allocated cell; every
later dereference asks this map whether an offset is the start of an allocated cell big enough for
what is read from it.  Also derives fast `struct` readers from the construct declarations in
`layout.py`, so the hot records (nk, vk, lists) have one declaration and a cheap decoder.
"""

from __future__ import annotations

import array
import struct
import sys
from dataclasses import dataclass, field

import construct

from bcdtool.errors import CorruptionError
from bcdtool.regf import layout as L


class FastStruct:
    """A `struct.Struct` built from a fixed-size construct `Struct` (same fields, same order)."""

    def __init__(self, declaration: construct.Struct) -> None:
        fmt = "<"
        names: list[str] = []
        for sub in declaration.subcons:
            code, named = _field_code(sub)
            fmt += code
            if named:
                names.append(sub.name)
        self.struct = struct.Struct(fmt)
        self.names = tuple(names)
        self.size = self.struct.size
        self.unpack_from = self.struct.unpack_from
        if self.size != declaration.sizeof():
            raise AssertionError(f"fast reader of {declaration} has the wrong size")

    def index(self, name: str) -> int:
        """Position of field `name` in the tuples `unpack_from` returns."""
        return self.names.index(name)


def _field_code(sub: construct.Construct) -> tuple[str, bool]:
    inner = sub.subcon if isinstance(sub, construct.Renamed) else sub
    if isinstance(inner, construct.Const):
        inner = inner.subcon
    if isinstance(inner, construct.FormatField):
        return inner.fmtstr[1:], True
    if isinstance(inner, construct.Bytes) and isinstance(inner.length, int):
        return f"{inner.length}s", True
    if isinstance(inner, construct.Padded) and inner.subcon is construct.Pass:
        return f"{inner.length}x", False
    raise TypeError(f"no fast reader for field {sub!r}")


NK = FastStruct(L.KeyNode)
VK = FastStruct(L.KeyValue)
SK = FastStruct(L.KeySecurity)
DB = FastStruct(L.BigData)
HBIN = FastStruct(L.HbinHeader)
LIST_HEADER = FastStruct(L.ListHeader)


@dataclass
class CellMap:
    """Bins and cells of a hive image, found by walking the bins from offset 0 to Length."""

    data: bytes
    length: int
    bins: list[tuple[int, int]] = field(default_factory=list)
    #: Cell offset -> total cell size (header included), for allocated cells.
    allocated: dict[int, int] = field(default_factory=dict)
    #: Cell offset -> total cell size, for free cells.
    free: dict[int, int] = field(default_factory=dict)
    #: (offset, message) for every tiling problem; the scan stops at a broken bin.
    problems: list[tuple[int, str]] = field(default_factory=list)

    @classmethod
    def scan(cls, data: bytes, length: int) -> CellMap:
        """Walk every bin and cell of `data` (a whole hive image) up to hive bins data `length`."""
        cells = cls(data, length)
        cells._scan()
        return cells

    def _scan(self) -> None:
        data, length = self.data, self.length
        available = max(len(data) - L.BASE_BLOCK_SIZE, 0)
        if length > available:
            self.problems.append((available, f"the hive bins data ({length:#x} bytes) extends "
                                             f"beyond the end of the file ({available:#x})"))
        limit = min(length, available)
        # Cell sizes are read through an int32 array of the bins: much cheaper than unpack_from.
        sizes = array.array("i", data[L.BASE_BLOCK_SIZE:L.BASE_BLOCK_SIZE + limit // 4 * 4])
        if sys.byteorder == "big":
            sizes.byteswap()
        allocated, free = self.allocated, self.free
        pos = 0
        while pos < limit:
            if pos + L.HBIN_HEADER_SIZE > limit:
                self.problems.append((pos, "truncated hbin header"))
                return
            signature, offset, size = HBIN.unpack_from(data, L.BASE_BLOCK_SIZE + pos)[:3]
            if signature != b"hbin":
                self.problems.append((pos, "no 'hbin' signature where a bin must start"))
                return
            if offset != pos:
                self.problems.append((pos, f"hbin offset field is {offset:#x}, not its position"))
            if size < 4096 or size % 4096:
                self.problems.append((pos, f"hbin size {size:#x} is not a multiple of 4096"))
                return
            if pos + size > limit:
                self.problems.append((pos, f"hbin of {size:#x} bytes runs past the end of the "
                                           "hive bins data"))
                return
            self.bins.append((pos, size))
            end = pos + size
            cell = pos + L.HBIN_HEADER_SIZE
            while cell < end:
                raw = sizes[cell >> 2]
                cell_size = -raw if raw < 0 else raw
                if cell_size < 8 or cell_size & 7 or cell + cell_size > end:
                    self.problems.append((cell, f"cell size {raw} breaks the tiling of the bin "
                                                f"at {pos:#x}"))
                    break
                if raw < 0:
                    allocated[cell] = cell_size
                else:
                    free[cell] = cell_size
                cell += cell_size
            pos = end

    def size(self, offset: int, what: str) -> int:
        """Data bytes (cell size minus its header) of the allocated cell at `offset`."""
        cell_size = self.allocated.get(offset)
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
        cell_size = self.allocated.get(offset)
        if cell_size is None or cell_size - 4 < length:
            self.payload(offset, what, length)  # raises the precise error
        start = L.BASE_BLOCK_SIZE + offset + 4
        return self.data[start:start + length]

    def file_offset(self, offset: int) -> int:
        """File offset of the data of the cell at cell offset `offset`."""
        return L.BASE_BLOCK_SIZE + offset + 4
