"""NTFS volumes: lookup and runs checked against ntfscat, in-place writes checked with ntfscat and
ntfsfix, refusals for resident/compressed data, BitLocker, hibernation and dirty volumes."""

from __future__ import annotations

import random
import subprocess

import pytest

from bcdtool.blockdev.base import RangeView
from bcdtool.blockdev.raw import RawDevice
from bcdtool.errors import (BcdToolError, NotFoundError, ReadOnlyError, UnsafeVolumeError,
                            UnsupportedError)
from bcdtool.fs.probe import probe
from bcdtool.fs.volume import open_volume
from bcdtool.fs.base import write_extents
from bcdtool.fs.ntfs import NtfsVolume
from fixtures import images

from tests.fs.fs_helpers import (
    built,
    changed_ranges,
    copy_image,
    inside,
    ntfs_part_get,
    ntfsfix_part,
    open_part,
    patch,
)


def test_system_reserved_bcd_matches_ntfscat(mbr_disk, payload, tmp_path):
    part = mbr_disk.bcd_part
    vol = open_volume(open_part(mbr_disk.path, part))
    assert isinstance(vol, NtfsVolume)
    ref = vol.find("\\BOOT\\bcd")
    assert ref.path == "Boot/BCD" and ref.size == len(payload) and ref.refusal is None
    assert sum(n for _, n in ref.extents) == ref.size
    assert vol.read(ref) == ntfs_part_get(mbr_disk, part, "Boot/BCD", tmp_path) == payload
    facts = vol.facts()
    assert (facts.label, facts.dirty, facts.hibernated, facts.bitlocker) == \
        ("System Reserved", False, False, False)


def test_windows_partition_hives(mbr_disk, payload, tmp_path):
    part = mbr_disk.partitions[1]
    vol = NtfsVolume(open_part(mbr_disk.path, part))
    ref = vol.find("windows/system32/CONFIG/system")
    assert ref.path == "Windows/System32/config/SYSTEM"
    assert vol.read(ref) == payload[::-1]
    sw = vol.find("Windows/System32/config/SOFTWARE")
    assert vol.read(sw) == ntfs_part_get(mbr_disk, part, "Windows/System32/config/SOFTWARE",
                                          tmp_path) == payload[:20000]
    with pytest.raises(NotFoundError):
        vol.find("Windows/System32/config/SAM")
    with pytest.raises(NotFoundError):
        vol.find("Windows/System32")  # a folder


def test_write_in_place(mbr_disk, tmp_path):
    img = copy_image(mbr_disk.path, tmp_path)
    original = tmp_path / "original.img"
    original.write_bytes(img.read_bytes())
    part = mbr_disk.bcd_part
    fix_before = ntfsfix_part(img, part, tmp_path)
    dev = open_part(img, part, writable=True)
    vol = NtfsVolume(dev)
    ref = vol.find("Boot/BCD")
    vol.require_writable(ref)
    new = random.Random(11).randbytes(ref.size)
    write_extents(dev, ref, 0, new)
    dev.flush_device()
    assert ntfs_part_get(mbr_disk, part, "Boot/BCD", tmp_path) != new  # the session image is intact
    fixed = images.DiskImage(img, "mbr", mbr_disk.partitions)
    assert ntfs_part_get(fixed, part, "Boot/BCD", tmp_path) == new
    assert ntfsfix_part(img, part, tmp_path) == fix_before
    assert fix_before[0] == 0
    changes = changed_ranges(original, img)
    assert changes and inside(changes, ref.extents, base=part.start)


def test_read_only_device_refuses(mbr_disk):
    vol = NtfsVolume(open_part(mbr_disk.path, mbr_disk.bcd_part))
    with pytest.raises(ReadOnlyError):
        vol.require_writable(vol.find("Boot/BCD"))


@pytest.fixture
def special_volume(tmp_path):
    """An NTFS volume file with a resident file, a compressed file and a plain one."""
    path = tmp_path / "special.ntfs"
    built(images.make_ntfs_volume, path, {
        "Boot/BCD": random.Random(1).randbytes(30_000),
        "Boot/tiny": b"resident data",
        "Packed/BCD": b"compress me " * 5000,
    }, compressed=["Packed/BCD"])
    return path


def test_resident_file_readable_not_writable(special_volume):
    vol = NtfsVolume(RawDevice(str(special_volume), writable=True))
    ref = vol.find("boot/TINY")
    assert ref.extents == () and "resident" in ref.refusal
    assert vol.read(ref) == images.ntfs_get(special_volume, "Boot/tiny") == b"resident data"
    with pytest.raises(UnsupportedError):
        vol.require_writable(ref)


