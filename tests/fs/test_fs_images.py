"""Every image format x firmware: H5's open_image + read_partition_table, then our filesystem
layer finds the BCD; writes through the extents are read back without bcdtool (qemu-img convert,
mcopy/ntfscat)."""

from __future__ import annotations

import random
import shutil

import pytest

from bcdtool.blockdev.detect import open_image
from bcdtool.blockdev.partitions import read_partition_table
from bcdtool.errors import BcdToolError
from bcdtool.fs.volume import open_volume
from bcdtool.fs.base import write_extents
from fixtures import images

from tests.fs.fs_helpers import ntfs_part_get

FORMATS = [f for f in images.FORMATS]
READ_ONLY_FORMATS = {"vmdk-stream"}


def _bcd_volume(dev, disk):
    parts = read_partition_table(dev).partitions
    assert [(p.index, p.start, p.length) for p in parts] == \
        [(p.index, p.start, p.length) for p in disk.partitions]
    part = next(p for p in parts if p.index == disk.bcd_partition)
    return open_volume(part.view(dev))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("firmware", ["uefi", "bios"])
def test_find_bcd_in_every_format(converted, esp_disk, mbr_disk, payload, firmware, fmt):
    disk = esp_disk if firmware == "uefi" else mbr_disk
    dev = open_image(str(converted(firmware, fmt)))
    vol = _bcd_volume(dev, disk)
    ref = vol.find(disk.bcd_path.upper())
    assert vol.read(ref) == payload
    assert dev.bytes_read < 1 << 20, "finding the store must read well under a MiB"


def _independent_read(image, disk, tmp_path) -> bytes:
    raw = images.to_raw(image, tmp_path / "back.raw")
    part = disk.bcd_part
    if part.fs == "fat":
        return images.fat_get(raw, disk.bcd_path, offset=part.start)
    return ntfs_part_get(images.DiskImage(raw, disk.scheme, disk.partitions), part, disk.bcd_path,
                         tmp_path)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f not in READ_ONLY_FORMATS])
@pytest.mark.parametrize("firmware", ["uefi", "bios"])
def test_write_through_every_format(converted, esp_disk, mbr_disk, tmp_path, firmware, fmt):
    disk = esp_disk if firmware == "uefi" else mbr_disk
    src = converted(firmware, fmt)
    image = tmp_path / src.name
    shutil.copyfile(src, image)
    if fmt == "vmdk-flat":
        shutil.copyfile(
            src.with_name(src.stem + "-flat.vmdk"), tmp_path / (src.stem + "-flat.vmdk")
        )
    size_before = image.stat().st_size
    dev = open_image(str(image), writable=True)
    vol = _bcd_volume(dev, disk)
    ref = vol.find(disk.bcd_path)
    vol.require_writable(ref)
    new = random.Random(fmt).randbytes(ref.size)
    write_extents(vol.dev, ref, 0, new)
    dev.flush_device()
    dev.close()
    assert image.stat().st_size == size_before
    assert _independent_read(image, disk, tmp_path) == new
    rc, out = images.qemu_check(image)
    assert rc in (0, 63), out  # 63: format without consistency checks


def test_stream_optimized_vmdk_is_read_only(converted, esp_disk):
    with pytest.raises(BcdToolError):
        dev = open_image(str(converted("uefi", "vmdk-stream")), writable=True)
        vol = _bcd_volume(dev, esp_disk)
        write_extents(vol.dev, vol.find(esp_disk.bcd_path), 0, b"x")


@pytest.mark.parametrize("scheme,bits", [("mbr", 32), ("gpt", 16)])
def test_esp_variants(tmp_path, payload, scheme, bits):
    """An ESP on an MBR disk (type 0xEF) and a FAT16 ESP are found and read like the usual one."""
    from tests.fs.fs_helpers import built

    disk = built(images.build_esp_disk, tmp_path / "v.img", payload, scheme=scheme,
                 fat_bits=bits, windows_files=images.windows_hive_files(system=payload[:999]))
    dev = open_image(str(disk.path))
    parts = read_partition_table(dev).partitions
    assert parts[0].is_esp and parts[0].scheme == scheme
    vol = open_volume(parts[0].view(dev))
    assert vol.fat_type == f"fat{bits}"
    ref = vol.find("efi/microsoft/boot/bcd")
    assert vol.read(ref) == images.fat_get(disk.path, disk.bcd_path, offset=disk.bcd_part.start) \
        == payload
    windows = open_volume(parts[1].view(dev))
    assert windows.read(windows.find("Windows/System32/config/SYSTEM")) == payload[:999]


@pytest.mark.parametrize("firmware", ["uefi", "bios"])
def test_huge_sparse_disk_reads_little(tmp_path, payload, firmware):
    """On a 100 GiB (sparse) qcow2 disk, finding and reading the store reads well under 1 MiB."""
    from tests.fs.fs_helpers import built

    build = images.build_esp_disk if firmware == "uefi" else images.build_mbr_disk
    disk = built(build, tmp_path / "big.img", payload, disk_size=100 << 30)
    image = built(images.convert, disk.path, "qcow2", tmp_path)
    disk.path.unlink()
    dev = open_image(str(image))
    assert dev.size == 100 << 30
    vol = _bcd_volume(dev, disk)
    ref = vol.find(disk.bcd_path)
    assert vol.read(ref) == payload
    vol.facts()
    assert dev.bytes_read < 1 << 20, dev.bytes_read


def test_build_images_cli(tmp_path, payload):
    import subprocess
    import sys

    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    bcd = tmp_path / "BCD"
    bcd.write_bytes(payload)
    out = subprocess.run([sys.executable, str(repo / "fixtures" / "build_images.py"), "--bcd",
                          str(bcd), "--out", str(tmp_path / "imgs"), "--formats", "raw", "vhdx"],
                         capture_output=True, text=True)
    if out.returncode and "missing tools" in out.stderr:
        pytest.skip(out.stderr)
    assert out.returncode == 0, out.stderr
    rows = [line.split("\t") for line in out.stdout.splitlines()]
    assert [(r[0], r[1]) for r in rows] == [("uefi", "raw"), ("uefi", "vhdx"), ("bios", "raw"),
                                            ("bios", "vhdx")]
    for row in rows:
        dev = open_image(row[2])
        part = read_partition_table(dev).partitions[0]
        vol = open_volume(part.view(dev))
        assert vol.read(vol.find(row[4])) == payload
