"""Pure checksum functions of the regf format: base-block XOR-32 and the Marvin32 log hash."""

from __future__ import annotations

import struct

from bcdtool.regf.layout import CHECKSUM_COVERED, MARVIN32_SEED

_WORDS = struct.Struct(f"<{CHECKSUM_COVERED // 4}I")


def raw_xor32(base_block: bytes | memoryview) -> int:
    """XOR of the 127 little-endian dwords covering bytes 0-507 of a base block."""
    result = 0
    for word in _WORDS.unpack_from(base_block, 0):
        result ^= word
    return result


def regf_checksum(base_block: bytes | memoryview) -> int:
    """The checksum Windows stores at offset 508 (raw XOR with 0 -> 1 and ~0 -> ~1)."""
    value = raw_xor32(base_block)
    if value == 0xFFFFFFFF:
        return 0xFFFFFFFE
    if value == 0:
        return 1
    return value


def _rotl(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


def marvin32(data: bytes | memoryview, seed: int = MARVIN32_SEED) -> int:
    """Marvin32 hash (as used by new-format regf log entries) of `data`, as a u64."""
    lo = seed & 0xFFFFFFFF
    hi = seed >> 32
    view = memoryview(data)
    full = len(view) // 4 * 4
    for (word,) in struct.iter_unpack("<I", view[:full]):
        lo, hi = _marvin_block(lo, hi, word)
    tail = bytes(view[full:])
    # The last 0-3 bytes, little-endian, followed by a 0x80 marker byte.
    final = int.from_bytes(tail, "little") | (0x80 << (8 * len(tail)))
    lo, hi = _marvin_block(lo, hi, final)
    lo, hi = _marvin_block(lo, hi, 0)
    return (hi << 32) | lo


def _marvin_block(lo: int, hi: int, word: int) -> tuple[int, int]:
    lo = (lo + word) & 0xFFFFFFFF
    hi ^= lo
    lo = (_rotl(lo, 20) + hi) & 0xFFFFFFFF
    hi = _rotl(hi, 9) ^ lo
    lo = (_rotl(lo, 27) + hi) & 0xFFFFFFFF
    hi = _rotl(hi, 19)
    return lo, hi
