"""`doctor` asks whether the store describes this disk; `repair boot` makes it so.

Disks are built with real tools around REAL stores from the corpus, whose devices name the disk
of the machine they came from.  Results are read back with python-registry and hivexregedit
(never bcdtool's reader), the expected device bytes are written out here by hand (bcd.md §4.3),
and `undo` must give the original bytes back.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import pytest

from fixtures import images
from tests.helpers.common import BCD_CORPUS, need_tool, need_tools, sha
from tests.ops.ops_helpers import BOOTMGR, build_windows_disk, element_raw, registry, store_bytes

from bcdtool.errors import BcdError, BcdToolError
from bcdtool.ops import undo as undo_ops
from bcdtool.ops.doctor import diagnose
from bcdtool.ops.repair import repair_boot

WINRE = {"Recovery/WindowsRE/Winre.wim": b"MSWIM wim", "Recovery/WindowsRE/boot.sdi": b"$SDI"}
#: (corpus store, firmware, {object: the element codes the store gets wrong on our disk}).
MEMDIAG = "{b2721d73-1db4-4c62-bf78-c548a880142d}"
STORES = {
    "uefi": ("win11-uefi-installed-2025.bcd", {
        BOOTMGR: ["11000001"],
        MEMDIAG: ["11000001"],                                                # a warning
        "{1ab75440-556e-11f0-80d4-daad073cac2e}": ["11000001", "21000001"],   # loader
        "{1ab7543f-556e-11f0-80d4-daad073cac2e}": ["11000001", "21000001"],   # resume
        "{1ab75441-556e-11f0-80d4-daad073cac2e}": ["11000001", "21000001"],   # WinRE ramdisk
        "{1ab75442-556e-11f0-80d4-daad073cac2e}": ["31000003"],               # its sdi device
    }),
    "bios": ("win10-bios-installed-sysreserved.bcd", {
        BOOTMGR: ["11000001"],
        MEMDIAG: ["11000001"],
        "{99066a2d-6dcc-11eb-9378-f32123128c9c}": ["11000001", "21000001"],
        "{99066a2c-6dcc-11eb-9378-f32123128c9c}": ["11000001", "21000001"],
        "{c77a2611-6d5b-11eb-9ff2-e9f459e1e131}": ["11000001", "21000001"],
        "{c77a2612-6d5b-11eb-9ff2-e9f459e1e131}": ["31000003"],
    }),
}


def _problems(report) -> set[str]:
    return {f.id for f in report.findings if f.status == "problem" and _boot(f.id)}


def _boot(fid: str) -> bool:
    return fid.startswith(("boot-device.", "boot-file.", "boot-ref.", "boot-store."))


def _partition_bytes(firmware: str, disk, index: int) -> bytes:
    """The 72-byte partition descriptor (after the 16-byte options GUID) Windows writes for
    partition `index` of the test disk, built by hand from the fixture's own identities."""
    head = (6).to_bytes(4, "little") + bytes(4) + (0x48).to_bytes(4, "little") + bytes(4)
    if firmware == "uefi":
        part = uuid.UUID(images.GPT_PART_UUIDS[index - 1]).bytes_le
        disk_id = uuid.UUID("8D2A6C1E-6E4B-4F3A-9C5D-1B2C3D4E5F60").bytes_le
        return head + part + bytes(4) + (0).to_bytes(4, "little") + disk_id + bytes(16)
    start = disk.partitions[index - 1].start
    return head + start.to_bytes(16, "little") + bytes(4) + (1).to_bytes(4, "little") + \
        (0x1B2C3D4E).to_bytes(16, "little") + bytes(16)


def _build(firmware: str, tmp_path: Path, **extra):
    name, _ = STORES[firmware]
    raw = tmp_path / f"{firmware}.img"
    disk = build_windows_disk(firmware, raw, bcd=(BCD_CORPUS / name).read_bytes(),
                              windows_extra=extra.pop("windows_extra", WINRE), **extra)
    return raw, disk


