"""Transaction logs as evidence (layer: regf): every entry, what it touched, and replayed copies.

`logs.recover` replays only what a dirty hive needs; an examiner wants all of it.  Here every
log beside a hive is listed with its base block and entries (new-format HvLE entries, or the
single dirty-page set of an old-format log), each entry is classified against the primary
(`applied`: its sequence number is older than the primary's, so the primary already holds a
later state; `pending`: the primary is dirty and the entry completes it), and `snapshots`
replays each log's entries one by one onto a private copy of the primary, so the caller can read
the hive as it was after each entry.  Which keys an entry touched is found from the cells that lie
in its dirty pages.  Nothing here writes anything; regf knows nothing of BCD.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from bcdtool.errors import BcdToolError
from bcdtool.log import get_logger
from bcdtool.regf.checksums import regf_checksum
from bcdtool.regf.hive import Hive, Key
from bcdtool.regf.layout_packed import (BASE_BLOCK_SIZE, BB_CHECKSUM, BB_FILE_TYPE,
                                        BB_HIVE_BINS_DATA_SIZE, BB_LAST_WRITTEN,
                                        BB_PRIMARY_SEQUENCE, BB_SECONDARY_SEQUENCE,
                                        CHECKSUM_COVERED, LOG_FILE_TYPE_NEW, LOG_FILE_TYPE_OLD)
from bcdtool.regf.logs import (HBIN_ALIGN, LOG_BASE_BLOCK_SIZE, MAX_HIVE_BINS_DATA, SECTOR,
                               _base_block_valid, _parse_new_log, _parse_old_log, _seq_later,
                               is_dirty)

log = get_logger(__name__)

_U32 = struct.Struct("<I")
#: Log entries replayed at most per report (real BCD logs hold a handful; each replay copies the
#: hive, so a hostile log of tiny entries must not cost time without end).
MAX_REPLAYED = 256


@dataclass(frozen=True)
class LogEntry:
    """One unit of a log: a new-format HvLE entry, or an old-format log's dirty-page set."""

    log: str
    index: int                     # 0-based position in its log
    format: str                    # "new" or "old"
    sequence: int
    hive_bins_data_size: int
    #: (hive-bins offset, length) of every dirty page range it carries.
    pages: tuple[tuple[int, int], ...]
    status: str                    # "applied" (older than the primary) or "pending"
    #: Where each page's bytes lie in the log file (same order as `pages`), for replays.
    sources: tuple[int, ...] = field(default=(), compare=False, repr=False)

    def label(self) -> str:
        """`BCD.LOG1 entry 2 (seq 12)`."""
        return f"{self.log} entry {self.index} (seq {self.sequence})"


@dataclass(frozen=True)
class LogFile:
    """A log file's base block and its entries (the valid prefix)."""

    name: str
    size: int
    valid: bool                    # base-block copy has signature and checksum right
    file_type: int | None
    primary_sequence: int | None
    secondary_sequence: int | None
    last_written: int | None       # FILETIME of the log's base-block copy
    entries: tuple[LogEntry, ...]
    stop_reason: str


def _u32(data: bytes, offset: int) -> int:
    return _U32.unpack_from(data[offset:offset + 4])[0]     # bytes or a logs.LogSource


