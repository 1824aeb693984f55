"""Commit protocol for hive images: finalize the base block, plan in-place writes, write files.

Layer: regf.  `finalize` sets the base block the way regf.md §2.2/§9.6 asks (sequence numbers
never decrease and end equal, fresh timestamp, checksum that hivex and Windows both accept);
`commit_steps` orders in-place writes so that an interrupted write is detectable (§10);
`verify_image` checks a written image with our reader, validator and python-registry.  Writing
itself is bcdtool/write's job (one transaction for every target).
"""

from __future__ import annotations

import io
import struct
import time
from dataclasses import dataclass

from Registry import Registry

from bcdtool.errors import BcdToolError, VerifyError, WriteError
from bcdtool.regf import logs as _logs
from bcdtool.regf.check import check
from bcdtool.regf.checksums import raw_xor32, regf_checksum
from bcdtool.regf.hive import Hive
from bcdtool.regf.layout import (BASE_BLOCK_SIZE, BB_CHECKSUM, BB_FILE_TYPE, BB_LAST_WRITTEN,
                                 BB_PRIMARY_SEQUENCE, BB_SECONDARY_SEQUENCE, CHECKSUM_COVERED)

SECTOR = 512
#: FILETIME of the Unix epoch (100 ns intervals since 1601-01-01).
_EPOCH_FILETIME = 116444736000000000

#: A hive view: key path -> sorted (value name, type, raw data).
View = dict[str, list[tuple[str, int, bytes]]]


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
