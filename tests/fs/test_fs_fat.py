"""FAT volumes: lookup and extents checked against mtools, in-place writes checked with mcopy and
fsck.fat."""

from __future__ import annotations

import random

import pytest

from bcdtool.blockdev.raw import RawDevice
from bcdtool.errors import (
    BcdToolError,
    CorruptionError,
    FormatError,
    NotFoundError,
    ReadOnlyError,
    UnsafeVolumeError,
)
from bcdtool.fs.volume import open_volume
from bcdtool.fs.base import write_extents
from bcdtool.fs.fat import FatVolume
from fixtures import images

from tests.fs.fs_helpers import built, changed_ranges, copy_image, inside, open_part
from tests.helpers.common import sha

BCD = "EFI/Microsoft/Boot/BCD"


def test_esp_bcd_matches_mcopy(esp_disk, payload):
    part = esp_disk.bcd_part
    vol = open_volume(open_part(esp_disk.path, part))
    assert isinstance(vol, FatVolume) and vol.fat_type == "fat32"
    ref = vol.find("\\efi\\MICROSOFT\\boot\\bcd")
    assert ref.path == BCD and ref.size == len(payload)
    assert sum(n for _, n in ref.extents) == ref.size
    assert vol.read(ref) == images.fat_get(esp_disk.path, BCD, offset=part.start) == payload
    facts = vol.facts()
    assert facts.dirty is False and facts.label == "SYSTEM"


def test_long_and_short_names(esp_disk):
    part = esp_disk.bcd_part
    vol = FatVolume(open_part(esp_disk.path, part))
    name = "EFI/Microsoft/Boot/Boot Manager Long Name.efi"
    by_long = vol.find(name.upper())
    assert by_long.path == name
    assert vol.read(by_long) == images.fat_get(esp_disk.path, name, offset=part.start)
    assert vol.find("efi/microsoft/boot/bootma~1.efi") == by_long
    with pytest.raises(NotFoundError):
        vol.find("EFI/Microsoft/Boot/BCD.missing")
    with pytest.raises(NotFoundError):
        vol.find("EFI/Microsoft/Boot")  # a folder, not a file
    with pytest.raises(NotFoundError):
        vol.find("EFI/Microsoft/Boot/BCD/child")


def test_opening_never_writes(esp_disk, tmp_path):
    """pyfatfs marks a volume dirty when given a writable file: ours must not, even on a writable
    device."""
    img = copy_image(esp_disk.path, tmp_path)
    before = sha(img)
    dev = open_part(img, esp_disk.bcd_part, writable=True)
    vol = FatVolume(dev)
    vol.read(vol.find(BCD))
    del vol
    dev.parent.close()
    assert sha(img) == before
    assert images.fsck_fat(img, offset=esp_disk.bcd_part.start, tmp=tmp_path)[0] == 0


@pytest.mark.parametrize("bits", [12, 16, 32])
def test_fat_types_fragmented(tmp_path, bits):
    """A file written into a hole of a FAT12/16 volume is fragmented: extents follow the chain."""
    vol_path = tmp_path / f"fat{bits}.img"
    built(images.make_fat_volume, vol_path, {"a.bin": b"a" * 5000, "b.bin": b"b" * 3000,
                                             "c.bin": b"c" * 5000}, fat_bits=bits)
    images.fat_delete(vol_path, "b.bin")
    data = random.Random(bits).randbytes(25_000)
    images.fat_put(vol_path, {"Boot/BCD": data}, tmp=tmp_path)
    vol = FatVolume(RawDevice(str(vol_path)))
    assert vol.fat_type == f"fat{bits}"
    ref = vol.find("BOOT/bcd")
    if bits != 32:  # FAT32 allocates after its FSInfo hint, not in the hole
        assert len(ref.extents) > 1
    assert vol.read(ref) == images.fat_get(vol_path, "Boot/BCD") == data


def test_write_in_place(esp_disk, tmp_path, payload):
    img = copy_image(esp_disk.path, tmp_path)
    original = tmp_path / "original.img"
    original.write_bytes(img.read_bytes())
    part = esp_disk.bcd_part
    dev = open_part(img, part, writable=True)
    vol = FatVolume(dev)
    ref = vol.find(BCD)
    vol.require_writable(ref)
    new = random.Random(7).randbytes(ref.size)
    written = write_extents(dev, ref, 0, new)
    dev.flush_device()
    assert written == list(ref.extents)
    assert images.fat_get(img, BCD, offset=part.start) == new
    assert images.fsck_fat(img, offset=part.start, tmp=tmp_path)[0] == 0
    changes = changed_ranges(original, img)
    assert changes and inside(changes, ref.extents, base=part.start)


def test_partial_write_maps_file_offsets(tmp_path):
    vol_path = tmp_path / "fat16.img"
    data = bytes(range(256)) * 100
    built(images.make_fat_volume, vol_path, {"x.bin": b"x" * 3000, "y.bin": b"y"}, fat_bits=16)
    images.fat_delete(vol_path, "x.bin")
    images.fat_put(vol_path, {"BCD": data}, tmp=tmp_path)
    dev = RawDevice(str(vol_path), writable=True)
    vol = FatVolume(dev)
    ref = vol.find("bcd")
    assert len(ref.extents) > 1
    write_extents(dev, ref, 2000, b"\xAA" * 3000)  # crosses the fragment boundary
    assert images.fat_get(vol_path, "BCD") == data[:2000] + b"\xAA" * 3000 + data[5000:]