def test_compressed_file_readable_not_writable(special_volume):
    info = subprocess.run(["ntfsinfo", "-F", "/Packed/BCD", str(special_volume)],
                          capture_output=True, text=True).stdout
    data_attr = info.split("$DATA (0x80)")[1]
    assert "Attribute flags:\t 0x0001" in data_attr, "fixture builder did not compress the file"
    vol = NtfsVolume(RawDevice(str(special_volume), writable=True))
    ref = vol.find("Packed/BCD")
    assert ref.extents == () and "compressed" in ref.refusal
    assert vol.read(ref) == images.ntfs_get(special_volume, "Packed/BCD")
    with pytest.raises(UnsupportedError):
        vol.require_writable(ref)
    plain = vol.find("Boot/BCD")
    vol.require_writable(plain)  # the plain file beside it is fine
    assert vol.read(plain) == images.ntfs_get(special_volume, "Boot/BCD")


@pytest.mark.parametrize("signature,expected", [(b"hibr", True), (b"HIBR", True), (b"WAKE", True),
                                                (b"\0\0\0\0", False)])
def test_hibernation(tmp_path, signature, expected):
    path = tmp_path / "hiber.ntfs"
    built(images.make_ntfs_volume, path, {"Boot/BCD": b"b" * 8192,
                                          "hiberfil.sys": signature + bytes(8188)})
    if signature.lower() == b"hibr":  # ntfs-3g, independently, refuses such a volume too
        with pytest.raises(images.FixtureError, match="hibernated"):
            images.ntfs_put(path, {"other": b"x"})
    vol = NtfsVolume(RawDevice(str(path), writable=True))
    assert vol.facts().hibernated is expected
    ref = vol.find("Boot/BCD")
    if expected:
        with pytest.raises(UnsafeVolumeError, match="hibernated"):
            vol.require_writable(ref)
    else:
        vol.require_writable(ref)


def test_dirty_volume(tmp_path):
    path = tmp_path / "dirty.ntfs"
    built(images.make_ntfs_volume, path, {"Boot/BCD": b"b" * 8192})
    assert NtfsVolume(RawDevice(str(path))).facts().dirty is False
    images.set_ntfs_volume_flags(path, 0x0001)
    info = subprocess.run(["ntfsinfo", "-m", str(path)], capture_output=True, text=True)
    assert "scheduled for check" in info.stdout + info.stderr  # ntfs-3g agrees it is dirty
    vol = NtfsVolume(RawDevice(str(path), writable=True))
    assert vol.facts().dirty is True
    with pytest.raises(UnsafeVolumeError, match="dirty"):
        vol.require_writable(vol.find("Boot/BCD"))


def test_bitlocker_oem_id(tmp_path):
    path = tmp_path / "fve.ntfs"
    built(images.make_ntfs_volume, path, {"Boot/BCD": b"b" * 8192})
    patch(path, 3, b"-FVE-FS-")
    dev = RawDevice(str(path))
    assert probe(dev) == "bitlocker"
    with pytest.raises(UnsafeVolumeError, match="BitLocker"):
        NtfsVolume(dev)
    with pytest.raises(UnsafeVolumeError, match="BitLocker"):
        open_volume(dev)


@pytest.mark.parametrize("damage", ["mft", "truncated"])
def test_damaged_volume_gives_clear_error(tmp_path, damage):
    path = tmp_path / "bad.ntfs"
    built(images.make_ntfs_volume, path, {"Boot/BCD": b"b" * 8192})
    dev = RawDevice(str(path))
    if damage == "mft":
        mft_cluster = int.from_bytes(dev.read_at(0x30, 8), "little")
        mirr_cluster = int.from_bytes(dev.read_at(0x38, 8), "little")
        for c in (mft_cluster, mirr_cluster):
            patch(path, c * 4096, random.Random(c).randbytes(16384))
        dev = RawDevice(str(path))
    else:
        dev = RangeView(dev, 0, 1 << 20)
    with pytest.raises(BcdToolError):
        NtfsVolume(dev).find("Boot/BCD")


def test_sparse_file_refused(tmp_path):
    path = tmp_path / "sparse.ntfs"
    data = b"s" * 4096
    built(images.make_ntfs_volume, path, {"Boot/x": b"x"}, sparse={"Boot/BCD": [(0, data),
                                                                                (1 << 20, data)]})
    info = subprocess.run(
        ["ntfsinfo", "-F", "/Boot/BCD", str(path)], capture_output=True, text=True
    )
    assert "Attribute flags:\t 0x8000" in info.stdout.split("$DATA (0x80)")[1]
    vol = NtfsVolume(RawDevice(str(path), writable=True))
    ref = vol.find("boot/bcd")
    assert ref.extents == () and "sparse" in ref.refusal
    expected = images.ntfs_get(path, "Boot/BCD")
    assert len(expected) == (1 << 20) + 4096
    assert vol.read(ref) == expected
    with pytest.raises(UnsupportedError, match="sparse"):
        vol.require_writable(ref)