@pytest.mark.parametrize("firmware", ["uefi", "bios"])
def test_doctor_names_each_wrong_element_and_repair_fixes_them(tmp_path, firmware, state):
    raw, disk = _build(firmware, tmp_path)
    before = diagnose(str(raw))
    wrong = STORES[firmware][1]
    problems = _problems(before)
    # one problem per wrong device element (a warning for {memdiag}: Windows boots without it),
    # and nothing else of the boot checks is wrong
    tool = {f.id for f in before.findings if f.status == "warning" and _boot(f.id)}
    assert tool == {"boot-device.{memdiag}.device"}
    assert len(problems) + 1 == sum(len(codes) for codes in wrong.values()), sorted(problems)
    assert "memtest" in {f.id: f for f in before.findings}[
        "boot-device.{memdiag}.device"].message
    by = {f.id: f for f in before.findings}
    bootmgr = by["boot-device.{bootmgr}.device"]
    assert "not a partition of this disk" in bootmgr.message
    assert "it should be partition 1" in bootmgr.message
    assert bootmgr.fix == f"bcdtool repair boot {raw}"
    assert "it should be partition 2" in by["boot-device.{default}.osdevice"].message
    assert by["boot-store.firmware"].status == "ok"

    digest = sha(raw)
    dry = repair_boot(str(raw), dry_run=True)
    assert sha(raw) == digest and dry.changes and dry.journal is None
    result = repair_boot(str(raw))
    assert result.journal and len(result.details["repoints"]) == len(problems) + 1

    after = diagnose(str(raw))
    assert not _problems(after), after.render_text()
    assert all(f.status == "ok" for f in after.findings if _boot(f.id)), \
        after.render_text()
    # independent read-back: python-registry, bytes as Windows writes them
    data = store_bytes(raw, disk, tmp_path)
    reg = registry(data)
    for guid, codes in wrong.items():
        for code in codes:
            blob = element_raw(reg, guid, code)
            target = 1 if guid in (BOOTMGR, MEMDIAG) else 2
            expected = _partition_bytes(firmware, disk, target)
            if blob[16:20] == bytes(4):          # ramdisk: the partition is the nested parent
                assert expected in blob, (guid, code)
                assert ("Winre.wim".encode("utf-16-le")) in blob
            else:
                assert blob[16:] == expected, (guid, code)
    assert repair_boot(str(raw)).changes == []          # idempotent

    undo_ops.undo(result.journal)
    assert sha(raw) == digest
    _hivex_agrees(data, tmp_path, wrong)                # last: skips without hivexregedit


def _hivex_agrees(data: bytes, tmp_path: Path, wrong: dict) -> None:
    """hivexregedit (libhivex, C) reads the repaired store and sees the same element bytes as
    python-registry."""
    need_tool("hivexregedit")      # an optional oracle: skip, never pass quietly
    hive = tmp_path / "repaired.bcd"
    hive.write_bytes(data)
    out = subprocess.run(["hivexregedit", "--export", str(hive), "\\"], capture_output=True,
                         text=True, check=True).stdout.replace("\\\n", "").replace("\r", "")
    reg = registry(data)
    for guid, codes in wrong.items():
        for code in codes:
            header = f"\\Objects\\{guid}\\Elements\\{code}]".lower()
            section = next(s for s in out.split("\n[") if s.lower().startswith(header[1:])
                           or s.lower().startswith(header))
            hexes = re.search(r'"Element"=hex\(3\):([0-9a-f,\s]*)', section).group(1)
            blob = bytes(int(h, 16) for h in re.findall(r"[0-9a-f]{2}", hexes))
            assert blob == element_raw(reg, guid, code), (guid, code)


def test_partition_of_this_disk_without_the_files(tmp_path):
    """A device naming the right disk but the wrong partition is a problem too."""
    from bcdtool.bcd.device import PartitionDevice
    from bcdtool.bcd.store import BcdStore
    from bcdtool.regf.hive import Hive
    from tests.ops.ops_helpers import LOADER, new_store

    store = BcdStore(Hive.from_bytes(new_store("bios")))
    system = PartitionDevice(style="mbr", disk_signature=0x1B2C3D4E, partition_offset=1 << 20)
    store.set_element(LOADER, 0x21000001, system)            # osdevice: System Reserved
    raw = tmp_path / "disk.img"
    build_windows_disk("bios", raw, bcd=store.to_bytes(same_size=True))
    by = {f.id: f for f in diagnose(str(raw)).findings}
    osdevice = by["boot-device.{default}.osdevice"]
    assert osdevice.status == "problem" and "does not hold" in osdevice.message
    assert by["boot-device.{default}.device"].status == "ok"
    repair_boot(str(raw))
    assert {f.id: f.status for f in diagnose(str(raw)).findings}[
        "boot-device.{default}.osdevice"] == "ok"


