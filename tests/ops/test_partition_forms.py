"""bcdedit's `partition=` forms users paste on a rescue machine — `#2`, `/dev/sdc2`, a drive
letter of the guest's Windows (SYSTEM\\MountedDevices) — and native VHD devices, each checked
against the bytes of a device element Windows itself wrote (corpus stores)."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from fixtures import images
from fixtures.windows_hives import mounted_gpt, mounted_mbr, system_hive
from tests.helpers.common import BCD_CORPUS, need_tools, run_process as bcdtool, sha
from tests.ops.ops_helpers import BOOTMGR, LOADER, build_windows_disk, element_raw, registry, \
    store_bytes

SIGNATURE = 0x1B2C3D4E
SYSRESERVED = "win10-bios-installed-sysreserved.bcd"
GPT_DISK = "8d2a6c1e-6e4b-4f3a-9c5d-1b2c3d4e5f60"


def windows_mbr_device(offset: int) -> bytes:
    """The {bootmgr} device Windows 10 wrote (corpus), moved to this disk: only the disk
    signature and the partition offset differ between disks (bcd.md §4.3)."""
    reg = registry((BCD_CORPUS / SYSRESERVED).read_bytes())
    blob = bytearray(element_raw(reg, BOOTMGR, "11000001"))
    blob[0x20:0x28] = offset.to_bytes(8, "little")
    blob[0x38:0x3C] = SIGNATURE.to_bytes(4, "little")
    return bytes(blob)


def windows_gpt_device(partition_guid: str) -> bytes:
    """The loader device Windows 11 wrote (corpus), moved to this disk's GUIDs."""
    reg = registry((BCD_CORPUS / "win11-uefi-installed-2025.bcd").read_bytes())
    blob = bytearray(element_raw(reg, "{1ab75440-556e-11f0-80d4-daad073cac2e}", "11000001"))
    blob[0x20:0x30] = uuid.UUID(partition_guid).bytes_le
    blob[0x38:0x48] = uuid.UUID(GPT_DISK).bytes_le
    return bytes(blob)


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def test_azure_paste_with_the_guests_drive_letters(tmp_path, state):
    """Azure's `bcdedit /store F:\\boot\\bcd /set {bootmgr} device partition=F:` and
    `/set {default} device partition=C:`, with the letters the guest's Windows gave."""
    raw = tmp_path / "disk.img"
    mounted = {"C": mounted_mbr(SIGNATURE, 17 << 20), "F": mounted_mbr(SIGNATURE, 1 << 20),
               "E": mounted_mbr(0x12345678, 1 << 20)}
    disk = build_windows_disk("bios", raw, system=system_hive(mounted=mounted),
                              bcd=(BCD_CORPUS / SYSRESERVED).read_bytes())
    run = bcdtool("bcdedit", "--store", raw, "/store", r"F:\boot\bcd", "/set", "{bootmgr}",
                  "device", "partition=F:")
    assert run.returncode == 0, run.stderr
    assert 'partition=F: is partition 1 (ntfs "System Reserved"' in run.stderr
    assert "drive F: in the MountedDevices" in run.stderr
    for element in ("device", "osdevice"):
        run = bcdtool("bcdedit", "--store", raw, "/set", "{default}", element, "partition=C:")
        assert run.returncode == 0, run.stderr
        assert 'partition=C: is partition 2 (ntfs "Windows"' in run.stderr
    reg = registry(store_bytes(raw, disk, tmp_path))
    assert element_raw(reg, BOOTMGR, "11000001") == windows_mbr_device(1 << 20)
    default = "{99066a2d-6dcc-11eb-9378-f32123128c9c}"
    assert element_raw(reg, default, "11000001") == windows_mbr_device(17 << 20)
    assert element_raw(reg, default, "21000001") == windows_mbr_device(17 << 20)
    # a letter on another disk, and one the guest does not have, are refused with the way out
    digest = sha(raw)
    other = bcdtool("bcdedit", "--store", raw, "/set", "{default}", "device", "partition=E:")
    assert other.returncode == 24 and "not a partition of this disk" in other.stderr
    assert "partition=#N" in other.stderr
    missing = bcdtool("bcdedit", "--store", raw, "/set", "{default}", "device", "partition=Z:")
    assert missing.returncode == 24 and "names C:, E:, F:" in missing.stderr
    assert sha(raw) == digest


def test_gpt_letters_and_partition_numbers(tmp_path, state):
    raw = tmp_path / "disk.img"
    windows = images.GPT_PART_UUIDS[1]
    disk = build_windows_disk("uefi", raw, system=system_hive(mounted={"C": mounted_gpt(windows)}),
                              bcd=(BCD_CORPUS / "win11-uefi-installed-2025.bcd").read_bytes())
    loader = "{1ab75440-556e-11f0-80d4-daad073cac2e}"
    assert bcdtool("bcdedit", "--store", raw, "/set", loader, "device",
                   "partition=C:").returncode == 0
    run = bcdtool("bcdedit", "--store", raw, "/set", loader, "osdevice", "partition=#2")
    assert run.returncode == 0 and "partition=#2 is partition 2" in run.stderr
    run = bcdtool("bcdedit", "--store", raw, "/set", BOOTMGR, "device", "partition=#1")
    assert run.returncode == 0, run.stderr
    reg = registry(store_bytes(raw, disk, tmp_path))
    assert element_raw(reg, loader, "11000001") == windows_gpt_device(windows)
    assert element_raw(reg, loader, "21000001") == windows_gpt_device(windows)
    assert element_raw(reg, BOOTMGR, "11000001") == windows_gpt_device(images.GPT_PART_UUIDS[0])
    # partition numbers that do not exist, and Linux nodes of an image, are refused
    assert bcdtool("bcdedit", "--store", raw, "/set", loader, "device",
                   "partition=#7").returncode == 24
    node = bcdtool("bcdedit", "--store", raw, "/set", loader, "device", "partition=/dev/sdc2")
    assert node.returncode == 24 and "image file" in node.stderr