def test_encrypted_flag_refused(tmp_path):
    path = tmp_path / "efs.ntfs"
    built(images.make_ntfs_volume, path, {"Boot/BCD": b"e" * 20000})
    images.patch_ntfs_data_attribute(path, "Boot/BCD", flags=0x4000)
    info = subprocess.run(
        ["ntfsinfo", "-F", "/Boot/BCD", str(path)], capture_output=True, text=True
    )
    assert "Attribute flags:\t 0x4000" in info.stdout.split("$DATA (0x80)")[1]
    vol = NtfsVolume(RawDevice(str(path), writable=True))
    ref = vol.find("Boot/BCD")
    assert "encrypted" in ref.refusal
    with pytest.raises(UnsupportedError, match="encrypted"):
        vol.read(ref)
    with pytest.raises(UnsupportedError, match="encrypted"):
        vol.require_writable(ref)


def test_uninitialized_tail_refused(tmp_path):
    """Bytes past the initialized size read as zeros, whatever the clusters hold: no extents."""
    path = tmp_path / "init.ntfs"
    data = random.Random(5).randbytes(20000)
    built(images.make_ntfs_volume, path, {"Boot/BCD": data})
    images.patch_ntfs_data_attribute(path, "Boot/BCD", initialized_size=8192)
    expected = images.ntfs_get(path, "Boot/BCD")
    assert expected == data[:8192] + bytes(20000 - 8192)  # ntfs-3g agrees on the zeros
    vol = NtfsVolume(RawDevice(str(path), writable=True))
    ref = vol.find("Boot/BCD")
    assert ref.extents == () and "initialized" in ref.refusal
    assert vol.read(ref) == expected
    with pytest.raises(UnsupportedError, match="initialized"):
        vol.require_writable(ref)


def test_torn_mft_record_is_corrupt(mbr_disk):
    from bcdtool.errors import CorruptionError
    from bcdtool.fs.ntfs import apply_fixups

    dev = open_part(mbr_disk.path, mbr_disk.bcd_part)
    mft_offset = int.from_bytes(dev.read_at(0x30, 8), "little") * 4096
    record = dev.read_at(mft_offset, 1024)  # record 0: $MFT itself
    fixed = apply_fixups(record)
    assert fixed[:4] == b"FILE" and fixed != record
    torn = bytearray(record)
    torn[1022] ^= 0xFF
    with pytest.raises(CorruptionError, match="torn"):
        apply_fixups(bytes(torn))


def test_fragmented_file_write_across_runs(tmp_path):
    path = tmp_path / "frag.ntfs"
    built(images.make_ntfs_volume, path, {"Boot/x": b"x"})
    data = random.Random(1).randbytes(12000)
    images.ntfs_write(path, {"Boot/BCD": [(0, data[:5000])], "Boot/other": [(0, b"o" * 9000)]},
                      create=["Boot/BCD", "Boot/other"])
    images.ntfs_write(path, {"Boot/BCD": [(5000, data[5000:])]})
    before = images.ntfsfix_check(path)
    dev = RawDevice(str(path), writable=True)
    vol = NtfsVolume(dev)
    ref = vol.find("Boot/BCD")
    assert len(ref.extents) == 2 and vol.read(ref) == data
    vol.require_writable(ref)
    write_extents(dev, ref, 7000, b"\x5a" * 3000)  # crosses from the first run into the second
    dev.flush_device()
    assert images.ntfs_get(path, "Boot/BCD") == data[:7000] + b"\x5a" * 3000 + data[10000:]
    assert images.ntfs_get(path, "Boot/other") == b"o" * 9000
    assert images.ntfsfix_check(path) == before


def test_volume_larger_than_partition(mbr_disk):
    from bcdtool.errors import CorruptionError

    part = mbr_disk.bcd_part
    short = RangeView(RawDevice(str(mbr_disk.path)), part.start, part.length - (1 << 20))
    with pytest.raises(CorruptionError, match="claims"):
        NtfsVolume(short)


@pytest.mark.parametrize("pages,expected", [
    ([], True),                                       # mkntfs leaves $LogFile empty (0xFF)
    ([(True, 1000), (True, 10)], True),
    ([(False, 1000), (True, 10)], False),
    ([(True, 10), (False, 1000)], False),             # the newer restart area wins
    ([(False, 10), (True, 1000)], True),
])
def test_logfile_state(tmp_path, pages, expected):
    """Restart pages crafted after ntfs-3g's logfile.h (no independent tool reports this state)."""
    path = tmp_path / "log.ntfs"
    built(images.make_ntfs_volume, path, {"Boot/BCD": b"b" * 8192})
    if pages:
        images.ntfs_write(path, {"$LogFile": [
            (n * 4096, images.ntfs_restart_page(clean=clean, lsn=lsn))
            for n, (clean, lsn) in enumerate(pages)]})
    facts = NtfsVolume(RawDevice(str(path))).facts()
    assert facts.log_clean is expected
    assert facts.unsafe_reasons() == []  # informational: file data is not journaled
    assert any("journal" in n for n in facts.notes) is (not expected)