def test_missing_files_are_problems(tmp_path):
    raw = tmp_path / "disk.img"
    build_windows_disk("uefi", raw, boot_files=False)
    by = {f.id: f for f in diagnose(str(raw)).findings}
    assert by["boot-file.{bootmgr}.path"].status == "problem"
    assert "bootmgfw.efi" in by["boot-file.{bootmgr}.path"].message
    assert by["boot-file.{default}.path"].status == "problem"
    assert "winload.efi" in by["boot-file.{default}.path"].message
    assert by["boot-file.{default}.systemroot"].status == "ok"
    # a systemroot without a Windows in it
    raw2 = tmp_path / "disk2.img"
    from fixtures.windows_hives import software_hive
    need_tools("sfdisk", "mkfs.fat", "mcopy", "mkntfs", "ntfscp")
    from tests.ops.ops_helpers import BOOT_FILES, new_store
    images.build_esp_disk(raw2, new_store("uefi"), extra_files=BOOT_FILES["uefi"][0],
                          windows_files={"Windows/System32/config/SOFTWARE": software_hive(),
                                         **BOOT_FILES["uefi"][1]})
    by = {f.id: f for f in diagnose(str(raw2)).findings}
    assert by["boot-file.{default}.systemroot"].status == "problem"


def test_missing_default_and_dangling_objects(tmp_path):
    """The corpus' minimal windeploy store: resumeobject and recoverysequence name objects that
    are not there; removing `default` is reported; a default that is no Windows loader warns."""
    from bcdtool.bcd.store import BcdStore
    from bcdtool.regf.hive import Hive

    data = (BCD_CORPUS / "win10-uefi-minimal-windeploy.bcd").read_bytes()
    raw = tmp_path / "disk.img"
    build_windows_disk("uefi", raw, bcd=data)
    by = {f.id: f for f in diagnose(str(raw)).findings}
    assert by["boot-ref.{default}.resumeobject"].status == "problem"
    assert "{bb9cb6e7-3fd0-11ec-8b53-806e6f6e6963}" in by["boot-ref.{default}.resumeobject"].message
    assert by["boot-ref.{default}.recoverysequence"].status == "problem"
    assert by["boot-ref.default"].status == "ok"
    # locate devices resolve by searching the partitions
    assert by["boot-device.{default}.device"].status == "ok"
    assert "locates" in by["boot-device.{default}.device"].message

    store = BcdStore(Hive.from_bytes(data))
    store.delete_element(BOOTMGR, 0x23000003)
    no_default = tmp_path / "no-default.img"
    build_windows_disk("uefi", no_default, bcd=store.to_bytes(same_size=True))
    finding = {f.id: f for f in diagnose(str(no_default)).findings}["boot-ref.default"]
    assert finding.status == "problem" and "falls back" in finding.message

    store = BcdStore(Hive.from_bytes(data))
    store.set_element(BOOTMGR, 0x23000003, BOOTMGR)
    store.set_element(BOOTMGR, 0x24000001, ["{d65367c7-3fb7-11ec-8288-eab76d76405a}",
                                            "{00000000-1111-2222-3333-444444444444}"])
    odd = tmp_path / "odd.img"
    build_windows_disk("uefi", odd, bcd=store.to_bytes(same_size=True))
    by = {f.id: f for f in diagnose(str(odd)).findings}
    assert by["boot-ref.default"].status == "warning"
    assert by["boot-ref.displayorder"].status == "problem"
    assert "{00000000-1111-2222-3333-444444444444}" in by["boot-ref.displayorder"].message


