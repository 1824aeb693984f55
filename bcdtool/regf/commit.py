"""Commit protocol for hive images: finalize the base block, plan in-place writes, write files.

Layer: regf.  `finalize` sets the base block the way regf.md §2.2/§9.6 asks (sequence numbers
never decrease and end equal, fresh timestamp, checksum that hivex and Windows both accept);
`commit_steps` orders in-place writes so that an interrupted write is detectable (§10);
`write_hive_file` replaces a hive file atomically (temp file, fsync, rename), makes stale logs
harmless first, then re-reads what landed on disk and checks it with our reader and with
python-registry, restoring the original on any mismatch.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

from Registry import Registry

from bcdtool import faults
from bcdtool.errors import BcdToolError, NotFoundError, VerifyError, WriteError
from bcdtool.fileio import fsync_folder, replace_file
from bcdtool.regf import logs as _logs
from bcdtool.regf.check import check
from bcdtool.regf.checksums import raw_xor32, regf_checksum
from bcdtool.regf.hive import Hive
from bcdtool.regf.layout import (BASE_BLOCK_SIZE, BB_CHECKSUM, BB_FILE_TYPE, BB_LAST_WRITTEN,
                                 BB_PRIMARY_SEQUENCE, BB_SECONDARY_SEQUENCE, CHECKSUM_COVERED)

log = logging.getLogger(__name__)

SECTOR = 512
#: FILETIME of the Unix epoch (100 ns intervals since 1601-01-01).
_EPOCH_FILETIME = 116444736000000000

#: A hive view: key path -> sorted (value name, type, raw data).
View = dict[str, list[tuple[str, int, bytes]]]


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


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of a successful `verify_image`: what both readers saw."""

    keys: int
    values: int
    warnings: tuple = ()


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


# --- verification ---------------------------------------------------------------------------

def our_view(image: bytes) -> tuple[View, tuple]:
    """Every key and value as our reader sees them, plus the validator's findings."""
    hive = Hive.from_bytes(image)
    view: View = {}
    for key in hive.walk():
        view[key.path] = sorted((v.name, v.type, bytes(v.raw)) for v in key.values())
    return view, tuple(check(hive))


def python_registry_view(image: bytes) -> View:
    """Every key and value as python-registry (an independent reader) sees them."""
    reg = Registry.Registry(io.BytesIO(image))
    view: View = {}
    stack = [(reg.root(), "")]
    while stack:
        key, path = stack.pop()
        if path in view:
            raise VerifyError(f"python-registry sees key {path!r} twice (cycle?)")
        view[path] = sorted(("" if v.name() == "(default)" else v.name(), v.value_type(),
                             bytes(v.raw_data())) for v in key.values())
        if len(view) > len(image) // 80:  # an nk cell takes at least 80 bytes
            raise VerifyError("python-registry walks more keys than the hive can hold")
        stack.extend((sub, f"{path}\\{sub.name()}" if path else sub.name())
                     for sub in key.subkeys())
    return view


def _same_raw(ours: bytes, theirs: bytes) -> bool:
    # python-registry returns the whole 4-byte inline field for data of 4 bytes or less, and
    # nothing for some inline REG_MULTI_SZ (regf.md §13.4); larger data must match exactly.
    if ours == theirs:
        return True
    return len(ours) <= 4 and (theirs == b"" or
                               (len(theirs) == 4 and theirs[:len(ours)] == ours))


def compare_views(ours: View, theirs: View) -> list[str]:
    """Differences between two views, python-registry's inline-data quirks allowed for."""
    problems = []
    for path in sorted(set(ours) ^ set(theirs))[:5]:
        problems.append(f"key {path!r} seen by only one reader")
    for path in sorted(set(ours) & set(theirs)):
        mine, other = ours[path], theirs[path]
        same = len(mine) == len(other) and all(
            a[:2] == b[:2] and _same_raw(a[2], b[2]) for a, b in zip(mine, other))
        if not same:
            problems.append(f"values of key {path!r} differ between readers")
        if len(problems) >= 5:
            break
    return problems


def verify_image(image: bytes, expected: bytes | None = None) -> VerifyReport:
    """Check a hive image with our reader, our validator and python-registry; VerifyError if bad.

    Both readers must see the same keys and values.  With `expected` (the planned image), our
    reader must also see the same content in `image` as in `expected`.
    """
    if len(image) < BASE_BLOCK_SIZE or _logs.is_dirty(image):
        raise VerifyError("the hive is dirty or its base block is invalid")
    if raw_xor32(image[:CHECKSUM_COVERED]) in (0, 0xFFFFFFFF):
        raise VerifyError("the base-block checksum is one hivex would reject")
    ours, warnings = _checked_view(image)
    if expected is not None and expected != image and _checked_view(expected)[0] != ours:
        raise VerifyError("the hive does not hold the planned keys and values")
    _compare_with_python_registry(image, ours)
    return VerifyReport(len(ours), sum(len(v) for v in ours.values()), warnings)


def _checked_view(image: bytes) -> tuple[View, tuple]:
    """Our reader's view and the validator's warnings; VerifyError when either finds an error."""
    try:
        view, findings = our_view(image)
    except BcdToolError as exc:
        raise VerifyError(f"our reader rejects the hive: {exc}") from None
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        first = errors[0]
        where = f" at {first.offset:#x}" if first.offset is not None else ""
        raise VerifyError(f"the validator reports {len(errors)} error(s), first: "
                          f"{first.code}{where}: {first.message}")
    return view, findings


def _compare_with_python_registry(image: bytes, ours: View) -> None:
    try:
        theirs = python_registry_view(image)
    except VerifyError:
        raise
    except Exception as exc:  # any failure of the independent reader is a verification failure
        raise VerifyError(f"python-registry cannot read the hive: {type(exc).__name__}: "
                          f"{exc}") from None
    problems = compare_views(ours, theirs)
    if problems:
        raise VerifyError("python-registry disagrees: " + "; ".join(problems))


# --- files ----------------------------------------------------------------------------------

def write_hive_file(path: str | os.PathLike, new_image: bytes, *, original: bytes,
                    backup: str | os.PathLike | None = None,
                    dry_run: bool = False) -> CommitResult:
    """Replace the hive file at `path` by `new_image` safely; see the module docstring.

    `original` is the file's content as it was read (the write is refused if the file changed
    since).  Nothing is written when our reader or validator rejects the new image, and with
    `dry_run` nothing is opened for writing at all.
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
    planned, _ = _checked_view(final)
    if dry_run:
        _compare_with_python_registry(final, planned)
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
            raise VerifyError("the file read back differs from what was written")
        _compare_with_python_registry(on_disk, planned)
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
