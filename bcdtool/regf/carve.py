"""Deleted keys and values carved from free cells and slack (layer: regf, read-only).

Windows (and hivex) mark a deleted key's cells free without wiping them, and coalesce them with
their neighbours, so old `nk` and `vk` records survive inside free cells until the space is
reused.  `carve` looks at every 8-byte cell boundary inside free space for a plausible record,
rebuilds what it can (a key's name, last-write time, parent, values through its value list),
and lists bytes left behind in the unused tail of allocated value-data cells (slack: an element
overwritten by a shorter value).  Everything returned is marked recovered: it is what the bytes
say, not live data, and may be partly overwritten.  bcdtool's own editor zeroes freed cells, so
its deletions leave nothing here.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field

from bcdtool.errors import BcdToolError
from bcdtool.regf.cells import NK, VK
from bcdtool.regf.hive import Hive
from bcdtool.regf.layout_packed import (BASE_BLOCK_SIZE, DATA_INLINE, KEY_COMP_NAME, NIL,
                                        NK_FIXED_SIZE, VALUE_COMP_NAME, VK_FIXED_SIZE)
from bcdtool.regf.values import decode_value, type_name
from bcdtool.wintext import filetime_to_datetime

#: A recovered value's data is read only up to this size (BCD elements are far smaller).
MAX_DATA = 64 * 1024
#: Records carved from one hive, and bytes of recovered data kept in all: more than a real
#: store leaves (bcdtool caps a live store at 8192 objects+elements and 1 MiB of element data),
#: and what bounds memory and the report when free space is crafted full of records (thousands
#: of values sharing one 64 KiB data cell were gigabytes).  Past them carving says so.
MAX_RECORDS = 20_000
MAX_CARVED_DATA = 2 * 1024 * 1024
#: Recovered parents followed to build a deleted key's path (BCD paths are 4 deep).
MAX_DEPTH = 64
#: Shortest unused tail of a value-data cell reported as slack (shorter ones are rounding).
MIN_SLACK = 8
#: Windows' limits: key names up to 255 characters, value names up to 16383.
MAX_KEY_NAME = 512
MAX_VALUE_NAME = 32766
#: Plausible FILETIMEs: 1990 to 2100 (a random "nk" inside old data fails this).
_FILETIME_MIN = 0x01A8E79FE1D58000
_FILETIME_MAX = 0x0234A3B6E5D40000
_NK_FLAGS = NK.index("flags")
_NK_STAMP = NK.index("last_written_timestamp")
_NK_PARENT = NK.index("parent")
_NK_NSUB = NK.index("number_of_subkeys")
_NK_NVAL = NK.index("number_of_key_values")
_NK_VALLIST = NK.index("key_values_list_offset")
_NK_NAMELEN = NK.index("key_name_length")
_VK_NAMELEN = VK.index("name_length")
_VK_SIZE = VK.index("data_size")
_VK_OFFSET = VK.index("data_offset")
_VK_TYPE = VK.index("data_type")
_VK_FLAGS = VK.index("flags")


@dataclass(frozen=True)
class RecoveredValue:
    """A `vk` record found in free space (or reached from a recovered key)."""

    offset: int
    name: str
    type: int
    data: bytes | None             # None when the data cannot be read back
    data_note: str = ""

    @property
    def type_name(self) -> str:
        """`REG_SZ`-style name of the type."""
        return type_name(self.type)

    def decoded(self):
        """The data decoded by type, or None."""
        if self.data is None:
            return None
        try:
            return decode_value(self.type, self.data)
        except (BcdToolError, ValueError, UnicodeDecodeError):
            return None


@dataclass(frozen=True)
class RecoveredKey:
    """An `nk` record found in free space, with the values its value list still reaches."""

    offset: int
    name: str
    filetime: int
    parent_offset: int
    path: str                      # best reconstruction: live parent path + recovered names
    parent_live: bool              # True when the parent is a live key
    values: tuple[RecoveredValue, ...] = ()
    #: True when `values` were matched by position (the key's own value list was cleared, as
    #: hivex does before freeing), not reached through its value list.
    values_by_position: bool = False

    @property
    def timestamp(self):
        """Last-written time as an aware datetime (None when out of range)."""
        return filetime_to_datetime(self.filetime)


@dataclass(frozen=True)
class Slack:
    """Non-zero bytes after the end of a live value's data inside its cell."""

    cell: int
    key: str
    value: str
    data: bytes


@dataclass
class Carved:
    """Everything recovered from one hive image."""

    keys: list[RecoveredKey] = field(default_factory=list)
    values: list[RecoveredValue] = field(default_factory=list)   # not reached from a key
    slack: list[Slack] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)               # where carving held back