def read_logs(primary: bytes, logs: list[tuple[str, bytes]], *,
              max_size: int | None = None) -> list[LogFile]:
    """Every log of `logs` ((name, bytes) pairs) parsed, in the given order (`max_size`: the
    cap of the hive they describe, base block included, as `logs.recover` takes it)."""
    floor = _u32(primary, BB_SECONDARY_SEQUENCE) if len(primary) >= 12 else 0
    dirty = is_dirty(primary)
    limit = size_limit(primary, logs, max_size)
    out = []
    for name, data in logs:
        if len(data) < LOG_BASE_BLOCK_SIZE or data[:4] != b"regf":
            out.append(LogFile(name, len(data), False, None, None, None, None, (),
                               "empty" if not data else "no regf base block"))
            continue
        valid = _base_block_valid(data)
        kind = _u32(data, BB_FILE_TYPE)
        head = (name, len(data), valid, kind, _u32(data, BB_PRIMARY_SEQUENCE),
                _u32(data, BB_SECONDARY_SEQUENCE), struct.unpack_from(
                    "<Q", data[BB_LAST_WRITTEN:BB_LAST_WRITTEN + 8])[0])
        entries: list[LogEntry] = []
        reason = "invalid base block" if not valid else ""
        if valid and kind == LOG_FILE_TYPE_NEW:
            parsed = _parse_new_log(name, data, limit)
            reason = parsed.stop_reason
            for index, entry in enumerate(parsed.entries):
                entries.append(LogEntry(name, index, "new", entry.sequence, entry.hive_size,
                                        tuple((o, n) for o, n, _ in entry.pages),
                                        _status(entry.sequence, floor, dirty),
                                        tuple(at for _, _, at in entry.pages)))
        elif valid and kind in LOG_FILE_TYPE_OLD:
            parsed_old = _parse_old_log(name, data, limit)
            if parsed_old is None:
                reason = "unusable old-format log"
            else:
                reason = "end of file"
                entries.append(LogEntry(name, 0, "old", parsed_old.sequence,
                                        parsed_old.hive_size,
                                        tuple((o, SECTOR) for o, _ in parsed_old.pages),
                                        _status(parsed_old.sequence, floor, dirty),
                                        tuple(at for _, at in parsed_old.pages)))
        elif valid:
            reason = f"file type {kind} is not a log"
        out.append(LogFile(*head, tuple(entries), reason))
    return out


