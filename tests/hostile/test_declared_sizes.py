"""Declared sizes inside images are checked against bcdtool.limits before anything is read, and a
BCD command on a hostile image stays under 100 MiB of peak memory (measured on a subprocess)."""

from __future__ import annotations

import struct
import subprocess
import sys
import tracemalloc

import pytest

from tests.hostile.hostile_helpers import REPO, run_cli
from tests.helpers.common import CORPUS, need_tools
from bcdtool.errors import CorruptionError, DirtyHiveError, LimitError
from bcdtool.limits import MAX_BCD_BYTES
from bcdtool.locate import open_hive
from bcdtool.regf import logs as regf_logs
from bcdtool.regf.checksums import regf_checksum
from bcdtool.regf.layout import BB_FILE_TYPE, LOG_FILE_TYPE_NEW

MiB = 1024 * 1024
#: Peak resident memory a BCD command may use on any input (issue #11).
MAX_RSS = 100 * MiB


def fat_entry(image, start: int, length: int, short_name: bytes) -> int:
    """Offset in `image` of the 8.3 directory entry named `short_name` (11 bytes) inside the
    FAT volume at `start` (the first match that is a file, not a label or folder)."""
    data = image.read_bytes()[start:start + length]
    pos = 0
    while (pos := data.find(short_name, pos)) >= 0:
        if pos % 32 == 0 and not data[pos + 11] & 0x18:
            return start + pos
        pos += 1
    raise AssertionError(f"no entry {short_name!r}")


def set_fat_size(image, disk, short_name: bytes, size: int) -> None:
    part = disk.bcd_part
    at = fat_entry(image, part.start, part.length, short_name)
    with open(image, "r+b") as f:
        f.seek(at + 28)
        f.write(struct.pack("<I", size))


def dirty(store: bytes) -> bytes:
    """The store with its primary sequence number bumped (a write was interrupted): its logs
    must be read to open it."""
    data = bytearray(store)
    struct.pack_into("<I", data, 4, struct.unpack_from("<I", data, 4)[0] + 1)
    struct.pack_into("<I", data, 508, regf_checksum(bytes(data[:508])))
    return bytes(data)


