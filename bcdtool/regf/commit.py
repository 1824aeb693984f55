"""Commit protocol for hive images: finalize the base block and plan in-place writes.

Layer: regf.  `finalize` sets the base block the way regf.md §2.2/§9.6 asks (sequence numbers
never decrease and end equal, fresh timestamp, checksum that hivex and Windows both accept);
`commit_steps` orders in-place writes so that an interrupted write is detectable (§10).
Verifying a commit is `regf.verify`'s job; writing is bcdtool/write's (one transaction for every
target).
"""

from __future__ import annotations

import struct

from bcdtool.errors import WriteError
from bcdtool.regf.checksums import raw_xor32, regf_checksum
from bcdtool.regf.layout_packed import (BASE_BLOCK_SIZE, BB_CHECKSUM, BB_FILE_TYPE, BB_LAST_WRITTEN,
                                        BB_PRIMARY_SEQUENCE, BB_SECONDARY_SEQUENCE,
                                        CHECKSUM_COVERED)
from bcdtool.wintext import filetime_now

SECTOR = 512

# --- base block -----------------------------------------------------------------------------

def _u32(data: bytes | bytearray, offset: int) -> int:
    return struct.unpack_from("<I", data, offset)[0]


def _later(a: int, b: int) -> int:
    """The later of two sequence numbers, with 32-bit wrap-around."""
    return a if ((a - b) & 0xFFFFFFFF) < 0x80000000 else b


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
    image = bytearray(new_image[:BASE_BLOCK_SIZE])      # only the base block changes
    struct.pack_into("<II", image, BB_PRIMARY_SEQUENCE, sequence, sequence)
    struct.pack_into("<I", image, BB_FILE_TYPE, 0)
    # A new stamp makes stale old-format logs (matched by timestamp) inapplicable for good.
    previous = max(struct.unpack_from("<Q", image, BB_LAST_WRITTEN)[0],
                   struct.unpack_from("<Q", original, BB_LAST_WRITTEN)[0] if old else 0)
    stamp = max(filetime_now(), previous + 1)
    while True:
        struct.pack_into("<Q", image, BB_LAST_WRITTEN, stamp)
        checksum = raw_xor32(image[:CHECKSUM_COVERED])
        # hivex stores the raw XOR, Windows maps 0 and ~0: only other values satisfy both.
        if checksum not in (0, 0xFFFFFFFF):
            break
        stamp += 1
    struct.pack_into("<I", image, BB_CHECKSUM, checksum)
    return b"".join((image, memoryview(new_image)[BASE_BLOCK_SIZE:]))     # one copy


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


