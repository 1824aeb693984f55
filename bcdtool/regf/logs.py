"""Transaction-log recovery of dirty hives, in memory (layer: regf).

Replays `NAME.LOG` / `NAME.LOG1` / `NAME.LOG2` the way Windows does (regf.md §9): the old format
(base block + DIRT dirty vector + 512-byte pages, matched by timestamp) and the new format (HvLE
entries with Marvin32 hashes and consecutive sequence numbers).  Nothing here touches the disk:
`recover` takes bytes and returns a new image, or raises DirtyHiveError where recovery is
impossible or doubtful.  References: Suhanov's regf specification ("Transaction log files",
"Dirty state"); yarp `RegistryFile.py` (`apply_new_log_files`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import struct
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from bcdtool.errors import DirtyHiveError, FormatError, LimitError
from bcdtool.limits import LOG_ENTRY_BYTES_PER_HIVE, MAX_HIVE_BYTES
from bcdtool.log import get_logger
from bcdtool.regf.checksums import marvin32, regf_checksum
from bcdtool.regf.layout_packed import (BASE_BLOCK_SIZE, BB_CHECKSUM, BB_FILE_TYPE,
                                        BB_HIVE_BINS_DATA_SIZE, BB_LAST_WRITTEN,
                                        BB_PRIMARY_SEQUENCE, BB_SECONDARY_SEQUENCE,
                                        CHECKSUM_COVERED, HBIN_HEADER_SIZE, LOG_ENTRY_HEADER_SIZE,
                                        LOG_FILE_TYPE_NEW, LOG_FILE_TYPE_OLD, DirtyPageReference,
                                        DirtyVectorHeader, HbinHeader, LogEntryHeader)

log = get_logger(__name__)

#: Size of the base-block copy at the start of a log file (512 x clustering factor 1).
LOG_BASE_BLOCK_SIZE = 512
#: Granularity of dirty pages in both log formats.
SECTOR = 512
HBIN_ALIGN = 4096
#: Bit 31 of a cell offset means volatile storage, so stable hive data never exceeds 2 GiB;
#: bcdtool's own cap (limits.MAX_HIVE_BYTES) is lower still and bounds any replayed image.
MAX_HIVE_BINS_DATA = min(0x80000000 - HBIN_ALIGN, MAX_HIVE_BYTES)
LOG_SUFFIXES = (".LOG", ".LOG1", ".LOG2")
BB_FLAGS = 144
#: Only bit 0 of the base-block flags (KTM pending) is carried by log entries.
FLAG_KTM = 0x1

_U32 = struct.Struct("<I")
_PAGE_REF = struct.Struct("<II")
assert _PAGE_REF.size == DirtyPageReference.sizeof()


class AppliedEntry(NamedTuple):
    """One unit of log data replayed: a new-format entry, or a whole old-format log."""

    log: str
    sequence: int
    pages: int
    hive_bins_data_size: int


class Recovery(NamedTuple):
    """The recovered hive image, what was replayed from which logs, and notes for the user."""

    data: bytes
    applied: tuple[AppliedEntry, ...]
    used_logs: tuple[str, ...]
    notices: tuple[str, ...] = ()

    @property
    def sequence(self) -> int:
        """The (equal) sequence numbers of the recovered base block."""
        return _U32.unpack_from(self.data, BB_PRIMARY_SEQUENCE)[0]


# --- base blocks ---------------------------------------------------------------------------

class LogSource:
    """A transaction log read on demand: `size` bytes behind `read(offset, length)`.  Slicing
    reads only the bytes asked for, so a replay holds one entry (or page) of a log at a time and
    never reads what follows its last valid entry (a sparse log's zeros up to the size cap)."""

    def __init__(self, size: int, read: Callable[[int, int], bytes]) -> None:
        self.size = size
        self._read = read

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: slice) -> bytes:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("a log source is read by contiguous slices only")
        start, stop, _ = key.indices(self.size)
        return self._read(start, stop - start) if stop > start else b""


#: A log as given to `recover`: all its bytes, or a source read on demand.
LogData = bytes | LogSource


def _u32(data: bytes | bytearray | LogSource, offset: int) -> int:
    return _U32.unpack_from(data[offset:offset + 4])[0]


