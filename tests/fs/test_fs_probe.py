"""probe(): filesystem kind from boot-sector magic, on real volumes made by mkfs tools."""

from __future__ import annotations

import subprocess

import pytest

from bcdtool.blockdev.base import RangeView
from bcdtool.blockdev.raw import RawDevice
from bcdtool.errors import FormatError
from bcdtool.fs import open_volume, probe
from fixtures import images

from fs_helpers import built, open_part, patch


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
