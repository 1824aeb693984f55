"""Commit protocol for hive images: finalize the base block, plan in-place writes, write files.

Layer: regf.  `finalize` sets the base block the way regf.md §2.2/§9.6 asks (sequence numbers
never decrease and end equal, fresh timestamp, checksum that hivex and Windows both accept);
`commit_steps` orders in-place writes so that an interrupted write is detectable (§10);
`write_hive_file` replaces a hive file atomically (temp file, fsync, rename), makes stale logs
harmless first, then re-reads what landed on disk and verifies it (`regf.verify`), restoring the
original on any mismatch.
"""

from __future__ import annotations

import logging
import os
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

from bcdtool import faults
from bcdtool.errors import NotFoundError, VerifyError, WriteError
from bcdtool.fileio import fsync_folder, replace_file
from bcdtool.regf import logs as _logs
from bcdtool.regf.checksums import raw_xor32, regf_checksum
from bcdtool.regf.planned import Planned
from bcdtool.regf.verify import verify_commit
from bcdtool.regf.layout import (BASE_BLOCK_SIZE, BB_CHECKSUM, BB_FILE_TYPE, BB_LAST_WRITTEN,
                                 BB_PRIMARY_SEQUENCE, BB_SECONDARY_SEQUENCE, CHECKSUM_COVERED)

log = logging.getLogger(__name__)

SECTOR = 512
#: FILETIME of the Unix epoch (100 ns intervals since 1601-01-01).
_EPOCH_FILETIME = 116444736000000000

@dataclass(frozen=True)
class CommitResult:
    """What a commit did (or, with dry_run, would do)."""

    path: str
    sequence: int
    bytes_written: int
    pages_changed: int
    dry_run: bool
    backup: str | None = None
    neutralized_logs: tuple[str, ...] = ()
    notices: tuple[str, ...] = field(default=())


# --- base block -----------------------------------------------------------------------------

def _u32(data: bytes | bytearray, offset: int) -> int:
    return struct.unpack_from("<I", data, offset)[0]


def _later(a: int, b: int) -> int:
    """The later of two sequence numbers, with 32-bit wrap-around."""
    return a if ((a - b) & 0xFFFFFFFF) < 0x80000000 else b


def _filetime_now() -> int:
    return _EPOCH_FILETIME + time.time_ns() // 100


def finalize(new_image: bytes, original: bytes) -> bytes:
    """`new_image` with a clean base block: sequences = max(old)+1, fresh stamp, safe checksum."""
    if len(new_image) < BASE_BLOCK_SIZE or new_image[:4] != b"regf":
        raise WriteError("refusing to write: the new image is not a registry hive")
    old = [_u32(original, BB_PRIMARY_SEQUENCE), _u32(original, BB_SECONDARY_SEQUENCE)] \
        if len(original) >= SECTOR and original[:4] == b"regf" else []
    newest = _u32(new_image, BB_PRIMARY_SEQUENCE)
    for number in old + [_u32(new_image, BB_SECONDARY_SEQUENCE)]:
        newest = _later(newest, number)
    sequence = (newest + 1) & 0xFFFFFFFF
    image = bytearray(new_image)
    struct.pack_into("<II", image, BB_PRIMARY_SEQUENCE, sequence, sequence)
    struct.pack_into("<I", image, BB_FILE_TYPE, 0)
    # A new stamp makes stale old-format logs (matched by timestamp) inapplicable for good.
    previous = max(struct.unpack_from("<Q", image, BB_LAST_WRITTEN)[0],
                   struct.unpack_from("<Q", original, BB_LAST_WRITTEN)[0] if old else 0)
    stamp = max(_filetime_now(), previous + 1)
    while True:
        struct.pack_into("<Q", image, BB_LAST_WRITTEN, stamp)
        checksum = raw_xor32(image[:CHECKSUM_COVERED])
        # hivex stores the raw XOR, Windows maps 0 and ~0: only other values satisfy both.
        if checksum not in (0, 0xFFFFFFFF):
            break
        stamp += 1
    struct.pack_into("<I", image, BB_CHECKSUM, checksum)
    return bytes(image)


def _first_sector_dirty(original: bytes, final: bytes) -> bytes:
    """The original first 512 bytes with only Sequence1 moved to the final value."""
    head = bytearray(original[:SECTOR])
    struct.pack_into("<I", head, BB_PRIMARY_SEQUENCE, _u32(final, BB_PRIMARY_SEQUENCE))
    struct.pack_into("<I", head, BB_CHECKSUM, regf_checksum(head[:CHECKSUM_COVERED]))
    return bytes(head)