def peak_rss(*args) -> int:
    """Peak resident set size (bytes) of `bcdtool ARGS` run alone in a fresh wrapper process
    (RUSAGE_CHILDREN of a process with that one child is the child's own peak)."""
    code = ("import resource, subprocess, sys; "
            "subprocess.run([sys.executable, '-m', 'bcdtool', *sys.argv[1:]], "
            "stdin=subprocess.DEVNULL, capture_output=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, check=True, cwd=REPO, timeout=300)
    return int(done.stdout) * 1024     # Linux reports KiB


@pytest.mark.parametrize("name,size", [(b"BCD        ", 1 << 30), (b"BCD        ", 0xFFFFFFFF),
                                       (b"BCD     LOG", 0xF0000000), (b"BCD     LOG", 1 << 30)])
def test_fat_entry_claiming_more_than_the_volume(disk_copy, hostile_disks, name, size):
    image = disk_copy("uefi")
    set_fat_size(image, hostile_disks["uefi"], name, size)
    with pytest.raises(CorruptionError, match="more than its whole volume.*fsck.fat -n"):
        open_hive(image)
    done = run_cli("enum", image)
    assert done.returncode == CorruptionError.exit_code, done.stderr


def test_fat_store_over_the_bcd_cap_is_refused_before_reading(tmp_path):
    """A store entry declaring 65 MiB inside a 200 MiB ESP: within the volume, over the cap."""
    from fixtures import images

    need_tools("sfdisk", "mkfs.fat", "mcopy")
    store = (CORPUS / "bcd" / "win11-uefi-installed-2025.bcd").read_bytes()
    disk = images.build_esp_disk(tmp_path / "big.img", store, esp_mib=200)
    set_fat_size(disk.path, disk, b"BCD        ", MAX_BCD_BYTES + MiB)
    with pytest.raises(LimitError, match="cap"):
        open_hive(disk.path)
    assert peak_rss("enum", disk.path) < MAX_RSS


def ntfs_with_sparse_log(path, *, volume_mib: int, log_size: int):
    """An NTFS volume (no partition table) holding a dirty store and a sparse BCD.LOG1 that
    declares `log_size` bytes."""
    from fixtures import images

    need_tools("mkntfs", "ntfscp")
    store = (CORPUS / "bcd" / "win10-bios-installed-sysreserved.bcd").read_bytes()
    return images.make_ntfs_volume(path, {"Boot/BCD": dirty(store)}, size_mib=volume_mib,
                                   sparse={"Boot/BCD.LOG1": [(0, b"HvLE" * 128),
                                                             (log_size - 512, b"x" * 512)]})


def test_ntfs_sparse_log_of_3_75_gib_is_refused_before_reading(tmp_path):
    image = ntfs_with_sparse_log(tmp_path / "sr.img", volume_mib=32,
                                 log_size=3 * 1024 * MiB + 768 * MiB)
    with pytest.raises(CorruptionError, match="ntfsfix -n"):
        open_hive(image)
    done = run_cli("enum", image)
    assert done.returncode == CorruptionError.exit_code, done.stderr
    assert peak_rss("enum", image) < MAX_RSS
    assert peak_rss("bcdedit", "/store", image, "/set", "{bootmgr}", "timeout", "5") < MAX_RSS


def test_ntfs_sparse_log_over_the_cap_inside_the_volume(tmp_path):
    """A sparse log of 100 MiB in a 160 MiB volume: pytsk3 would read it whole (it is not
    plainly in clusters); the cap refuses it first."""
    image = ntfs_with_sparse_log(tmp_path / "sr.img", volume_mib=160, log_size=100 * MiB)
    with pytest.raises(LimitError, match="cap of 67108864"):
        open_hive(image)
    assert peak_rss("enum", image) < MAX_RSS


def test_hive_log_over_the_cap_beside_a_file_is_refused_unread(tmp_path):
    hive = tmp_path / "SYSTEM"
    hive.write_bytes(dirty((CORPUS / "bcd" / "win10-bios-installed-sysreserved.bcd").read_bytes()))
    with open(tmp_path / "SYSTEM.LOG1", "wb") as f:
        f.truncate(10 << 30)                                   # sparse: 10 GiB declared
    with pytest.raises(LimitError, match="cap"):
        regf_logs.read_log_files(hive)
    with pytest.raises(LimitError):
        regf_logs.read_log_files(hive, max_size=MAX_BCD_BYTES)


@pytest.mark.parametrize("field,value", [(16, 0xFFFFF000), (16, 0x7FFFF000), (20, 0xFFFFFFFF),
                                         (20, 0x1FFFFFFF), (4, 0xFFFFFE00), (4, 0xFFFFFFFF)])
def test_log_entry_declaring_huge_sizes_allocates_little(field, value):
    """A new-format log whose first entry declares a huge size, page count or hive size:
    refused as a dirty hive that cannot be recovered, allocating far less than declared."""
    store = dirty((CORPUS / "bcd" / "win10-bios-installed-sysreserved.bcd").read_bytes())
    log = bytearray(512)
    log[:512] = store[:512]
    struct.pack_into("<I", log, BB_FILE_TYPE, LOG_FILE_TYPE_NEW)
    struct.pack_into("<I", log, 508, regf_checksum(bytes(log[:508])))
    entry = bytearray(4096)
    entry[:4] = b"HvLE"
    struct.pack_into("<IIIIII", entry, 4, 4096, 0, struct.unpack_from("<I", store, 4)[0],
                     4096, 1, 0)
    struct.pack_into("<I", entry, field, value)
    tracemalloc.start()
    try:
        with pytest.raises(DirtyHiveError):
            regf_logs.recover(store, [("BCD.LOG1", bytes(log + entry))])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB


def test_peak_memory_of_bcd_commands_on_hostile_disks(disk_copy, hostile_disks):
    """The read and write commands on FAT entries claiming 1 GiB and 4 GiB, and on a random
    disk: each refused with one error and under 100 MiB resident at its peak."""
    cases = []
    for name, size in [(b"BCD        ", 1 << 30), (b"BCD     LOG", 0xFFFFFFFF)]:
        image = disk_copy("uefi", name=f"hostile-{size}.img")
        set_fat_size(image, hostile_disks["uefi"], name, size)
        cases.append(image)
    for image in cases:
        for args in (["enum", "--json", image],
                     ["bcdedit", "/store", image, "/set", "{bootmgr}", "timeout", "5"],
                     ["serial-console", "enable", image]):
            done = run_cli(*args)
            assert done.returncode not in (0, 1), (args, done.stderr)
            assert peak_rss(*args) < MAX_RSS, args


def test_the_rss_probe_can_fail(tmp_path):
    """Control: the probe sees a child that really uses 150 MiB."""
    code = ("import resource, subprocess, sys; subprocess.run([sys.executable, '-c', "
            "'x = bytearray(150 * 1024 * 1024); x[::4096] = b\"1\" * len(x[::4096])']); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(done.stdout) * 1024 > MAX_RSS
