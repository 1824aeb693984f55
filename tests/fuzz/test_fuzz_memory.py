"""Bounded allocation: every 32/64-bit field of the headers that declare lengths and counts set
to hostile values (0x7FFFFFFF, 0xFFFFFFFF, 2**63) must not make the parsers allocate more than
MAX_PEAK bytes (traced with tracemalloc), whatever error they give.

Headers: regf base block, first hbin and a big-data cell of a hive; a log's base block;
qcow2 header, VHD footer and dynamic header, VHDX headers' metadata, VMDK sparse header; GPT
header.  The files are the real seeds of the other fuzz tests.
"""

from __future__ import annotations

import tracemalloc

import pytest

from bcdtool.errors import BcdToolError
from tests.helpers.common import corpus_files
from tests.fuzz.fuzz_support import EXAMPLES, RAN, BytesDevice, bounded
from tests.fuzz.test_fuzz_images import fix_checksums, open_and_read
from tests.fuzz.test_fuzz_images import images  # noqa: F401 (fixture)
from tests.fuzz.test_fuzz_regf import read_everything, replay

from bcdtool.blockdev.partitions import read_partition_table

MAX_PEAK = 64 * 1024 * 1024
#: The long pass (`make fuzz`) tries every hostile value; CI's short pass two of them.
HOSTILE = [(0xFFFFFFFF, 4), (2 ** 63, 8)] + \
    ([(0x7FFFFFFF, 4), (2 ** 64 - 1, 8)] if EXAMPLES > 200 else [])


def peak_of(func, data: bytes) -> int:
    tracemalloc.start()
    try:
        with bounded():
            func(data)
    except BcdToolError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


def variants(data: bytes, start: int, length: int, *, fix=lambda b: b, order="little"):
    """`data` with each aligned field of [start, start+length) set to each hostile value."""
    for value, width in HOSTILE:
        for pos in range(start, start + length - width + 1, 4):
            out = bytearray(data)
            out[pos:pos + width] = value.to_bytes(width, order)
            yield pos, value, fix(bytes(out))


def assert_bounded(func, data: bytes, start: int, length: int, what: str, **kw) -> int:
    runs = 0
    for pos, value, blob in variants(data, start, length, **kw):
        peak = peak_of(func, blob)
        runs += 1
        RAN["hostile length fields (memory bound)"] = \
            RAN.get("hostile length fields (memory bound)", 0) + 1
        assert peak < MAX_PEAK, f"{what}: field at {pos:#x} = {value:#x} allocated {peak} bytes"
    return runs


def test_the_probe_sees_a_blow_up():
    """The measurement itself can fail a test: a 100 MiB allocation is seen."""
    assert peak_of(lambda data: bytearray(100 * 1024 * 1024), b"") > MAX_PEAK


def test_hive_length_fields():
    seeds = corpus_files("bcd", "*.bcd")
    if not seeds:
        pytest.skip("../shared/corpus is absent")
    data = min((p.read_bytes() for p in seeds), key=len)
    # base block (sizes, offsets, sequence numbers) and the first hbin header + first cells
    assert_bounded(read_everything, data, 0, 0x80, "regf base block")
    assert_bounded(read_everything, data, 0x1000, 0x80, "first hbin")


def test_log_length_fields():
    primaries = [p for p in corpus_files("hives", "yarp-NewDirtyHive")] + \
        [p for p in corpus_files("hives", "yarp-OldDirtyHive")]
    if not primaries:
        pytest.skip("../shared/corpus is absent")
    for primary in primaries:
        logs = [(p.name, p.read_bytes()) for p in corpus_files("hives", primary.name + ".LOG*")]
        name, raw = logs[0]
        def with_log(blob, primary=primary, name=name, logs=logs):
            return replay(primary.read_bytes(), [(name, blob)] + logs[1:])

        assert_bounded(with_log, raw, 0, 0x80, f"log {name} base block")
        assert_bounded(with_log, raw, 0x200, 0x40, f"log {name} first entry")


@pytest.mark.parametrize("fmt,start,length,order", [
    ("qcow2", 0, 104, "big"), ("qcow2-v2", 0, 72, "big"), ("vhd-dynamic", 0, 72, "big"),
    ("vhd-dynamic", 512, 64, "big"), ("vhdx", 0x10000, 80, "little"), ("vmdk", 0, 80, "little")])
def test_image_length_fields(images, fmt, start, length, order):  # noqa: F811
    assert_bounded(open_and_read, images[fmt], start, length, fmt, fix=fix_checksums, order=order)


def test_vhdx_metadata_fields(images):  # noqa: F811
    """Virtual disk size, block size and sector sizes sit in the metadata region (no checksum)."""
    data = images["vhdx"]
    meta = data.find(b"metadata")
    assert meta > 0
    assert_bounded(open_and_read, data, meta, 0x100, "vhdx metadata table")
    # The items themselves (file parameters, virtual disk size, sector sizes) follow the table.
    assert_bounded(open_and_read, data, meta + 0x10000, 0x40, "vhdx metadata items")


def test_gpt_header_fields(images):  # noqa: F811
    raw = images["raw"][:1024 * 1024]
    assert_bounded(lambda blob: read_partition_table(BytesDevice(blob)), raw, 512, 92, "GPT header")