def commit_steps(original: bytes, final: bytes) -> list[tuple[int, bytes]]:
    """In-place writes in order: dirty header, each changed run of 512-byte pages, clean header."""
    if len(original) < SECTOR or len(final) < BASE_BLOCK_SIZE:
        raise WriteError("cannot plan an in-place write over a file shorter than a base block")
    steps = [(0, _first_sector_dirty(original, final))]
    run_start = None
    for offset in range(SECTOR, len(final), SECTOR):
        changed = final[offset:offset + SECTOR] != original[offset:offset + SECTOR]
        if changed and run_start is None:
            run_start = offset
        elif not changed and run_start is not None:
            steps.append((run_start, final[run_start:offset]))
            run_start = None
    if run_start is not None:
        steps.append((run_start, final[run_start:]))
    steps.append((0, final[:SECTOR]))
    return steps


# --- files ----------------------------------------------------------------------------------

def write_hive_file(path: str | os.PathLike, new_image: bytes, *, original: bytes,
                    backup: str | os.PathLike | None = None, dry_run: bool = False,
                    planned: Planned | None = None) -> CommitResult:
    """Replace the hive file at `path` by `new_image` safely; see the module docstring.

    `original` is the file's content as it was read (the write is refused if the file changed
    since); `planned` is the editor's record of the edits (`regf.verify`).  Nothing is written
    when verification rejects the new image, and with `dry_run` nothing is opened for writing.
    """
    path = Path(os.path.realpath(path))  # replace the file a symlink points at, not the link
    final = finalize(new_image, original)
    changed = sum(len(data) for _, data in commit_steps(original, final)[1:-1]) // SECTOR
    sequence = _u32(final, BB_PRIMARY_SEQUENCE)
    try:
        stale_logs = [p for p in _logs.find_log_files(path) if _needs_neutralizing(p)]
    except OSError as exc:
        raise WriteError(f"cannot read a transaction log beside the hive: {exc.strerror}",
                         path=exc.filename) from None
    verify_commit(original, final, planned=planned, name=str(path))
    if dry_run:
        return CommitResult(str(path), sequence, 0, changed, True,
                            str(backup) if backup else None, (),
                            ("dry run: nothing was written",) + tuple(
                                f"{p.name}: would be neutralized" for p in stale_logs))
    _check_unchanged(path, original)
    try:
        if backup is not None:
            _write_backup(Path(backup), path, original)
        neutralized = tuple(_neutralize(p) for p in stale_logs)
        _replace(path, final)
    except OSError as exc:
        raise WriteError(f"cannot write: {exc.strerror or exc}", path=exc.filename or str(path)) \
            from None
    try:
        on_disk = path.read_bytes()
        if on_disk != final:
            raise VerifyError("the file read back differs from what was written and verified")
        # `final` was verified before anything was written: the same bytes need no second run.
    except (VerifyError, OSError) as exc:
        try:
            _replace(path, original)
        except (OSError, WriteError) as failure:
            reason = failure.strerror if isinstance(failure, OSError) else failure.message
            raise WriteError(f"verification failed ({exc}) and restoring the original failed "
                             f"too: {reason}; restore it from the backup",
                             path=str(path)) from None
        raise VerifyError(f"{exc}; the original hive was restored", path=str(path)) from None
    notices = tuple(f"{name}: stale transaction log neutralized (first 512 bytes zeroed)"
                    for name in neutralized)
    return CommitResult(str(path), sequence, len(final), changed, False,
                        str(backup) if backup else None, neutralized, notices)


def _check_unchanged(path: Path, original: bytes) -> None:
    try:
        current = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError("the hive file disappeared before the write", path=str(path)) \
            from None
    except OSError as exc:
        raise WriteError(f"cannot read the hive again: {exc.strerror}", path=str(path)) from None
    if current != original:
        raise WriteError("the hive file changed since it was read; nothing was written",
                         path=str(path))


def _write_backup(backup: Path, target: Path, original: bytes) -> None:
    if os.path.realpath(backup) == str(target):
        raise WriteError("the backup cannot be the hive file itself", path=str(backup))
    if backup.exists() and backup.read_bytes() != original:
        raise WriteError("the backup file exists and holds something else; nothing was written",
                         path=str(backup))
    with open(backup, "wb") as handle:
        handle.write(original)
        handle.flush()
        os.fsync(handle.fileno())
    fsync_folder(backup.parent)


def _needs_neutralizing(log_path: Path) -> bool:
    with open(log_path, "rb") as handle:
        head = handle.read(SECTOR)
    return any(head)


def _neutralize(log_path: Path) -> str:
    """Zero the log's first 512 bytes in place: an invalid log base block is never replayed."""
    with open(log_path, "r+b") as handle:
        size = min(SECTOR, os.fstat(handle.fileno()).st_size)
        faults.before_write(str(log_path))
        handle.write(bytes(size))
        handle.flush()
        os.fsync(handle.fileno())
    log.info("%s: stale transaction log neutralized", log_path)
    return log_path.name


def _replace(path: Path, data: bytes) -> None:
    """Atomically replace `path` by `data`, counting both writes for crash injection."""
    replace_file(path, data, before_write=faults.before_write)
