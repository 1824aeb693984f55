"""Property tests: any bytes where partition tables live give partitions inside the disk or one
BcdToolError, never another exception."""

from __future__ import annotations

import struct
import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bcdtool.blockdev.base import BlockDevice
from bcdtool.blockdev.partitions import read_partition_table
from bcdtool.errors import BcdToolError

DISK = 4 * 1024 * 1024


class BytesDevice(BlockDevice):
    """A small disk held in memory (real bytes, just not in a file)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(len(data))
        self.data = data

    def _read(self, offset: int, length: int) -> bytes:
        return self.data[offset:offset + length]


def mbr_entry(boot, kind, start, size) -> bytes:
    return struct.pack("<B3sB3sII", boot, b"\0" * 3, kind, b"\0" * 3, start, size)


#: Mostly plausible numbers (so tables parse and chains get walked), sometimes absurd ones.
number = st.integers(0, 2000) | st.integers(0, 8192) | st.integers(0, 2 ** 32 - 1)
entries = st.tuples(st.sampled_from([0] * 5 + [0x80] * 4 + [0x7F]),
                    st.sampled_from([0, 0, 5, 7, 0xF, 0x85, 0xEE, 0xEF]), number, number)


def check(disk: bytearray) -> None:
    try:
        table = read_partition_table(BytesDevice(bytes(disk)))
    except BcdToolError:
        return
    for p in table.partitions:
        assert 0 <= p.start and p.start + p.length <= DISK


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entries, min_size=4, max_size=4),
       st.lists(st.lists(entries, min_size=2, max_size=2), max_size=6), st.integers(1, 8000))
def test_random_mbr_and_ebr_chains(primaries, ebrs, ext_start):
    disk = bytearray(DISK)
    disk[446:510] = b"".join(mbr_entry(*e) for e in primaries)
    disk[510:512] = b"\x55\xaa"
    lba = ext_start
    for logical, link in ebrs:                       # EBRs at arbitrary places, links as drawn
        base = (lba % (DISK // 512)) * 512
        disk[base + 446:base + 478] = mbr_entry(*logical) + mbr_entry(*link)
        disk[base + 510:base + 512] = b"\x55\xaa"
        lba = ext_start + link[2] % 8192
    check(disk)


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2 ** 64 - 1) | st.integers(0, 9000),
       st.integers(0, 2 ** 32 - 1) | st.integers(0, 300),
       st.integers(0, 2 ** 32 - 1) | st.sampled_from([0, 128, 256, 100, 4096]),
       st.integers(92, 600),
       st.lists(st.tuples(st.integers(0, 2 ** 64 - 1) | st.integers(0, 9000),
                          st.integers(0, 2 ** 64 - 1) | st.integers(0, 9000)), max_size=4))
def test_random_gpt_headers_with_valid_crcs(entry_lba, count, entry_size, header_size, parts):
    disk = bytearray(DISK)
    disk[446:462] = mbr_entry(0, 0xEE, 1, DISK // 512 - 1)
    disk[510:512] = b"\x55\xaa"
    table = bytearray(128 * 4)
    for i, (first, last) in enumerate(parts):
        table[i * 128:i * 128 + 48] = b"\x11" * 16 + b"\x22" * 16 + struct.pack("<QQ", first, last)
    where = (entry_lba % (DISK // 512)) * 512
    disk[where:where + len(table)] = table[:DISK - where]
    header = struct.pack(
        "<8sIIII QQQQ 16s QIII",
        b"EFI PART",
        0x10000,
        header_size,
        0,
        0,
        1,
        DISK // 512 - 1,
        34,
        DISK // 512 - 34,
        b"\0" * 16,
        entry_lba,
        count,
        entry_size,
        zlib.crc32(bytes(disk[where : where + count * max(entry_size, 1)]))
        if count * entry_size < DISK
        else 0,
    )
    header += bytes(max(0, header_size - len(header)))
    header = header[:16] + struct.pack("<I", zlib.crc32(header[:header_size])) + header[20:]
    disk[512:512 + min(len(header), 512)] = header[:512]
    check(disk)
