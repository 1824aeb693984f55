"""MBR and GPT tables built by sfdisk/sgdisk, read by us and compared with `sfdisk --json`."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib

import pytest

from tests.blockdev.blockdev_images import MiB, qemu_img
from tests.helpers.common import need_tool
from bcdtool.blockdev.detect import open_image
from bcdtool.blockdev.disk import Disk
from bcdtool.blockdev.partitions import read_partition_table
from bcdtool.blockdev.raw import RawDevice
from bcdtool.errors import BcdToolError, CorruptionError, ImageError, InvalidArgumentError

DISK = 64 * MiB

MBR_SCRIPT = """label: dos
start=2048, size=16M, type=7, bootable
size=8M, type=c
type=5
size=4M, type=83
size=4M, type=7
size=2M, type=ef
"""


def blank(path, size=DISK):
    with open(path, "wb") as f:
        f.truncate(size)
    return path


@pytest.fixture(scope="module")
def gpt_template(tmp_path_factory):
    """sgdisk is slow (it syncs), so the GPT disk is built once and copied per test."""
    path = blank(tmp_path_factory.mktemp("gpt") / "gpt.raw")
    subprocess.run(
        [
            need_tool("sgdisk"),
            "-n",
            "1:2048:+16M",
            "-t",
            "1:ef00",
            "-c",
            "1:EFI system partition",
            "-n",
            "2:0:+8M",
            "-t",
            "2:0c01",
            "-c",
            "2:Microsoft reserved partition",
            "-n",
            "3:0:+20M",
            "-t",
            "3:0700",
            "-c",
            "3:Basic data partition",
            "-n",
            "4:0:0",
            "-t",
            "4:2700",
            "-A",
            "4:set:2",
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    return path


@pytest.fixture
def gpt_disk(gpt_template, tmp_path):
    path = tmp_path / "gpt.raw"
    shutil.copyfile(gpt_template, path)
    return path


@pytest.fixture
def mbr_disk(tmp_path):
    path = blank(tmp_path / "mbr.raw")
    subprocess.run([need_tool("sfdisk"), "-q", str(path)], input=MBR_SCRIPT, text=True,
                   check=True, capture_output=True)
    return path


def sfdisk_json(path) -> dict:
    out = subprocess.run([need_tool("sfdisk"), "--json", str(path)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)["partitiontable"]


def test_gpt_matches_sfdisk(gpt_disk):
    table = sfdisk_json(gpt_disk)
    with RawDevice(gpt_disk) as dev:
        found = read_partition_table(dev)
    assert found.scheme == "gpt" and not found.notices
    assert [(p.index, p.start, p.length, p.type, p.name) for p in found.partitions] == [
        (int(e["node"].rsplit("raw", 1)[1]), e["start"] * 512, e["size"] * 512, e["type"].lower(),
         e.get("name", "")) for e in table["partitions"]]
    names = [p.type_name for p in found.partitions]
    assert names == ["EFI System", "Microsoft reserved", "Microsoft basic data",
                     "Windows recovery environment"]
    assert found.partitions[0].is_esp and found.partitions[3].bootable
    assert not found.partitions[2].bootable


def test_mbr_with_logical_partitions_matches_sfdisk(mbr_disk):
    table = sfdisk_json(mbr_disk)
    expected = [(int(e["node"].rsplit("raw", 1)[1]), e["start"] * 512, e["size"] * 512,
                 f"0x{int(e['type'], 16):02x}", bool(e.get("bootable")))
                for e in table["partitions"] if e["type"] not in ("5", "f", "85")]
    with RawDevice(mbr_disk) as dev:
        parts = read_partition_table(dev).partitions
    assert [(p.index, p.start, p.length, p.type, p.bootable) for p in parts] == expected
    assert [p.index for p in parts] == [1, 2, 5, 6, 7]
    assert parts[0].active and parts[0].type_name == "NTFS/exFAT/HPFS"
    assert parts[-1].is_esp


def test_disk_chooses_a_partition_in_one_way(mbr_disk, tmp_path):
    """--partition N: the partition's start and bytes; an extended container, a number that is
    not there, or 0 on a partitioned disk are refused naming the partitions that are; 0 on a
    disk without a table is the whole disk."""
    expected = {e["node"].rsplit("raw", 1)[1]: e["start"] * 512
                for e in sfdisk_json(mbr_disk)["partitions"]}
    with Disk.open(mbr_disk) as disk:
        assert [p.index for p in disk.partitions] == [1, 2, 5, 6, 7]
        start, view = disk.volume(5)
        assert start == expected["5"] and view.size == disk.table.partition(5).length
        for missing in (0, 3, 8):
            with pytest.raises(InvalidArgumentError, match=r"partitions: 1, 2, 5, 6, 7"):
                disk.volume(missing)
    bare = blank(tmp_path / "bare.raw")
    with Disk.open(bare) as disk:
        assert disk.partitions == [] and disk.volume(0)[0] == 0
        assert disk.volume(0)[1] is disk.dev
        with pytest.raises(InvalidArgumentError, match="partitions: none"):
            disk.volume(1)


def test_partition_view_reads_partition_bytes(mbr_disk):
    with open(mbr_disk, "r+b") as f:
        f.seek(2048 * 512 + 3)
        f.write(b"NTFS    ")
    with RawDevice(mbr_disk) as dev:
        view = read_partition_table(dev).partitions[0].view(dev)
        assert view.size == 16 * MiB and not view.writable()
        assert view.read_at(3, 8) == b"NTFS    "
        with pytest.raises(ImageError):
            view.read_at(view.size - 1, 2)


def test_partitions_through_a_qcow2_image(gpt_disk, tmp_path):
    image = tmp_path / "gpt.qcow2"
    qemu_img("convert", "-f", "raw", "-O", "qcow2", gpt_disk, image)
    with RawDevice(gpt_disk) as raw, open_image(image) as dev:
        assert read_partition_table(dev).partitions == read_partition_table(raw).partitions


def test_corrupt_primary_gpt_header_uses_backup(gpt_disk):
    with open(gpt_disk, "r+b") as f:
        f.seek(512 + 40)
        f.write(b"\xff\xff")
    with RawDevice(gpt_disk) as dev:
        table = read_partition_table(dev)
    assert table.scheme == "gpt" and len(table.partitions) == 4
    assert "header CRC" in table.notices[0] and "backup" in table.notices[0]


def test_corrupt_primary_gpt_entries_uses_backup(gpt_disk):
    with open(gpt_disk, "r+b") as f:
        f.seek(2 * 512 + 60)
        f.write(b"\x55")
    with RawDevice(gpt_disk) as dev:
        table = read_partition_table(dev)
    assert "entry array CRC" in table.notices[0]
    assert table.partitions[0].name == "EFI system partition"


def test_both_gpts_corrupt_is_an_error(gpt_disk):
    with open(gpt_disk, "r+b") as f:
        f.seek(512 + 40)
        f.write(b"\xff")
        f.seek(DISK - 512 + 40)
        f.write(b"\xff")
    with RawDevice(gpt_disk) as dev, pytest.raises(ImageError, match="no valid GPT"):
        read_partition_table(dev).partitions


def _write_gpt_header(path, lba: int, **changes):
    """Rewrite fields of a GPT header and fix its CRC (an independent zlib.crc32)."""
    fields = ["signature", "revision", "header_size", "crc", "reserved", "my_lba", "alternate_lba",
              "first", "last", "guid", "entry_lba", "count", "entry_size", "entries_crc"]
    fmt = "<8sIIII QQQQ 16s QIII"
    with open(path, "r+b") as f:
        f.seek(lba * 512)
        values = dict(zip(fields, struct.unpack(fmt, f.read(92)), strict=True))
        values.update(changes, crc=0)
        raw = struct.pack(fmt, *(values[k] for k in fields))
        raw = raw[:16] + struct.pack("<I", zlib.crc32(raw)) + raw[20:]
        f.seek(lba * 512)
        f.write(raw)


def test_absurd_gpt_entry_count_is_refused_without_allocation(gpt_disk):
    _write_gpt_header(gpt_disk, 1, count=0xFFFFFFFF)
    _write_gpt_header(gpt_disk, DISK // 512 - 1, count=0xFFFFFFFF)
    with RawDevice(gpt_disk) as dev, pytest.raises(ImageError, match="entry array size"):
        read_partition_table(dev).partitions


def test_gpt_header_points_outside_the_disk(gpt_disk):
    _write_gpt_header(gpt_disk, 1, entry_lba=1 << 40)
    with RawDevice(gpt_disk) as dev:
        assert "outside" in read_partition_table(dev).notices[0]


def _ebr_link_to(path, ebr_offset: int, target_rel_lba: int):
    with open(path, "r+b") as f:
        f.seek(ebr_offset + 446 + 16 + 4)
        f.write(bytes([0x05]))
        f.seek(ebr_offset + 446 + 16 + 8)
        f.write(struct.pack("<II", target_rel_lba, 2048))


def test_ebr_chain_cycle_detected(mbr_disk):
    ext = next(e for e in sfdisk_json(mbr_disk)["partitions"] if e["type"] == "5")
    first_ebr = ext["start"] * 512
    with open(mbr_disk, "rb") as f:
        f.seek(first_ebr + 446 + 16 + 8)
        second_rel = struct.unpack("<I", f.read(4))[0]
    assert second_rel
    _ebr_link_to(mbr_disk, first_ebr + second_rel * 512, 0)   # second EBR links back to the first
    with RawDevice(mbr_disk) as dev, pytest.raises(CorruptionError, match="loops"):
        read_partition_table(dev).partitions


def test_logical_partition_outside_extended_is_an_error(mbr_disk):
    ext = next(e for e in sfdisk_json(mbr_disk)["partitions"] if e["type"] == "5")
    with open(mbr_disk, "r+b") as f:
        f.seek(ext["start"] * 512 + 446 + 12)
        f.write(struct.pack("<I", 0x7FFFFFFF))
    with RawDevice(mbr_disk) as dev, pytest.raises(ImageError):
        read_partition_table(dev).partitions


def test_bare_filesystem_has_no_partition_table(tmp_path):
    path = blank(tmp_path / "fat.raw", 34 * MiB)
    subprocess.run([need_tool("mkfs.fat"), "-F", "32", str(path)], check=True, capture_output=True)
    with RawDevice(path) as dev:
        table = read_partition_table(dev)
    assert table.scheme is None and table.partitions == []


@pytest.mark.parametrize("size", [0, 100, 511, 512, 1024, 1536])
def test_tiny_devices(tmp_path, size):
    path = tmp_path / "tiny.raw"
    path.write_bytes(b"\x55\xaa" * (size // 2))
    with RawDevice(path) as dev:
        try:
            read_partition_table(dev).partitions
        except BcdToolError:
            pass


def test_disk_identity_matches_sfdisk(gpt_disk, mbr_disk):
    """The disk GUID / MBR signature and each partition's GUID, as sfdisk reports them: what
    BCD partition devices name."""
    for path in (gpt_disk, mbr_disk):
        table = sfdisk_json(path)
        with RawDevice(path) as dev:
            found = read_partition_table(dev)
        if found.scheme == "gpt":
            assert found.disk_guid == table["id"].lower() and found.disk_signature is None
            assert [p.guid for p in found.partitions] == [e["uuid"].lower()
                                                           for e in table["partitions"]]
        else:
            assert found.disk_signature == int(table["id"], 16) and found.disk_guid is None
        assert found.partition(found.partitions[-1].index) == found.partitions[-1]
        assert found.partition(99) is None