def _u64(data: bytes | bytearray | LogSource, offset: int) -> int:
    return struct.unpack_from("<Q", data[offset:offset + 8])[0]


def _same(a: LogData, b: LogData, chunk: int = 1 << 20) -> bool:
    """Equal contents, compared a chunk at a time."""
    return len(a) == len(b) and all(a[i:i + chunk] == b[i:i + chunk]
                                    for i in range(0, len(a), chunk))


def _base_block_valid(data: bytes | bytearray | LogSource) -> bool:
    """Signature and checksum of the first 512 bytes are right."""
    return (len(data) >= LOG_BASE_BLOCK_SIZE and data[:4] == b"regf"
            and regf_checksum(data[:CHECKSUM_COVERED]) == _u32(data, BB_CHECKSUM))


def is_dirty(data: bytes | bytearray | memoryview) -> bool:
    """True when a primary hive needs log recovery: bad checksum or Sequence1 != Sequence2."""
    head = bytes(data[:LOG_BASE_BLOCK_SIZE])
    if len(head) < LOG_BASE_BLOCK_SIZE or head[:4] != b"regf":
        raise FormatError("not a registry hive (no 'regf' base block)")
    if not _base_block_valid(head):
        return True
    return _u32(head, BB_PRIMARY_SEQUENCE) != _u32(head, BB_SECONDARY_SEQUENCE)


def _seq_later(a: int, b: int) -> int:
    """Signed distance a - b with 32-bit wrap-around (positive: a is later)."""
    delta = (a - b) & 0xFFFFFFFF
    return delta - 0x100000000 if delta >= 0x80000000 else delta


# --- log files beside a hive ----------------------------------------------------------------

def find_log_files(path: str | Path) -> list[Path]:
    """`NAME.LOG`, `NAME.LOG1`, `NAME.LOG2` beside `path`, matched case-insensitively, in order."""
    hive = Path(path)
    folder = hive.parent if str(hive.parent) else Path(".")
    wanted = {(hive.name + suffix).upper(): rank for rank, suffix in enumerate(LOG_SUFFIXES)}
    found: dict[int, Path] = {}
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    for entry in entries:
        rank = wanted.get(entry.name.upper())
        if rank is not None and rank not in found and entry.is_file():
            found[rank] = entry
    return [found[rank] for rank in sorted(found)]