def size_limit(primary: bytes, logs: list[tuple[str, bytes]], max_size: int | None = None
               ) -> int:
    """The largest hive-bins size an entry may claim: every byte beyond the primary's own must
    come from log pages (as `logs.recover` bounds it), so a replayed copy never outgrows its
    inputs, nor the hive's cap `max_size` (base block included) when given."""
    available = max(len(primary) - BASE_BLOCK_SIZE, 0) + sum(len(d) for _, d in logs)
    limit = min(MAX_HIVE_BINS_DATA, -(-available // HBIN_ALIGN) * HBIN_ALIGN)
    return limit if max_size is None else min(limit, max(0, max_size - BASE_BLOCK_SIZE))


def _status(sequence: int, floor: int, dirty: bool) -> str:
    return "pending" if dirty and _seq_later(sequence, floor) >= 0 else "applied"


@dataclass(frozen=True)
class Snapshot:
    """The hive as it reads after replaying a log's entries up to `entry` onto the primary."""

    entry: LogEntry
    image: bytes


def snapshots(primary: bytes, logs: list[tuple[str, bytes]],
              files: list[LogFile] | None = None, *,
              max_size: int | None = None) -> Iterator[Snapshot]:
    """The primary with log entries replayed one by one, each result a new copy.

    Entries are replayed in chains: a log whose first entry continues another log's last
    sequence number carries on from that log's state (a dirty hive's .LOG1 then .LOG2, as
    Windows replays them); any other log starts again from the primary, so unrelated (stale)
    logs never mix.  Each copy's base block is made clean (both sequence numbers set to the
    entry's, its hive size, a correct checksum) so that it opens like a primary; nothing is
    written anywhere.  `files` is `read_logs(primary, logs, max_size=max_size)` when the
    caller has it already (parsing a log checks every page's hash: seconds for a large one).
    """
    data_of = dict(logs)
    replayed = 0
    files = read_logs(primary, logs, max_size=max_size) if files is None else files
    for chain in _chains([lf for lf in files if lf.entries]):
        image = bytearray(primary)
        for lf in chain:
            raw = data_of[lf.name]
            for entry in lf.entries:
                replayed += 1
                if replayed > MAX_REPLAYED:
                    log.warning("more than %d log entries; the rest are not replayed",
                                MAX_REPLAYED)
                    return
                need = BASE_BLOCK_SIZE + entry.hive_bins_data_size
                if len(image) < need:
                    image.extend(bytes(need - len(image)))
                # one read of the entry's pages (a log read on demand pays per read)
                first = min(entry.sources)
                body = raw[first:max(at + n for (_, n), at in zip(entry.pages, entry.sources,
                                                                   strict=True))]
                for (offset, length), at in zip(entry.pages, entry.sources, strict=True):
                    start = BASE_BLOCK_SIZE + offset
                    image[start:start + length] = body[at - first:at - first + length]
                _clean_base_block(image, entry.sequence, entry.hive_bins_data_size)
                yield Snapshot(entry, bytes(image))


def _chains(files: list[LogFile]) -> list[list[LogFile]]:
    """Logs grouped into replay chains (consecutive sequence numbers), in file order."""
    chains: list[list[LogFile]] = []
    for lf in sorted(files, key=lambda f: f.entries[0].sequence):
        first = lf.entries[0].sequence
        for chain in chains:
            if (chain[-1].entries[-1].sequence + 1) & 0xFFFFFFFF == first:
                chain.append(lf)
                break
        else:
            chains.append([lf])
    return chains


def _clean_base_block(image: bytearray, sequence: int, hive_size: int) -> None:
    struct.pack_into("<I", image, BB_PRIMARY_SEQUENCE, sequence)
    struct.pack_into("<I", image, BB_SECONDARY_SEQUENCE, sequence)
    struct.pack_into("<I", image, BB_FILE_TYPE, 0)
    struct.pack_into("<I", image, BB_HIVE_BINS_DATA_SIZE, hive_size)
    struct.pack_into("<I", image, BB_CHECKSUM, regf_checksum(bytes(image[:CHECKSUM_COVERED])))


def open_snapshot(snapshot: Snapshot, name: str) -> Hive | None:
    """The snapshot as a hive (tolerating tiling problems), or None when it does not parse."""
    try:
        return Hive(snapshot.image, original=snapshot.image,
                    name=f"{name} after {snapshot.entry.label()}", strict=False)
    except BcdToolError as exc:
        log.info("%s after %s does not parse: %s", name, snapshot.entry.label(), exc)
        return None


# --- which keys an entry touched --------------------------------------------------------------

def cell_owners(hive: Hive) -> list[tuple[int, int, str]]:
    """(cell offset, cell size, key path) of every cell reachable from the root, sorted.

    A key owns its nk, subkey-index, value-list, vk, value-data and class cells; damaged parts
    are skipped (the examiner still gets the rest).
    """
    owners: dict[int, str] = {}
    try:
        keys = list(hive.walk())
    except BcdToolError:
        keys = [hive.root]
    for key in keys:
        for offset in _key_cells(hive, key):
            owners.setdefault(offset, key.path)
    sizes = hive.cells.allocated
    return sorted((off, sizes[off], path) for off, path in owners.items() if off in sizes)


def _key_cells(hive: Hive, key: Key) -> list[int]:
    cells = [key.offset]
    fields = key.fields
    for name in ("subkeys_list_offset", "key_values_list_offset", "class_name_offset"):
        cells.append(fields[name])
    try:
        for leaf, _, _, _ in hive._leaves(key):
            cells.append(leaf)
        for value in key.values():
            cells.append(value.offset)
            if not value.inline and value.size:
                cells.append(value.data_offset)
    except BcdToolError:
        pass
    return cells


def touched(owners: list[tuple[int, int, str]], pages: tuple[tuple[int, int], ...]) -> list[str]:
    """Sorted key paths whose cells overlap any of the page ranges (hive-bins offsets).

    `owners` is sorted by offset and cells never overlap, so the cells meeting a range are
    consecutive: found by bisection, not by a scan of every cell per page.
    """
    starts = [cell for cell, _, _ in owners]
    found: set[str] = set()
    for offset, length in pages:
        end = offset + length
        index = max(bisect.bisect_right(starts, offset) - 1, 0)
        while index < len(owners) and owners[index][0] < end:
            cell, size, path = owners[index]
            if cell + size > offset:
                found.add(path)
            index += 1
    return sorted(found)