def test_several_candidates_refuse_and_list_them(tmp_path):
    raw = tmp_path / "disk.img"
    need_tools("sfdisk", "mkfs.fat", "mcopy", "mkntfs", "ntfscp")
    from tests.ops.ops_helpers import BOOT_FILES
    from fixtures.windows_hives import software_hive, system_hive
    name, _ = STORES["uefi"]
    # the ESP holds a second Windows tree, so two partitions hold \Windows
    esp = {**BOOT_FILES["uefi"][0], "Windows/System32/config/SYSTEM": system_hive()}
    images.build_esp_disk(raw, (BCD_CORPUS / name).read_bytes(), extra_files=esp,
                          windows_files={**images.windows_hive_files(system_hive(),
                                                                     software_hive()),
                                         **BOOT_FILES["uefi"][1], **WINRE})
    digest = sha(raw)
    with pytest.raises(BcdError, match="several partitions hold.*partition 1.*partition 2"):
        repair_boot(str(raw))
    assert sha(raw) == digest


def test_unreadable_store_names_new_store(tmp_path):
    need_tools("sfdisk", "mkntfs", "ntfscp")
    raw = tmp_path / "disk.img"
    images.build_mbr_disk(raw, b"not a hive" * 100, windows_files=images.windows_hive_files(b"x"))
    with pytest.raises(BcdToolError, match=r"bcdtool new-store BCD --firmware bios --disk "
                       + str(raw) + ", then copy BCD to Boot/BCD on partition 1"):
        repair_boot(str(raw))


def test_locate_devices_resolve_by_search(tmp_path):
    """Windows 8.1's store names every device `locate`: nothing to repair on any disk that
    holds the files; the missing hiberfil.sys of a resume object is normal."""
    raw = tmp_path / "disk.img"
    build_windows_disk("bios", raw,
                       bcd=(BCD_CORPUS / "win81-bios-installed-sysreserved.bcd").read_bytes())
    report = diagnose(str(raw))
    boot = {f.id: f for f in report.findings if _boot(f.id)}
    assert all(f.status == "ok" for f in boot.values()), report.render_text()
    assert "locates \\bootmgr on partition 1" in boot["boot-device.{bootmgr}.device"].message
    assert repair_boot(str(raw)).changes == []


def test_store_firmware_does_not_read_and_copies_that_differ(tmp_path):
    """A GPT disk whose ESP holds no store: the only store (on the Windows partition) is not the
    one that boots; with two differing stores, doctor says which is used and that they differ."""
    need_tools("sfdisk", "mkfs.fat", "mcopy", "mkntfs", "ntfscp")
    from fixtures.windows_hives import software_hive, system_hive
    from tests.ops.ops_helpers import BOOT_FILES, new_store

    windows = {**images.windows_hive_files(system_hive(), software_hive()),
               **BOOT_FILES["uefi"][1], "Boot/BCD": new_store("uefi")}
    raw = tmp_path / "disk.img"
    images.build_esp_disk(raw, new_store("uefi"), extra_files=BOOT_FILES["uefi"][0],
                          windows_files=windows)
    by = {f.id: f for f in diagnose(str(raw)).findings}
    assert by["boot-store.firmware"].status == "ok"
    assert by["boot-store.copies"].status == "ok"
    assert "say the same" in by["boot-store.copies"].message
    other = diagnose(str(raw), partition=2)
    by = {f.id: f for f in other.findings}
    assert by["boot-store.firmware"].status == "warning"
    assert "EFI/Microsoft/Boot/BCD on partition 1" in by["boot-store.firmware"].message

    from bcdtool.ops import serial_console as sc
    sc.enable(str(raw), partition=2)              # the copy on partition 2 now differs
    by = {f.id: f for f in diagnose(str(raw)).findings}
    copies = by["boot-store.copies"]
    assert copies.status == "warning" and "differs" in copies.message
    assert "firmware uses EFI/Microsoft/Boot/BCD on partition 1" in copies.message
    assert [e.note for e in copies.evidence] == ["differs"]


