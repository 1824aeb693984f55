"""Pure checksum functions of the regf format: base-block XOR-32 and the Marvin32 log hash."""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterator

from bcdtool.regf.layout_packed import CHECKSUM_COVERED, MARVIN32_SEED

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


#: Words hashed per array conversion (bounds the temporary list of ints to 256 KiB of input).
_CHUNK = 256 * 1024
_M32 = 0xFFFFFFFF


def marvin32(data: bytes | memoryview, seed: int = MARVIN32_SEED) -> int:
    """Marvin32 hash (as used by new-format regf log entries) of `data`, as a u64.

    The rounds are written out inline (rotations included): a log may hold 64 MiB of pages,
    each hashed on every read of its log, and a call per word cost about 1 s per MiB."""
    lo = seed & _M32
    hi = seed >> 32
    for words in _words(memoryview(data).cast("B")):
        for word in words:
            lo = (lo + word) & _M32
            hi ^= lo
            lo = (((lo << 20) | (lo >> 12)) + hi) & _M32
            hi = (((hi << 9) | (hi >> 23)) & _M32) ^ lo
            lo = (((lo << 27) | (lo >> 5)) + hi) & _M32
            hi = ((hi << 19) | (hi >> 13)) & _M32
    return (hi << 32) | lo


def _words(view: memoryview) -> Iterator[array]:
    """`view` as little-endian 32-bit words, _CHUNK bytes at a time, then Marvin32's final two
    words: the last 0-3 bytes followed by a 0x80 marker byte, and a zero word."""
    full = len(view) // 4 * 4
    for start in range(0, full, _CHUNK):
        words = array("I")
        words.frombytes(view[start:min(start + _CHUNK, full)])
        if sys.byteorder == "big":
            words.byteswap()
        yield words
    tail = bytes(view[full:])
    yield array("I", [int.from_bytes(tail, "little") | (0x80 << (8 * len(tail))), 0])