class _Budget:
    """What carving may still keep: records, and bytes of recovered data."""

    def __init__(self) -> None:
        self.records = MAX_RECORDS
        self.data = MAX_CARVED_DATA
        self.notes: list[str] = []

    def take_record(self) -> bool:
        self.records -= 1
        if self.records == -1:
            self.notes.append(f"carving stopped after {MAX_RECORDS} records: the free space "
                              "holds more nk/vk records than any store Windows writes leaves "
                              "(crafted?); examine the file with a registry carver")
        return self.records >= 0

    def take_data(self, size: int) -> bool:
        if size > self.data:
            if self.data >= 0:
                self.notes.append(f"recovered data past {MAX_CARVED_DATA} bytes in all is not "
                                  "read (values show no data)")
                self.data = -1
            return False
        self.data -= size
        return True


def carve(hive: Hive) -> Carved:
    """Deleted keys and values in free cells, and slack of live value-data cells, of `hive`."""
    data = hive.data
    regions = sorted(hive.cells.free.items())
    nks: dict[int, tuple] = {}
    vks: dict[int, RecoveredValue] = {}
    budget = _Budget()
    for start, size in regions:
        end = start + size
        for cell in range(start, end - 8, 8):
            sig = data[BASE_BLOCK_SIZE + cell + 4:BASE_BLOCK_SIZE + cell + 6]
            if sig == b"nk":
                found = _nk_at(hive, cell, end)
                if found is not None and budget.take_record():
                    nks[cell] = found
            elif sig == b"vk":
                value = _vk_at(hive, cell, end, budget)
                if value is not None and budget.take_record():
                    vks[cell] = value
            if budget.records < 0:
                break
        if budget.records < 0:
            break
    live = _live_paths(hive)
    listed: dict[int, list[RecoveredValue]] = {}
    reached: set[int] = set()
    for offset in sorted(nks):
        listed[offset] = []
        for voff in _value_list(hive, nks[offset][0]):
            value = vks.get(voff) or (_vk_at(hive, voff, None, budget)
                                      if budget.take_record() else None)
            if value is not None:
                listed[offset].append(value)
                reached.add(voff)
    adopted = _adopt_by_position(nks, {o: v for o, v in vks.items() if o not in reached},
                                 sorted(hive.cells.allocated))
    out = Carved()
    for offset in sorted(nks):
        fields, name = nks[offset]
        path, parent_live = _path(offset, nks, live)
        by_position = not listed[offset] and bool(adopted.get(offset))
        values = adopted.get(offset, []) if by_position else listed[offset]
        reached.update(v.offset for v in values)
        out.keys.append(RecoveredKey(offset, name, fields[_NK_STAMP], fields[_NK_PARENT], path,
                                     parent_live, tuple(values), by_position))
    out.values = [v for off, v in sorted(vks.items()) if off not in reached]
    out.slack = _slack(hive, budget)
    out.notes = budget.notes
    return out


def _adopt_by_position(nks: dict, orphans: dict[int, RecoveredValue],
                       allocated: list[int]) -> dict[int, list[RecoveredValue]]:
    """Orphan values given to the nearest recovered key before them when only free space lies
    between the two (allocators place a key's values right after it)."""
    adopted: dict[int, list[RecoveredValue]] = {}
    keys = sorted(nks)
    for voff, value in sorted(orphans.items()):
        at = bisect.bisect_left(keys, voff)
        if at == 0:
            continue
        owner = keys[at - 1]
        live_between = bisect.bisect_right(allocated, owner) < bisect.bisect_left(allocated, voff)
        if not live_between:
            adopted.setdefault(owner, []).append(value)
    return adopted


def _in_bins(hive: Hive, offset: int, length: int) -> bool:
    return 0 <= offset and offset + length <= hive.cells.length and \
        BASE_BLOCK_SIZE + offset + length <= len(hive.data)


def _nk_at(hive: Hive, cell: int, region_end: int | None) -> tuple[tuple, str] | None:
    """The nk record whose cell starts at `cell`, if its fields are plausible."""
    if not _in_bins(hive, cell + 4, NK_FIXED_SIZE):
        return None
    fields = NK.unpack_from(hive.data, BASE_BLOCK_SIZE + cell + 4)
    length = fields[_NK_NAMELEN]
    end = cell + 4 + NK_FIXED_SIZE + length
    if fields[0] != b"nk" or not 0 < length <= MAX_KEY_NAME or not _in_bins(hive, cell, end - cell):
        return None
    if region_end is not None and end > region_end:
        return None
    if not _FILETIME_MIN <= fields[_NK_STAMP] <= _FILETIME_MAX:
        return None
    raw = hive.data[BASE_BLOCK_SIZE + cell + 4 + NK_FIXED_SIZE:BASE_BLOCK_SIZE + end]
    name = _name(raw, fields[_NK_FLAGS] & KEY_COMP_NAME)
    if name is None:
        return None
    return fields, name