def read_log_files(path: str | Path, *, max_size: int = MAX_HIVE_BYTES) -> list[tuple[str, bytes]]:
    """The logs beside `path` as `(name, bytes)`; LimitError for one declaring more than
    `max_size` bytes (checked with fstat before anything is read)."""
    logs = []
    for log_path in find_log_files(path):
        try:
            # Non-blocking, then fstat: a FIFO or device swapped in is refused, not waited on.
            fd = os.open(log_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            with open(fd, "rb") as handle:
                info = os.fstat(handle.fileno())
                if not stat.S_ISREG(info.st_mode):
                    raise DirtyHiveError("a transaction log is not a regular file (a FIFO or "
                                         "device); move it aside", path=str(log_path))
                size = info.st_size
                if size > max_size:
                    raise LimitError(f"transaction log of {size} bytes is over bcdtool's cap of "
                                     f"{max_size}; nothing was read; move it aside if the hive "
                                     "is clean", path=str(log_path))
                # read(n) allocates n bytes before reading: ask for what fstat saw, not the cap
                data = handle.read(size + 1)
        except OSError as exc:
            raise DirtyHiveError(f"cannot read a transaction log: {exc.strerror}",
                                 path=str(log_path)) from None
        if len(data) > size:
            raise LimitError("transaction log grew while it was read; run again when nothing "
                             "writes to it", path=str(log_path))
        logs.append((log_path.name, data))
    return logs


# --- parsed logs ----------------------------------------------------------------------------

class _Entry(NamedTuple):
    sequence: int
    flags: int
    hive_size: int
    pages: tuple[tuple[int, int, int], ...]  # (hive-bins offset, size, offset in the log file)
    at: int = 0                              # where the entry starts in the log file
    size: int = 0                            # its size there
    hashes: tuple[int, int] = (0, 0)         # its (hash_1, hash_2), checked when parsed


class _NewLog(NamedTuple):
    name: str
    data: LogData
    sequence: int
    entries: list[_Entry]
    stop_reason: str
    base: bytes = b""           # the base-block copy as it was checked (one read)


class _OldLog(NamedTuple):
    name: str
    data: LogData
    sequence: int
    timestamp: int
    hive_size: int
    pages: list[tuple[int, int]]  # (hive-bins offset, offset in the log file)
    base: bytes = b""             # the base-block copy as it was checked (one read)


def _log_header_kind(name: str, data: LogData) -> int | None:
    """File type of a usable log (valid, clean base-block copy), else None (logged)."""
    if len(data) < LOG_BASE_BLOCK_SIZE:
        if data:
            log.info("%s: too short to be a transaction log", name)
        return None
    if not _base_block_valid(data):
        log.info("%s: invalid base block (signature or checksum), ignored", name)
        return None
    if _u32(data, BB_PRIMARY_SEQUENCE) != _u32(data, BB_SECONDARY_SEQUENCE):
        log.info("%s: base block copy is itself dirty, ignored", name)
        return None
    kind = _u32(data, BB_FILE_TYPE)
    if kind not in LOG_FILE_TYPE_OLD and kind != LOG_FILE_TYPE_NEW:
        log.info("%s: file type %d is not a log, ignored", name, kind)
        return None
    return kind


def _parse_new_log(name: str, data: LogData, size_limit: int,
                   head: bytes | None = None) -> _NewLog:
    """The valid prefix of HvLE entries, consecutive from the log's base-block sequence
    (`head`: the base-block copy already read and checked).  Entries past
    `LOG_ENTRY_BYTES_PER_HIVE` times `size_limit` bytes end the prefix: every byte of an entry is
    hashed before it counts, and no hive that small needs more log than that."""
    head = bytes(data[:LOG_BASE_BLOCK_SIZE]) if head is None else head
    expected = _u32(head, BB_PRIMARY_SEQUENCE)
    entries: list[_Entry] = []
    pos = LOG_BASE_BLOCK_SIZE
    budget = LOG_BASE_BLOCK_SIZE + LOG_ENTRY_BYTES_PER_HIVE * size_limit
    reason = "end of file"
    while pos + LOG_ENTRY_HEADER_SIZE <= len(data):
        entry, reason = _parse_entry(data, pos, expected, size_limit, budget)
        if entry is None:
            break
        entries.append(entry)
        pos += entry.size
        expected = (expected + 1) & 0xFFFFFFFF
    return _NewLog(name, data, _u32(head, BB_PRIMARY_SEQUENCE), entries, reason, head)


def used_length(name: str, data: LogData, size_limit: int = MAX_HIVE_BINS_DATA) -> int:
    """How many bytes at the start of a log a replay (or `history`) can use: the base block and
    the valid entries of a new-format log, the base block, dirty vector and pages of an old
    one; nothing after them is ever read.  `size_limit`: the largest hive-bins size an entry
    may claim (see `_parse_new_log`)."""
    kind = _log_header_kind(name, data)
    if kind == LOG_FILE_TYPE_NEW:
        entries = _parse_new_log(name, data, size_limit).entries
        return entries[-1].at + entries[-1].size if entries else LOG_BASE_BLOCK_SIZE
    old = _parse_old_log(name, data, size_limit) if kind is not None else None
    if old is None:
        return min(len(data), LOG_BASE_BLOCK_SIZE)
    return max([LOG_BASE_BLOCK_SIZE + 4 + old.hive_size // HBIN_ALIGN]
               + [at + SECTOR for _, at in old.pages])


def _parse_entry(data: LogData, pos: int, expected: int, size_limit: int,
                 budget: int) -> tuple[_Entry | None, str]:
    """One HvLE entry at `pos`, or (None, why it ends the valid prefix).  The cheap checks
    (sizes, sequence number, page references) come before the hashes, which cost a pass of
    Marvin32 over the whole entry: a hostile log is refused at its first break, as Windows
    stops there, before any of its bytes are hashed."""
    if data[pos:pos + 4] != b"HvLE":
        return None, "no further entry"
    head = LogEntryHeader.parse(data, offset=pos, what="log entry")
    size, count, hive_size = head.size, head.dirty_pages_count, head.hive_bins_data_size
    if size < SECTOR or size % SECTOR or pos + size > len(data):
        return None, f"entry at {pos:#x} has an invalid or truncated size {size:#x}"
    if hive_size < HBIN_ALIGN or hive_size % HBIN_ALIGN or hive_size > size_limit:
        return None, f"entry at {pos:#x} has an implausible hive size {hive_size:#x}"
    if count == 0 or LOG_ENTRY_HEADER_SIZE + 8 * count > size:
        return None, f"entry at {pos:#x} has an invalid page count {count}"
    if head.sequence_number != expected:
        return None, (f"entry at {pos:#x} has sequence {head.sequence_number}, "
                      f"expected {expected}")
    if pos + size > budget:
        return None, (f"entry at {pos:#x} lies past {budget - LOG_BASE_BLOCK_SIZE} bytes of "
                      "entries, more than a hive of this size needs (bcdtool's cap); later "
                      "entries are not checked")
    entry = data[pos:pos + size]         # one read: what is checked is what is hashed
    pages = []
    page_pos = pos + LOG_ENTRY_HEADER_SIZE + 8 * count
    for index in range(count):
        offset, length = _PAGE_REF.unpack_from(entry, LOG_ENTRY_HEADER_SIZE + 8 * index)
        if (length == 0 or length % SECTOR or offset % SECTOR or offset + length > hive_size
                or page_pos + length > pos + size):
            return None, f"entry at {pos:#x} has an out-of-bounds page reference {index}"
        pages.append((offset, length, page_pos))
        page_pos += length
    if not _hashes_match(entry, head.hash_1, head.hash_2):
        return None, f"entry at {pos:#x} fails its hash check"
    return _Entry(head.sequence_number, head.flags, hive_size, tuple(pages), pos, size,
                  (head.hash_1, head.hash_2)), ""


#: Entries whose two hashes were found right, by a BLAKE2 digest of all their bytes (hashes
#: included).  One run reads a log several times (`used_length`, `history`, `recover`, the
#: re-check before a replay) and Marvin32 in Python costs ~0.15 s per MiB, a digest ~1/300 of
#: that; equal digests mean equal bytes, so a log changed in between is checked again.
_VERIFIED: OrderedDict[bytes, None] = OrderedDict()
#: Digests remembered (32 bytes each; the oldest are forgotten first).
_VERIFIED_MAX = 65536


def _hashes_match(entry: bytes | memoryview, hash_1: int, hash_2: int) -> bool:
    """True when `entry`'s Marvin32 hashes are `hash_1` (its pages) and `hash_2` (its first
    32 bytes), computed at most once per distinct entry in this process."""
    key = hashlib.blake2b(entry, digest_size=32).digest()
    if key in _VERIFIED:
        _VERIFIED.move_to_end(key)
        return True
    if marvin32(memoryview(entry)[:32]) != hash_2 or \
            marvin32(memoryview(entry)[LOG_ENTRY_HEADER_SIZE:]) != hash_1:
        return False
    _VERIFIED[key] = None
    if len(_VERIFIED) > _VERIFIED_MAX:
        _VERIFIED.popitem(last=False)
    return True


def _parse_old_log(name: str, data: LogData, size_limit: int,
                   head: bytes | None = None) -> _OldLog | None:
    """Base block, DIRT bitmap and page list of an old-format log, or None if unusable
    (`head`: the base-block copy already read and checked)."""
    head = bytes(data[:LOG_BASE_BLOCK_SIZE]) if head is None else head
    hive_size = _u32(head, BB_HIVE_BINS_DATA_SIZE)
    if hive_size < HBIN_ALIGN or hive_size % HBIN_ALIGN or hive_size > size_limit:
        log.info("%s: implausible hive size %#x, ignored", name, hive_size)
        return None
    bitmap_len = hive_size // HBIN_ALIGN  # one bit per 512-byte page
    try:
        DirtyVectorHeader.parse(data, offset=LOG_BASE_BLOCK_SIZE, what="dirty vector")
    except FormatError:
        log.info("%s: no DIRT dirty vector, ignored", name)
        return None
    bitmap_at = LOG_BASE_BLOCK_SIZE + 4
    if bitmap_at + bitmap_len > len(data):
        log.info("%s: truncated dirty vector, ignored", name)
        return None
    pages_at = -(-(bitmap_at + bitmap_len) // SECTOR) * SECTOR
    bitmap = data[bitmap_at:bitmap_at + bitmap_len]
    pages = []
    for byte_index, byte in enumerate(bitmap):
        for bit in range(8) if byte else ():
            if byte >> bit & 1:
                log_offset = pages_at + SECTOR * len(pages)
                if log_offset + SECTOR > len(data):
                    log.info("%s: dirty page %d is missing (truncated log), ignored", name,
                             len(pages))
                    return None
                pages.append(((byte_index * 8 + bit) * SECTOR, log_offset))
    return _OldLog(name, data, _u32(head, BB_PRIMARY_SEQUENCE), _u64(head, BB_LAST_WRITTEN),
                   hive_size, pages, head)


# --- recovery -------------------------------------------------------------------------------

def recover(primary: bytes, logs: list[tuple[str, LogData]], *,
            max_size: int | None = None) -> Recovery:
    """Replay `logs` onto a dirty `primary` in memory as Windows would; DirtyHiveError if unsafe.
    A log given as a `LogSource` is read an entry at a time; an entry growing the hive past
    `max_size` bytes (base block included) ends the replay like any implausible entry."""
    if len(primary) < LOG_BASE_BLOCK_SIZE or primary[:4] != b"regf":
        raise FormatError("not a registry hive (no 'regf' base block)")
    if not is_dirty(primary):
        return Recovery(bytes(primary), (), ())
    bins_available = max(len(primary) - BASE_BLOCK_SIZE, 0)
    # Every byte beyond the primary's own must come from log pages: that bounds growth.
    size_limit = min(MAX_HIVE_BINS_DATA,
                     -(-(bins_available + sum(len(d) for _, d in logs)) // HBIN_ALIGN) * HBIN_ALIGN)
    if max_size is not None:
        size_limit = min(size_limit, max(0, max_size - BASE_BLOCK_SIZE))
    new_logs, old_logs = [], []
    for name, data in logs:
        head = bytes(data[:LOG_BASE_BLOCK_SIZE])    # read once: what is checked is what is used
        kind = _log_header_kind(name, head)
        if kind == LOG_FILE_TYPE_NEW:
            new_logs.append(_parse_new_log(name, data, size_limit, head))
        elif kind is not None:
            parsed = _parse_old_log(name, data, size_limit, head)
            if parsed is not None:
                old_logs.append(parsed)
    primary_valid = _base_block_valid(primary)
    floor = _u32(primary, BB_SECONDARY_SEQUENCE) if primary_valid else None
    eligible_new = [lg for lg in new_logs
                    if lg.entries and (floor is None or _seq_later(lg.sequence, floor) >= 0)]
    applicable_old = [o for o in old_logs if _old_applicable(primary, o, primary_valid)]
    if eligible_new and applicable_old:
        raise DirtyHiveError("both old- and new-format transaction logs apply to this "
                             "dirty hive; refusing to guess which is current")
    if eligible_new:
        return _recover_new(primary, eligible_new, primary_valid)
    if applicable_old:
        return _recover_old(primary, applicable_old, primary_valid)
    if any(lg.entries for lg in new_logs):
        raise DirtyHiveError(
            "the hive is dirty and its transaction logs hold only entries older than the "
            f"primary (sequence {floor}); its state cannot be completed")
    names = ", ".join(name for name, _ in logs) or "none found"
    raise DirtyHiveError("the hive is dirty (an interrupted write) and no usable transaction "
                         f"log brings it to a consistent state (logs: {names})")


def _later_first(a: _NewLog | _OldLog, b: _NewLog | _OldLog) -> int:
    return _seq_later(b.sequence, a.sequence)


def _recover_new(primary: bytes, logs: list[_NewLog], primary_valid: bool) -> Recovery:
    """Apply HvLE entries of the eligible `logs`: oldest first, continued by consecutive ones."""
    if primary_valid:
        ordered = sorted(logs, key=functools.cmp_to_key(lambda a, b: -_later_first(a, b)))
        chain: list[_NewLog] = []
        for candidate in ordered:
            if not chain or candidate.sequence == (chain[-1].entries[-1].sequence + 1) & 0xFFFFFFFF:
                chain.append(candidate)
        base = bytearray(primary[:BASE_BLOCK_SIZE].ljust(BASE_BLOCK_SIZE, b"\0"))
    else:
        # Windows takes the base block from the log with the latest entries, and only that log.
        candidates = sorted((lg for lg in logs if lg.entries),
                            key=functools.cmp_to_key(_later_first))
        chain = candidates[:1]
        base = bytearray(BASE_BLOCK_SIZE)
        base[:LOG_BASE_BLOCK_SIZE] = chain[0].base
        base[LOG_BASE_BLOCK_SIZE:] = primary[LOG_BASE_BLOCK_SIZE:BASE_BLOCK_SIZE].ljust(
            BASE_BLOCK_SIZE - LOG_BASE_BLOCK_SIZE, b"\0")
    image = bytearray(primary)
    applied: list[AppliedEntry] = []
    flags = _u32(base, BB_FLAGS)
    hive_size = _u32(base, BB_HIVE_BINS_DATA_SIZE)
    notices = []
    for lg in chain:
        for entry in lg.entries:
            need = BASE_BLOCK_SIZE + entry.hive_size
            if len(image) < need:
                image.extend(bytes(need - len(image)))
            raw = _checked_entry(lg, entry)
            for offset, length, log_offset in entry.pages:
                start = BASE_BLOCK_SIZE + offset
                image[start:start + length] = raw[log_offset - entry.at:
                                                  log_offset - entry.at + length]
            flags = (flags & ~FLAG_KTM) | (entry.flags & FLAG_KTM)
            hive_size = entry.hive_size
            applied.append(AppliedEntry(lg.name, entry.sequence, len(entry.pages),
                                        entry.hive_size))
        if lg.stop_reason and lg.stop_reason not in ("no further entry", "end of file"):
            notices.append(f"{lg.name}: replay stopped, {lg.stop_reason}")
    sequence = (applied[-1].sequence + 1) & 0xFFFFFFFF
    struct.pack_into("<I", base, BB_FLAGS, flags)
    notices += _repair_bins(image, hive_size)
    return _finish(image, base, hive_size, sequence, applied, [lg.name for lg in chain], notices)


def _checked_entry(lg: _NewLog, entry: _Entry) -> bytes | memoryview:
    """The bytes of `entry` to replay, read once and hashed again when the log is read on
    demand (a file that changed since it was parsed must not be replayed unchecked)."""
    if not isinstance(lg.data, LogSource):
        return memoryview(lg.data)[entry.at:entry.at + entry.size]
    raw = lg.data[entry.at:entry.at + entry.size]
    if len(raw) != entry.size or not _hashes_match(raw, *entry.hashes):
        raise DirtyHiveError(f"{lg.name} changed while it was read (an entry no longer matches "
                             "its hash); nothing was replayed: run again when nothing writes "
                             "to the log")
    return raw


def _old_applicable(primary: bytes, old: _OldLog, primary_valid: bool) -> bool:
    """An old-format log applies when its timestamp matches the primary's (spec §9.2)."""
    if primary_valid:
        if _seq_later(old.sequence, _u32(primary, BB_SECONDARY_SEQUENCE)) < 0:
            return False
        return old.timestamp == _u64(primary, BB_LAST_WRITTEN)
    # An invalid primary base block: the first hbin's timestamp is the backup copy.
    if len(primary) < BASE_BLOCK_SIZE + HBIN_HEADER_SIZE or \
            primary[BASE_BLOCK_SIZE:BASE_BLOCK_SIZE + 4] != b"hbin":
        return False
    return old.timestamp == _u64(primary, BASE_BLOCK_SIZE + 20)


def _recover_old(primary: bytes, logs: list[_OldLog], primary_valid: bool) -> Recovery:
    """Write the dirty 512-byte pages of the latest applicable old-format log."""
    old = sorted(logs, key=functools.cmp_to_key(_later_first))[0]
    if any(o is not old and o.sequence == old.sequence and not _same(o.data, old.data)
           for o in logs):
        raise DirtyHiveError("two different old-format logs claim the same write; "
                             "refusing to guess which one is current")
    image = bytearray(primary)
    need = BASE_BLOCK_SIZE + old.hive_size
    if len(image) < need:
        image.extend(bytes(need - len(image)))
    for offset, log_offset in old.pages:
        start = BASE_BLOCK_SIZE + offset
        image[start:start + SECTOR] = old.data[log_offset:log_offset + SECTOR]
    # Old-format pages carry no hash; a log rewritten meanwhile shows in its base block.
    if isinstance(old.data, LogSource) and old.data[:LOG_BASE_BLOCK_SIZE] != old.base:
        raise DirtyHiveError(f"{old.name} changed while it was read; nothing was replayed: run "
                             "again when nothing writes to the log")
    base = bytearray(primary[:BASE_BLOCK_SIZE].ljust(BASE_BLOCK_SIZE, b"\0"))
    base[:LOG_BASE_BLOCK_SIZE] = old.base
    sequence = (max(old.sequence, _u32(primary, BB_PRIMARY_SEQUENCE),
                    _u32(primary, BB_SECONDARY_SEQUENCE), key=lambda s: _seq_later(s, old.sequence))
                + 1) & 0xFFFFFFFF
    applied = [AppliedEntry(old.name, old.sequence, len(old.pages), old.hive_size)]
    notices = _repair_bins(image, old.hive_size)
    return _finish(image, base, old.hive_size, sequence, applied, [old.name], notices)


def _repair_bins(image: bytearray, hive_size: int) -> list[str]:
    """Replace invalid hbins inside the hive bins data by dummy bins holding one free cell."""
    notices = []
    pos = 0
    while pos < hive_size:
        at = BASE_BLOCK_SIZE + pos
        head = image[at:at + HBIN_HEADER_SIZE]
        size = _u32(head, 8) if len(head) == HBIN_HEADER_SIZE else 0
        if (head[:4] == b"hbin" and _u32(head, 4) == pos and size >= HBIN_ALIGN
                and size % HBIN_ALIGN == 0 and pos + size <= hive_size):
            pos += size
            continue
        dummy = bytearray(HBIN_ALIGN)
        dummy[:HBIN_HEADER_SIZE] = HbinHeader.build({
            "offset": pos, "size": HBIN_ALIGN, "reserved": bytes(8), "timestamp": 0,
            "spare": 0}, what="hbin header")
        struct.pack_into("<i", dummy, HBIN_HEADER_SIZE, HBIN_ALIGN - HBIN_HEADER_SIZE)
        image[at:at + HBIN_ALIGN] = dummy
        notices.append(f"invalid hive bin at {pos:#x} after recovery replaced by an empty one")
        pos += HBIN_ALIGN
    return notices


def _finish(image: bytearray, base: bytearray, hive_size: int, sequence: int,
            applied: list[AppliedEntry], used: list[str], notices: list[str]) -> Recovery:
    """Install a clean primary base block (file type 0, equal sequences, checksum)."""
    struct.pack_into("<I", base, BB_PRIMARY_SEQUENCE, sequence)
    struct.pack_into("<I", base, BB_SECONDARY_SEQUENCE, sequence)
    struct.pack_into("<I", base, BB_FILE_TYPE, 0)
    struct.pack_into("<I", base, BB_HIVE_BINS_DATA_SIZE, hive_size)
    struct.pack_into("<I", base, BB_CHECKSUM, regf_checksum(base[:CHECKSUM_COVERED]))
    image[:BASE_BLOCK_SIZE] = base
    if _u32(base, BB_FLAGS) & FLAG_KTM:
        notices.append("the recovered hive has KTM transactions pending (base-block flag 0x1); "
                       "their logs (config\\TxR) are not replayed")
    for note in notices:
        log.warning("%s", note)
    return Recovery(bytes(image), tuple(applied), tuple(used), tuple(notices))
