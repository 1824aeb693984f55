"""probe(): filesystem kind from boot-sector magic, on real volumes made by mkfs tools."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from bcdtool.blockdev.base import RangeView
from bcdtool.blockdev.raw import RawDevice
from bcdtool.errors import FormatError
from bcdtool.fs.probe import probe
from bcdtool.fs.volume import open_volume
from fixtures import images

from tests.fs.fs_helpers import built, open_part, patch


def test_partitions_of_fixture_disks(esp_disk, mbr_disk):
    assert probe(open_part(esp_disk.path, esp_disk.bcd_part)) == "fat"
    assert [probe(open_part(mbr_disk.path, p)) for p in mbr_disk.partitions] == ["ntfs", "ntfs"]
    # The whole disk starts with a partition table, not a filesystem.
    assert probe(RawDevice(str(esp_disk.path))) is None
    assert probe(RawDevice(str(mbr_disk.path))) is None


@pytest.mark.parametrize("bits", [12, 16, 32])
def test_fat_variants(tmp_path, bits):
    path = built(images.make_fat_volume, tmp_path / "v.img", fat_bits=bits)
    assert probe(RawDevice(str(path))) == "fat"


def test_ext4(tmp_path):
    path = tmp_path / "ext4.img"
    with open(path, "wb") as fh:
        fh.truncate(4 << 20)
    if subprocess.run(["mkfs.ext4", "-q", "-F", str(path)], capture_output=True).returncode:
        pytest.skip("mkfs.ext4 unavailable")
    dev = RawDevice(str(path))
    assert probe(dev) == "ext"
    with pytest.raises(FormatError):
        open_volume(dev)


def test_bitlocker_and_garbage(tmp_path):
    path = built(images.make_fat_volume, tmp_path / "v.img", fat_bits=16)
    patch(path, 3, b"-FVE-FS-")
    assert probe(RawDevice(str(path))) == "bitlocker"
    patch(path, 0, bytes(4096))
    assert probe(RawDevice(str(path))) is None
    with pytest.raises(FormatError):
        open_volume(RawDevice(str(path)))


def test_tiny_device(tmp_path):
    path = tmp_path / "tiny"
    path.write_bytes(b"\xeb\x3c\x90" + bytes(100))
    assert probe(RawDevice(str(path))) is None
    assert probe(RangeView(RawDevice(str(path)), 0, 0)) is None


def test_fixture_partition_tables_are_valid(esp_disk, mbr_disk):
    """Independent readers accept the fixture disks' partition tables."""
    if shutil.which("sgdisk"):
        out = subprocess.run(["sgdisk", "-v", str(esp_disk.path)], capture_output=True, text=True)
        assert "No problems found" in out.stdout, out.stdout
        info = subprocess.run(["sgdisk", "-i", "1", str(esp_disk.path)], capture_output=True,
                              text=True).stdout
        assert "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" in info and "EFI system partition" in info
    out = subprocess.run(["sfdisk", "-J", str(mbr_disk.path)], capture_output=True, text=True)
    table = json.loads(out.stdout)["partitiontable"]
    assert table["label"] == "dos"
    assert [(p["start"], p.get("bootable", False), p["type"]) for p in table["partitions"]] == \
        [(p.start // 512, p.index == 1, "7") for p in mbr_disk.partitions]