def _name(raw: bytes, compressed: int) -> str | None:
    if compressed:
        text = raw.decode("latin-1")
    elif len(raw) % 2:
        return None
    else:
        try:
            text = raw.decode("utf-16-le")
        except UnicodeDecodeError:
            return None
    if not text.isprintable() or "\\" in text:
        return None
    return text


def _vk_at(hive: Hive, cell: int, region_end: int | None, budget: _Budget
           ) -> RecoveredValue | None:
    """The vk record whose cell starts at `cell`, with its data if it can be read back."""
    if not _in_bins(hive, cell + 4, VK_FIXED_SIZE):
        return None
    fields = VK.unpack_from(hive.data, BASE_BLOCK_SIZE + cell + 4)
    length = fields[_VK_NAMELEN]
    end = cell + 4 + VK_FIXED_SIZE + length
    if fields[0] != b"vk" or length > MAX_VALUE_NAME or not _in_bins(hive, cell, end - cell):
        return None
    if region_end is not None and end > region_end:
        return None
    raw = hive.data[BASE_BLOCK_SIZE + cell + 4 + VK_FIXED_SIZE:BASE_BLOCK_SIZE + end]
    name = _name(raw, fields[_VK_FLAGS] & VALUE_COMP_NAME) if length else ""
    if name is None:
        return None
    data, note = _vk_data(hive, fields)
    if data is not None and not budget.take_data(len(data)):
        data, note = None, "not read: the carved-data budget is spent"
    return RecoveredValue(cell, name, fields[_VK_TYPE], data, note)


def _vk_data(hive: Hive, fields: tuple) -> tuple[bytes | None, str]:
    size_field, offset = fields[_VK_SIZE], fields[_VK_OFFSET]
    size = size_field & 0x7FFFFFFF
    if size_field & DATA_INLINE:
        return (offset.to_bytes(4, "little")[:size], "inline") if size <= 4 else \
            (None, "implausible inline size")
    if size == 0:
        return b"", ""
    if size > MAX_DATA or offset == NIL or not _in_bins(hive, offset, 4 + size):
        return None, "data out of range"
    raw_size = struct.unpack_from("<i", hive.data, BASE_BLOCK_SIZE + offset)[0]
    if abs(raw_size) < 4 + size:
        return None, "data cell too small (reused)"
    state = "data cell now allocated to something else" if raw_size < 0 and \
        offset not in hive.cells.allocated else ("data cell still allocated (may be reused)"
                                                 if raw_size < 0 else "data cell free")
    start = BASE_BLOCK_SIZE + offset + 4
    return hive.data[start:start + size], state


def _value_list(hive: Hive, fields: tuple) -> list[int]:
    count, offset = fields[_NK_NVAL], fields[_NK_VALLIST]
    if count == 0 or count > 4096 or offset == NIL or not _in_bins(hive, offset + 4, 4 * count):
        return []
    return list(struct.unpack_from(f"<{count}I", hive.data, BASE_BLOCK_SIZE + offset + 4))


def _live_paths(hive: Hive) -> dict[int, str]:
    try:
        return {key.offset: key.path for key in hive.walk()}
    except BcdToolError:
        return {hive.root.offset: ""}


def _path(offset: int, nks: dict, live: dict[int, str]) -> tuple[str, bool]:
    """`live\\path\\recovered\\name` following parent offsets (cycle- and depth-bounded)."""
    parts = []
    current, seen = offset, set()
    while current in nks and current not in seen and len(parts) < MAX_DEPTH:
        seen.add(current)
        fields, name = nks[current]
        parts.append(name)
        current = fields[_NK_PARENT]
    if current in live:
        base = live[current]
        return "\\".join(p for p in [base, *reversed(parts)] if p), len(parts) == 1
    return "?\\" + "\\".join(reversed(parts)), False


def _slack(hive: Hive, budget: _Budget) -> list[Slack]:
    """Non-zero tails of live value-data cells (bytes an earlier, longer value left)."""
    out = []
    try:
        keys = list(hive.walk())
    except BcdToolError:
        return out
    for key in keys:
        try:
            values = key.values()
        except BcdToolError:
            continue
        for value in values:
            if value.inline or value.size == 0 or hive.is_big_data(value.size):
                continue
            cell = value.data_offset
            size = hive.cells.allocated.get(cell)
            if size is None:
                continue
            start = BASE_BLOCK_SIZE + cell + 4 + value.size
            tail = hive.data[start:BASE_BLOCK_SIZE + cell + size]
            # Under 8 bytes is the cell's rounding to 8; a longer tail means the cell once held
            # longer data (Windows reuses a value's data cell when the new data fits).
            if len(tail) >= MIN_SLACK and tail.strip(b"\0") and budget.take_record() \
                    and budget.take_data(len(tail)):
                out.append(Slack(cell, key.path, value.name, bytes(tail)))
    return out