def test_read_only_device_refuses(esp_disk):
    vol = FatVolume(open_part(esp_disk.path, esp_disk.bcd_part))
    ref = vol.find(BCD)
    with pytest.raises(ReadOnlyError):
        vol.require_writable(ref)


def _patch(path, offset, data):
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


@pytest.mark.parametrize("flag", ["nt", "fat1"])
def test_dirty_volume_is_unsafe(tmp_path, flag):
    vol_path = tmp_path / "dirty.img"
    built(images.make_fat_volume, vol_path, {"BCD": b"z" * 9000}, fat_bits=32)
    if flag == "nt":
        _patch(vol_path, 65, b"\x01")  # FAT32 BS_Reserved1: the NT "dirty" flag
        assert "dirty" in images.fsck_fat(vol_path)[1].lower()
    else:  # FAT[1] bit 27 clear: "not cleanly unmounted" (DOS/Windows 9x style), in both FATs
        vol = FatVolume(RawDevice(str(vol_path)))
        fat_bytes = vol._pf._fat_size * 512
        for n in range(2):
            _patch(vol_path, _fat_entry_offset(vol, 1) + n * fat_bytes,
                   (0x0FFFFFFF & ~0x08000000).to_bytes(4, "little"))
    vol = FatVolume(RawDevice(str(vol_path), writable=True))
    assert vol.facts().dirty is True
    with pytest.raises(UnsafeVolumeError):
        vol.require_writable(vol.find("BCD"))


def _fat_entry_offset(vol: FatVolume, cluster: int) -> int:
    pf = vol._pf
    return pf.bpb_header["BPB_RsvdSecCnt"] * pf.bpb_header["BPB_BytsPerSec"] + cluster * 4


def _hostile_fat32(tmp_path, how: str):
    vol_path = tmp_path / f"{how}.img"
    built(images.make_fat_volume, vol_path, {"BCD": b"q" * 4000}, fat_bits=32)
    vol = FatVolume(RawDevice(str(vol_path)))
    ref = vol.find("BCD")
    chain_first = vol._pf.root_dir.get_entry("BCD").get_cluster()
    last = chain_first + 7  # 4000 bytes in 512-byte clusters: 8 contiguous clusters
    assert ref.extents == ((vol._pf.get_data_cluster_address(chain_first), 4000),)
    target = {"cycle": chain_first + 2, "range": 0x0FFFFF00 - 1, "free": 0}[how]
    for fat in range(2):
        fat_size = vol._pf._fat_size * 512
        _patch(
            vol_path, _fat_entry_offset(vol, last) + fat * fat_size, target.to_bytes(4, "little")
        )
    return vol_path


@pytest.mark.parametrize("how", ["cycle", "range", "free"])
def test_hostile_cluster_chain(tmp_path, how):
    vol_path = _hostile_fat32(tmp_path, how)
    vol = FatVolume(RawDevice(str(vol_path)))
    with pytest.raises(CorruptionError):
        vol.find("BCD")


def test_root_directory_cycle_does_not_hang(tmp_path):
    vol_path = tmp_path / "rootcycle.img"
    built(images.make_fat_volume, vol_path, {"BCD": b"q" * 10}, fat_bits=32)
    vol = FatVolume(RawDevice(str(vol_path)))
    root = vol._pf.bpb_header["BPB_RootClus"]
    _patch(vol_path, _fat_entry_offset(vol, root), root.to_bytes(4, "little"))
    with pytest.raises(CorruptionError):
        FatVolume(RawDevice(str(vol_path)))


@pytest.mark.parametrize("damage", ["zero", "truncate", "bytes_per_sector", "random"])
def test_bad_boot_sector(tmp_path, damage):
    vol_path = tmp_path / "bad.img"
    built(images.make_fat_volume, vol_path, {"BCD": b"q" * 10}, fat_bits=16)
    if damage == "zero":
        _patch(vol_path, 0, bytes(512))
    elif damage == "truncate":
        with open(vol_path, "r+b") as fh:
            fh.truncate(4096)
    elif damage == "bytes_per_sector":
        _patch(vol_path, 11, (3).to_bytes(2, "little"))
    else:
        _patch(vol_path, 11, random.Random(3).randbytes(50))
    with pytest.raises(BcdToolError) as info:
        FatVolume(RawDevice(str(vol_path))).find("BCD")
    assert isinstance(info.value, (FormatError, CorruptionError, NotFoundError))


def test_large_esp_reads_only_what_it_needs(tmp_path):
    """A 256 MiB FAT32 has 2 MiB FATs; finding and reading a file must not read them whole."""
    vol_path = tmp_path / "big.img"
    data = random.Random(9).randbytes(40960)
    built(images.make_fat_volume, vol_path, {"EFI/Microsoft/Boot/BCD": data}, fat_bits=32,
          size_mib=256)
    dev = RawDevice(str(vol_path))
    vol = FatVolume(dev)
    assert vol.read(vol.find("efi/microsoft/boot/bcd")) == data
    assert vol.facts().dirty is False
    assert dev.bytes_read - len(data) < 16 * 1024, dev.bytes_read


def test_volume_larger_than_partition(esp_disk):
    from bcdtool.blockdev.base import RangeView

    part = esp_disk.bcd_part
    short = RangeView(RawDevice(str(esp_disk.path)), part.start, part.length - 4096)
    with pytest.raises(CorruptionError, match="claims"):
        FatVolume(short)
