"""Reading any range of every image format through our devices equals the raw source bytes."""

from __future__ import annotations

import random

import pytest

from tests.blockdev.blockdev_images import DATA_REGIONS, FORMATS, MiB, RAW_SIZE, raw_bytes
from bcdtool.blockdev.detect import open_image, sniff
from bcdtool.blockdev.raw import RawDevice

#: Ranges that straddle data/hole edges and block, cluster and grain boundaries.
EDGE_RANGES = [
    (0, 512),
    (MiB - 100, 200),
    (5 * MiB, 8192 + 4096),
    (5 * MiB + 4096 + 300 * 1024 - 7, 20),
    (20 * MiB - 8192 - 1, 64 * 1024 + 2),
    (32 * MiB - 3, 2 * MiB + 6),
    (RAW_SIZE - 1, 1),
    (RAW_SIZE - MiB - 511, MiB + 511),
    (2 * MiB - 1, 3),
]


def random_ranges(seed: int, n: int = 40):
    rng = random.Random(seed)
    for _ in range(n):
        start = rng.randrange(RAW_SIZE)
        yield start, rng.randrange(min(RAW_SIZE - start, 3 * MiB) + 1)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_ranges_match_raw(images, fmt):
    with open_image(images[fmt]) as dev:
        assert dev.size == RAW_SIZE
        assert not dev.writable()
        for offset, length in EDGE_RANGES + list(random_ranges(hash(fmt) & 0xFFFF)):
            assert dev.read_at(offset, length) == raw_bytes(offset, length), (offset, length)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_whole_disk_matches_raw(images, raw_image, fmt):
    expected = raw_image.read_bytes()
    with open_image(images[fmt]) as dev:
        for offset in range(0, RAW_SIZE, 4 * MiB):
            assert dev.read_at(offset, 4 * MiB) == expected[offset:offset + 4 * MiB], offset


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_stream_interface(images, fmt):
    start, size = DATA_REGIONS[1]
    with open_image(images[fmt]) as dev:
        dev.seek(start - 10)
        assert dev.read(size + 20) == raw_bytes(start - 10, size + 20)
        assert dev.seek(0, 2) == RAW_SIZE
        assert dev.read(10) == b""


def test_sniff_by_magic_not_name(images, tmp_path):
    expected = {"vhd-fixed": "vhd", "vhd-dynamic": "vhd", "vhdx": "vhdx", "qcow2-v2": "qcow2",
                "vmdk-sparse": "vmdk", "vmdk-flat": "vmdk-descriptor", "vmdk-stream": "vmdk"}
    for fmt, kind in expected.items():
        with RawDevice(images[fmt]) as dev:
            assert sniff(dev) == kind, fmt


def test_raw_is_opened_read_only(raw_image):
    with open_image(raw_image) as dev:
        assert type(dev) is RawDevice and not dev.writable()
        with pytest.raises(Exception) as err:
            dev.write_at(0, b"x")
        assert type(err.value).__name__ == "ReadOnlyError"
        assert dev.read_at(0, 16) == raw_bytes(0, 16)


def test_crc32c_against_a_bitwise_reference():
    import random as _random

    from tests.blockdev.blockdev_images import crc32c_bitwise
    from bcdtool.blockdev.vhdx import crc32c
    assert crc32c(b"123456789") == 0xE3069283           # the standard check value
    rng = _random.Random(7)
    for n in (0, 1, 5, 100, 4096):
        data = rng.randbytes(n) + bytes(rng.randrange(70000))
        assert crc32c(data) == crc32c_bitwise(data)


def test_vhdx_beyond_the_first_chunk(tmp_path):
    """1 MiB blocks and 512-byte sectors: a sector-bitmap BAT entry follows every 4096 blocks."""
    from tests.blockdev.blockdev_images import pattern, qemu_img
    raw = tmp_path / "big.raw"
    spots = [0, 4 * 1024 * MiB - 4096, 4 * 1024 * MiB + 3 * MiB, 5 * 1024 * MiB - 65536]
    with open(raw, "wb") as f:
        f.truncate(5 * 1024 * MiB)
        for spot in spots:
            f.seek(spot)
            f.write(pattern(spot, 65536))
    image = tmp_path / "big.vhdx"
    qemu_img("convert", "-f", "raw", "-O", "vhdx", "-o", "block_size=1M", raw, image)
    with open_image(image) as dev:
        assert dev.chunk_ratio == 4096
        for spot in spots:
            assert dev.read_at(spot, 65536) == pattern(spot, 65536), spot
        assert dev.read_at(4 * 1024 * MiB + 65536, 4096) == bytes(4096)


def test_vmdk_stream_with_footer_at_end(images, tmp_path):
    """VMware streams put the grain directory in a footer (gdOffset = GD_AT_END)."""
    import struct
    data = bytearray(images["vmdk-stream"].read_bytes())
    header = bytes(data[:512])
    footer_marker = struct.pack("<QII", 1, 0, 3) + bytes(496)
    data += footer_marker + header + bytes(512)            # footer marker, footer, end of stream
    data[56:64] = struct.pack("<Q", 0xFFFFFFFFFFFFFFFF)
    path = tmp_path / "stream.vmdk"
    path.write_bytes(bytes(data))
    with open_image(path) as dev:
        for offset, length in EDGE_RANGES:
            assert dev.read_at(offset, length) == raw_bytes(offset, length)


@pytest.mark.parametrize("fmt,name", [("vdi", "VirtualBox VDI"), ("qed", "QED"),
                                      ("parallels", "Parallels")])
def test_known_unsupported_formats_are_not_taken_for_raw(raw_image, tmp_path, fmt, name):
    from tests.blockdev.blockdev_images import qemu_img
    from bcdtool.errors import UnsupportedError
    path = tmp_path / f"disk.{fmt}"
    qemu_img("convert", "-f", "raw", "-O", fmt, raw_image, path)
    with pytest.raises(UnsupportedError, match=name):
        open_image(path)


def test_qcow2_zstd_clusters_refused_clearly(raw_image, tmp_path):
    from tests.blockdev.blockdev_images import qemu_img
    from bcdtool.errors import UnsupportedError
    path = tmp_path / "z.qcow2"
    try:
        qemu_img("convert", "-c", "-f", "raw", "-O", "qcow2", "-o", "compression_type=zstd",
                 raw_image, path)
    except Exception:
        pytest.skip("this qemu-img lacks zstd")
    with open_image(path) as dev:
        assert dev.read_at(10 * MiB, 4096) == bytes(4096)      # holes still read
        with pytest.raises(UnsupportedError, match="zstd"):
            dev.read_at(0, 16)
