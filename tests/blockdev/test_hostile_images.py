"""Hostile or broken images give one BcdToolError, never another exception or a huge allocation."""

from __future__ import annotations

import random
import struct
import tracemalloc

import pytest

from tests.blockdev.blockdev_images import FORMATS, MiB, qemu_img
from bcdtool.blockdev.detect import open_image
from bcdtool.errors import BcdToolError, FormatError, ImageError, UnsupportedError

#: Peak Python allocation allowed while opening and reading a few ranges of a broken image.
MAX_PEAK = 24 * MiB


def open_and_read(path, *, measure: bool = False) -> None:
    """Open and read a few ranges; only BcdToolError may escape; memory stays bounded."""
    if measure:
        tracemalloc.start()
    try:
        with open_image(path) as dev:
            for offset in (0, 5 * MiB, dev.size // 2, max(0, dev.size - 4096)):
                if offset < dev.size:
                    dev.read_at(offset, min(65536, dev.size - offset))
    except BcdToolError:
        pass
    finally:
        if measure:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert peak < MAX_PEAK, f"peak allocation {peak}"


def patch(path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


@pytest.mark.parametrize("fmt", [f for f in FORMATS
                                 if f not in ("vmdk-flat", "vmdk-split-flat", "vhdx-fixed")])
def test_truncated_images(images, tmp_path, fmt):
    src = images[fmt].read_bytes()
    for size in sorted({0, 7, 100, 511, 512, 1024, 4096, 65536, 200 * 1024, 300 * 1024,
                        len(src) // 2, len(src) - 512, len(src) - 1}):
        path = tmp_path / f"t{size}.img"
        path.write_bytes(src[:size])
        open_and_read(path, measure=size < 1024 * 1024)


@pytest.mark.parametrize("fmt", [f for f in FORMATS
                                 if f not in ("vmdk-flat", "vmdk-split-flat", "vhdx-fixed")])
def test_random_metadata_corruption(fresh, fmt):
    """Bytes of headers and tables overwritten at random, patched in place and restored."""
    rng = random.Random(fmt)
    path = fresh(fmt)
    size = path.stat().st_size
    hot = [0, size - 512, size - 1024, 64 * 1024, 128 * 1024, 192 * 1024, 3 * MiB, 1024, 1536]
    with open(path, "r+b") as f:
        for _ in range(60):
            saved = []
            for _ in range(rng.randint(1, 6)):
                pos = max(0, min(size - 8, rng.choice(hot) + rng.randrange(512)))
                f.seek(pos)
                saved.append((pos, f.read(8)))
                f.seek(pos)
                f.write(rng.choice([b"\xff" * 8, b"\0" * 8, rng.randbytes(8),
                                    struct.pack("<Q", rng.getrandbits(40))]))
            f.flush()
            open_and_read(path, measure=not _ % 20)
            for pos, old in reversed(saved):
                f.seek(pos)
                f.write(old)


def test_qcow2_absurd_l1_size(fresh):
    path = fresh("qcow2-v3")
    patch(path, 36, struct.pack(">I", 0x7FFFFFFF))
    with pytest.raises(ImageError, match="L1"):
        open_image(path)


@pytest.mark.parametrize("offset,value,error", [
    (20, struct.pack(">I", 40), FormatError),             # cluster_bits
    (24, struct.pack(">Q", 1 << 62), FormatError),        # virtual size
    (32, struct.pack(">I", 1), UnsupportedError),         # encryption
    (4, struct.pack(">I", 4), UnsupportedError),          # version
    (48, struct.pack(">Q", 1 << 50), ImageError),         # refcount table offset
])
def test_qcow2_bad_header_fields(fresh, offset, value, error):
    path = fresh("qcow2-v3")
    patch(path, offset, value)
    with pytest.raises(error):
        open_image(path)


def test_qcow2_l1_entry_beyond_file(fresh):
    path = fresh("qcow2-v2")
    l1 = struct.unpack(">Q", path.read_bytes()[40:48])[0]
    patch(path, l1, struct.pack(">Q", (1 << 45) | (1 << 63)))
    with open_image(path) as dev, pytest.raises(ImageError):
        dev.read_at(0, 512)


def test_qcow2_backing_loop_is_bounded(tmp_path):
    path = tmp_path / "self.qcow2"
    qemu_img("create", "-f", "qcow2", "-u", "-b", "self.qcow2", "-F", "qcow2", path, "64M")
    with pytest.raises(ImageError, match="backing chain"):
        open_image(path)


def test_vhd_absurd_bat(fresh):
    path = fresh("vhd-dynamic")
    raw = path.read_bytes()
    header = struct.unpack_from(">Q", raw, 16)[0]
    dyn = bytearray(raw[header:header + 1024])
    dyn[28:32] = struct.pack(">I", 0x7FFFFFFF)           # max table entries
    dyn[36:40] = bytes(4)
    dyn[36:40] = struct.pack(">I", ~sum(dyn) & 0xFFFFFFFF)
    patch(path, header, bytes(dyn))
    with pytest.raises(ImageError, match="allocation table"):
        open_image(path)


def test_vhd_bad_checksum_everywhere(fresh):
    path = fresh("vhd-fixed")
    patch(path, path.stat().st_size - 512 + 70, b"\x01\x02")
    with pytest.raises(FormatError, match="footer"):
        open_image(path)


def test_vmdk_grain_directory_beyond_file(fresh):
    path = fresh("vmdk-sparse")
    patch(path, 56, struct.pack("<Q", 1 << 40))
    with pytest.raises(ImageError, match="grain directory"):
        open_image(path)


@pytest.mark.parametrize("extent,error", [
    ('RW 131072 FLAT "../escape.img" 0', UnsupportedError),
    ('RW 131072 FLAT "/etc/passwd" 0', UnsupportedError),
    ('RW 999999999 FLAT "vmdk-flat-flat.img" 0', ImageError),
    ('RW 131072 VMFSRDM "vmdk-flat-flat.img" 0', UnsupportedError),
])
def test_vmdk_descriptor_extents(fresh, extent, error):
    path = fresh("vmdk-flat")
    (path.parent.parent / "escape.img").write_bytes(bytes(64 * MiB))
    text = path.read_text().replace('RW 131072 FLAT "vmdk-flat-flat.img" 0', extent)
    path.write_text(text)
    with pytest.raises(error):
        open_image(path)


def test_vmdk_descriptor_with_parent_refused(fresh):
    path = fresh("vmdk-flat")
    path.write_text(path.read_text().replace("parentCID=ffffffff", "parentCID=12345678"))
    with pytest.raises(UnsupportedError, match="differencing"):
        open_image(path)


def test_vmdk_zero_extent_reads_zeros(fresh):
    path = fresh("vmdk-flat")
    path.write_text(path.read_text().replace('RW 131072 FLAT "vmdk-flat-flat.img" 0',
                                             'RW 2048 FLAT "vmdk-flat-flat.img" 0\nRW 129024 ZERO'))
    with open_image(path) as dev:
        assert dev.size == 64 * MiB
        assert dev.read_at(MiB - 8, 16)[8:] == bytes(8)
        assert dev.read_at(5 * MiB, 16) == bytes(16)


def test_vhdx_bat_entry_beyond_file(fresh):
    from bcdtool.blockdev.vhdx import VhdxDevice
    path = fresh("vhdx")
    with open_image(path) as dev:
        assert isinstance(dev, VhdxDevice)
        bat = dev.bat.offset
    patch(path, bat, struct.pack("<Q", (1 << 40) << 20 | 6))   # block 0: fully present, far away
    with open_image(path) as dev, pytest.raises(ImageError, match="outside the file"):
        dev.read_at(0, 512)


def test_vhd_bat_entry_beyond_file(fresh):
    path = fresh("vhd-dynamic")
    raw = path.read_bytes()
    header = struct.unpack_from(">Q", raw, 16)[0]
    table = struct.unpack_from(">Q", raw, header + 16)[0]
    patch(path, table, struct.pack(">I", 0x7FFFFFF0))
    with open_image(path) as dev, pytest.raises(ImageError, match="beyond the end"):
        dev.read_at(0, 512)


def test_vmdk_grain_beyond_file(fresh):
    path = fresh("vmdk-sparse")
    raw = path.read_bytes()
    gd = struct.unpack_from("<Q", raw, 56)[0] * 512
    gt = struct.unpack_from("<I", raw, gd)[0] * 512
    patch(path, gt, struct.pack("<I", 0x7FFFFFF0))
    with open_image(path) as dev, pytest.raises(ImageError):
        dev.read_at(0, 512)