def test_partition_forms_need_a_disk(tmp_path):
    store = tmp_path / "BCD"
    store.write_bytes((BCD_CORPUS / SYSRESERVED).read_bytes())
    run = bcdtool("bcdedit", "--store", store, "/set", "{default}", "device", "partition=C:")
    assert run.returncode == 17 and "give the whole disk or image" in run.stderr


@pytest.mark.parametrize("firmware, number, index", [("bios", 1, 1), ("bios", 2, 2),
                                                      ("uefi", 2, 2), ("bios", 9, None)])
def test_harddisk_volume_is_refused_naming_the_likely_partition(tmp_path, state, firmware,
                                                                 number, index):
    """`partition=\\Device\\HarddiskVolumeN` (what bcdedit prints for a volume without a letter):
    the number is the running Windows' count over every disk, stored nowhere, so it is refused
    (exit 17, nothing written) naming partition=#N for the case that this was its only disk."""
    raw = tmp_path / "disk.img"
    build_windows_disk(firmware, raw)
    digest = sha(raw)
    run = bcdtool("bcdedit", "--store", raw, "/set", "{default}", "osdevice",
                  f"partition=\\Device\\HarddiskVolume{number}")
    assert run.returncode == 17 and "stored nowhere" in run.stderr
    assert "give the whole disk" not in run.stderr       # it was given
    if index is None:
        assert "only disk" not in run.stderr
    else:
        assert f"only disk, it is partition {index} (" in run.stderr
        assert run.stderr.rstrip().endswith(f"partition=#{index}")
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    assert sha(raw) == digest


def test_linux_node_of_the_target_block_device(tmp_path, state):
    """`partition=/dev/loopNp2` when the target is /dev/loopN (root and loop devices only)."""
    need_tools("losetup")
    if os.geteuid() != 0:
        pytest.skip("loop devices need root")
    raw = tmp_path / "disk.img"
    disk = build_windows_disk("bios", raw)
    run = subprocess.run(["losetup", "-f", "--show", "-P", str(raw)], capture_output=True,
                         text=True)
    if run.returncode != 0:
        pytest.skip(f"no loop device here: {run.stderr.strip()}")
    dev = run.stdout.strip()
    try:
        done = bcdtool("bcdedit", "--store", dev, "/set", LOADER, "osdevice",
                       f"partition={dev}p2")
        assert done.returncode == 0, done.stderr
        assert f"partition={dev}p2 is partition 2" in done.stderr
        wrong = bcdtool("bcdedit", "--store", dev, "/set", LOADER, "osdevice",
                        "partition=/dev/sdzz2")
        assert wrong.returncode == 24 and "not a partition of the target" in wrong.stderr
        # the image file as target, its loop device's partition node as pasted
        via_image = bcdtool("bcdedit", "--store", raw, "/set", LOADER, "device",
                            f"partition={dev}p2")
        assert via_image.returncode == 0, via_image.stderr
        assert f"partition={dev}p2 is partition 2" in via_image.stderr
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)
    reg = registry(store_bytes(raw, disk, tmp_path))
    assert element_raw(reg, LOADER, "21000001") == windows_mbr_device(17 << 20)
    assert element_raw(reg, LOADER, "11000001") == windows_mbr_device(17 << 20)


def test_ramdisk_on_a_drive_letter_is_windows_bytes(tmp_path, state):
    """`ramdisk=[C:]\\Recovery\\WindowsRE\\Winre.wim,{options}`: the WinRE device Windows 10 wrote
    (corpus), with only the nested partition's offset and signature moved to this disk."""
    raw = tmp_path / "disk.img"
    disk = build_windows_disk("bios", raw,
                              system=system_hive(mounted={"C": mounted_mbr(SIGNATURE, 17 << 20)}),
                              bcd=(BCD_CORPUS / SYSRESERVED).read_bytes())
    winre = "{c77a2611-6d5b-11eb-9ff2-e9f459e1e131}"
    options = "{c77a2612-6d5b-11eb-9ff2-e9f459e1e131}"
    run = bcdtool("bcdedit", "--store", raw, "/set", winre, "device",
                  f"ramdisk=[C:]\\Recovery\\WindowsRE\\Winre.wim,{options}")
    assert run.returncode == 0, run.stderr
    original = registry((BCD_CORPUS / SYSRESERVED).read_bytes())
    expected = bytearray(element_raw(original, winre, "11000001"))
    nested = 0x44 + 0x10                      # the parent partition's body inside the ramdisk
    expected[nested:nested + 8] = (17 << 20).to_bytes(8, "little")
    expected[nested + 0x18:nested + 0x1C] = SIGNATURE.to_bytes(4, "little")
    reg = registry(store_bytes(raw, disk, tmp_path))
    assert element_raw(reg, winre, "11000001") == bytes(expected)