def test_no_store_where_firmware_looks(tmp_path):
    need_tools("sfdisk", "mkntfs", "ntfscp")
    from fixtures.windows_hives import software_hive, system_hive
    from tests.ops.ops_helpers import new_store

    raw = tmp_path / "disk.img"
    disk = images.build_mbr_disk(raw, new_store("bios"),
                                 windows_files=images.windows_hive_files(system_hive(),
                                                                         software_hive()))
    # make partition 2 active instead of 1: firmware then reads partition 2, which has no store
    subprocess.run(["sfdisk", "-q", "--activate", str(raw), "2"], check=True,
                   capture_output=True)
    del disk
    by = {f.id: f for f in diagnose(str(raw)).findings}
    firmware = by["boot-store.firmware"]
    assert firmware.status == "problem" and "partition 2" in firmware.message
    assert firmware.fix.startswith(f"bcdtool new-store BCD --firmware bios --disk {raw}")


def test_edition_without_software_hive_is_unknown(tmp_path):
    from fixtures.windows_hives import system_hive

    raw = tmp_path / "disk.img"
    need_tools("sfdisk", "mkntfs", "ntfscp")
    from tests.ops.ops_helpers import BOOT_FILES, new_store
    images.build_mbr_disk(raw, new_store("bios"), extra_files=BOOT_FILES["bios"][0],
                          windows_files={"Windows/System32/config/SYSTEM":
                                         system_hive(edition="client"), **BOOT_FILES["bios"][1]})
    edition = {f.id: f for f in diagnose(str(raw)).findings}["windows-edition"]
    assert edition.status == "unknown" and "client" not in edition.message.split("(")[0]
    assert "no SOFTWARE hive" in edition.message


def test_right_disk_but_no_partition_there(tmp_path):
    """The disk signature is this disk's, the offset is not a partition's (a partition that was
    moved): named as such, and repaired."""
    from bcdtool.bcd.device import PartitionDevice
    from bcdtool.bcd.store import BcdStore
    from bcdtool.regf.hive import Hive
    from tests.ops.ops_helpers import LOADER, new_store

    store = BcdStore(Hive.from_bytes(new_store("bios")))
    moved = PartitionDevice(style="mbr", disk_signature=0x1B2C3D4E, partition_offset=99 << 20)
    store.set_element(LOADER, 0x11000001, moved)
    raw = tmp_path / "disk.img"
    build_windows_disk("bios", raw, bcd=store.to_bytes(same_size=True))
    finding = {f.id: f for f in diagnose(str(raw)).findings}["boot-device.{default}.device"]
    assert finding.status == "problem" and "on this disk but where no partition is" in \
        finding.message and "it should be partition 2" in finding.message
    assert [r["partition"] for r in repair_boot(str(raw)).details["repoints"]] == [2]


@pytest.mark.parametrize("parent", ["mbr:1b2c3d4e:0x1100000", "locate"])
def test_native_vhd_boot_entry(tmp_path, parent):
    """A loader booting a VHD: the .vhdx must be where the device says; what is inside it is not
    looked up (no false problem for winload or systemroot)."""
    from bcdtool.bcd.device import parse_device_text
    from bcdtool.bcd.store import BcdStore
    from bcdtool.regf.hive import Hive
    from tests.ops.ops_helpers import LOADER, new_store

    store = BcdStore(Hive.from_bytes(new_store("bios")))
    vhd = parse_device_text(f"vhd=[{parent}]\\vhd\\win.vhdx", str)
    for code in (0x11000001, 0x21000001):
        store.set_element(LOADER, code, vhd)
    image = store.to_bytes(same_size=True)
    raw = tmp_path / "with.img"
    build_windows_disk("bios", raw, bcd=image, windows_extra={"vhd/win.vhdx": b"vhdxfile"})
    by = {f.id: f for f in diagnose(str(raw)).findings}
    assert by["boot-device.{default}.device"].status == "ok", by["boot-device.{default}.device"]
    assert "win.vhdx is on partition 2" in by["boot-device.{default}.device"].message
    assert "boot-file.{default}.path" not in by
    bare = tmp_path / "without.img"
    build_windows_disk("bios", bare, bcd=image)
    by = {f.id: f for f in diagnose(str(bare)).findings}
    assert by["boot-device.{default}.osdevice"].status == "problem"
