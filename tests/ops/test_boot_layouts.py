"""`doctor` and `repair boot` on layouts the first tests did not build: the memory tester
({memdiag}) and the tools menu, a loader `path` for the other firmware (a disk converted with
mbr2gpt, a BIOS store copied to an ESP), a BitLocker-encrypted Windows partition (never written,
refused with the way to name it), object keys that differ only in letter case, an entry twice in
the boot menu.  Disks are built with real tools (sfdisk, mkfs.fat/mcopy, mkntfs/ntfscp); results
are read back with python-registry and mtools/ntfscat, never with bcdtool's reader."""

from __future__ import annotations

import uuid

import pytest

from fixtures import images
from fixtures.windows_hives import software_hive, system_hive
from tests.helpers.common import BCD_CORPUS, need_tools, run_process as bcdtool, sha
from tests.ops.ops_helpers import (BOOT_FILES, BOOTMGR, LOADER, RESUME, build_windows_disk,
                                   element_raw, new_store, registry, store_bytes)

from bcdtool.bcd.store import BcdStore
from bcdtool.ops import undo as undo_ops
from bcdtool.ops.doctor import diagnose
from bcdtool.ops.repair import repair_boot
from bcdtool.regf.hive import Hive

MEMDIAG = "{b2721d73-1db4-4c62-bf78-c548a880142d}"
PATH, TOOLS, DISPLAYORDER = 0x12000002, 0x24000010, 0x24000001


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def _by(report) -> dict:
    return {f.id: f for f in report.findings}


def _boot_not_ok(report, *statuses: str) -> list:
    """The boot checks (not the serial-console ones) with one of `statuses`."""
    return [f for f in report.findings if f.status in statuses and f.id.startswith((
        "boot-device.", "boot-file.", "boot-ref.", "boot-store.", "boot-firmware."))]


def _edited(firmware: str, edit) -> bytes:
    store = BcdStore(Hive.from_bytes(new_store(firmware)))
    edit(store)
    return store.to_bytes(same_size=True)


def _utf16(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


# --- the memory tester and the tools menu --------------------------------------------------------

@pytest.mark.parametrize("firmware, memtest", [("uefi", r"\EFI\Microsoft\Boot\memtest.efi"),
                                               ("bios", r"\boot\memtest.exe")])
def test_memdiag_is_checked_and_a_missing_tester_is_a_warning(tmp_path, firmware, memtest):
    raw = tmp_path / "ok.img"
    build_windows_disk(firmware, raw)
    by = _by(diagnose(str(raw)))
    assert by["boot-device.{memdiag}.device"].status == "ok"
    assert by["boot-file.{memdiag}.path"].status == "ok"
    assert by["boot-ref.toolsdisplayorder"].status == "ok"

    # the same disk without the memory tester: a warning naming the file, Windows still boots
    need_tools("sfdisk", "mkntfs", "ntfscp", "mkfs.fat", "mcopy")
    bare = tmp_path / "bare.img"
    system = {k: v for k, v in BOOT_FILES[firmware][0].items() if "memtest" not in k}
    windows = {**images.windows_hive_files(system_hive(), software_hive()),
               **BOOT_FILES[firmware][1]}
    build = images.build_esp_disk if firmware == "uefi" else images.build_mbr_disk
    build(bare, new_store(firmware), extra_files=system, windows_files=windows)
    report = diagnose(str(bare))
    finding = _by(report)["boot-file.{memdiag}.path"]
    assert finding.status == "warning" and memtest in finding.message
    assert "{memdiag} only: Windows itself boots" in finding.message
    assert not _boot_not_ok(report, "problem")


def test_tools_menu_naming_a_deleted_object_and_the_fix_given(tmp_path):
    gone = "{00000000-1111-2222-3333-444444444444}"
    raw = tmp_path / "disk.img"
    disk = build_windows_disk("uefi", raw, bcd=_edited(
        "uefi", lambda s: s.set_element(BOOTMGR, TOOLS, [MEMDIAG, gone])))
    finding = _by(diagnose(str(raw)))["boot-ref.toolsdisplayorder"]
    assert finding.status == "warning" and gone in finding.message
    # the fix doctor names works as written (exit 0) and doctor is then content
    words = finding.fix.split()
    assert words[:3] == ["bcdtool", "bcdedit", "--store"]
    run = bcdtool(*words[1:])
    assert run.returncode == 0, run.stderr
    assert _by(diagnose(str(raw)))["boot-ref.toolsdisplayorder"].status == "ok"
    reg = registry(store_bytes(raw, disk, tmp_path))
    assert element_raw(reg, BOOTMGR, "24000010") == (MEMDIAG + "\0\0").encode("utf-16-le")


def test_an_entry_twice_in_the_boot_menu_warns(tmp_path):
    raw = tmp_path / "disk.img"
    build_windows_disk("bios", raw, bcd=_edited(
        "bios", lambda s: s.set_element(BOOTMGR, DISPLAYORDER, [LOADER, MEMDIAG, LOADER])))
    finding = _by(diagnose(str(raw)))["boot-ref.displayorder.duplicates"]
    assert finding.status == "warning" and LOADER in finding.message


# --- a path for the other firmware ---------------------------------------------------------------

def test_bios_loader_paths_in_a_store_uefi_reads_are_repaired(tmp_path):
    """A GPT disk (converted with mbr2gpt, or a BIOS store copied to the ESP): its loader and
    resume object still start winload.exe/winresume.exe.  Both programs are on the disk, so
    repair boot sets the .efi ones; undo gives the original bytes back."""
    def bios_paths(store):
        store.set_element(LOADER, PATH, r"\Windows\system32\winload.exe")
        store.set_element(RESUME, PATH, r"\Windows\system32\winresume.exe")

    raw = tmp_path / "disk.img"
    both = {"Windows/System32/winload.exe": b"MZ winload pcat",
            "Windows/System32/winresume.exe": b"MZ winresume pcat"}
    disk = build_windows_disk("uefi", raw, bcd=_edited("uefi", bios_paths), windows_extra=both)
    by = _by(diagnose(str(raw)))
    finding = by["boot-firmware.{default}.path"]
    assert finding.status == "problem" and "winload.exe, a BIOS (PC/AT) program" in \
        finding.message and "UEFI firmware" in finding.message
    assert finding.fix == f"bcdtool repair boot {raw}"
    resume = [f for f in by.values() if f.id.startswith("boot-firmware.") and "winresume" in
              f.message]
    assert len(resume) == 1 and resume[0].status == "problem"

    digest = sha(raw)
    result = repair_boot(str(raw))
    assert {(m["element"], m["new"]) for m in result.details["repoints"]} == {
        ("path", r"\Windows\system32\winload.efi"), ("path", r"\Windows\system32\winresume.efi")}
    reg = registry(store_bytes(raw, disk, tmp_path))
    assert element_raw(reg, LOADER, "12000002") == _utf16(r"\Windows\system32\winload.efi")
    assert element_raw(reg, RESUME, "12000002") == _utf16(r"\Windows\system32\winresume.efi")
    after = diagnose(str(raw))
    assert not _boot_not_ok(after, "problem", "warning", "unknown"), after.render_text()
    undo_ops.undo(result.journal)
    assert sha(raw) == digest


def test_uefi_loader_in_a_bios_store_without_the_bios_loader_is_refused(tmp_path):
    raw = tmp_path / "disk.img"
    build_windows_disk("bios", raw, bcd=_edited(
        "bios", lambda s: s.set_element(LOADER, PATH, r"\Windows\system32\winload.efi")),
        boot_files=False, system_extra=BOOT_FILES["bios"][0],
        windows_extra={"Windows/System32/winload.efi": b"MZ winload efi"})
    finding = _by(diagnose(str(raw)))["boot-firmware.{default}.path"]
    assert finding.status == "problem" and "a UEFI program" in finding.message
    assert "BIOS (PC/AT) firmware" in finding.message and "bcdboot" in finding.fix
    digest = sha(raw)
    run = bcdtool("repair", "boot", raw)
    assert run.returncode == 3, run.stderr              # left alone and reported
    assert "winload.exe is not on partition 2" in run.stderr
    assert sha(raw) == digest


# --- BitLocker -----------------------------------------------------------------------------------

def test_bitlocker_windows_partition_is_never_written_and_named_as_the_next_step(tmp_path):
    """A restored disk whose Windows partition is BitLocker-encrypted: the ESP devices are
    repaired, the loader's devices are not (bcdtool cannot see \\Windows there) and the refusal
    names partition=#2; the encrypted partition's bytes are untouched."""
    raw = tmp_path / "disk.img"
    disk = build_windows_disk("uefi", raw,
                              bcd=(BCD_CORPUS / "win11-uefi-installed-2025.bcd").read_bytes())
    part = disk.partitions[1]
    with open(raw, "r+b") as fh:           # the BitLocker volume header's OEM id
        fh.seek(part.start + 3)
        fh.write(b"-FVE-FS-")

    def encrypted() -> bytes:
        with open(raw, "rb") as fh:
            fh.seek(part.start)
            return fh.read(part.length)

    before = sha(encrypted())
    by = _by(diagnose(str(raw)))
    osdevice = by["boot-device.{default}.osdevice"]
    assert osdevice.status == "problem" and "bitlocker" in osdevice.message
    assert "BitLocker-encrypted partition 2" in osdevice.fix
    assert "/set {default} osdevice partition=#2" in osdevice.fix
    assert by["bitlocker"].status == "warning"

    run = bcdtool("repair", "boot", raw)
    assert run.returncode == 3 and "Traceback" not in run.stderr
    assert "partition=#2" in run.stderr and "dislocker" in run.stderr
    assert f"bcdtool bcdedit --store {raw} /set" in run.stderr
    assert "{bootmgr} device:" in run.stdout                # the ESP side is repaired
    assert sha(encrypted()) == before
    reg = registry(store_bytes(raw, disk, tmp_path))
    esp = element_raw(reg, BOOTMGR, "11000001")          # now names the ESP of this disk
    assert esp[0x20:0x30] == uuid.UUID(images.GPT_PART_UUIDS[0]).bytes_le
    loader = "{1ab75440-556e-11f0-80d4-daad073cac2e}"      # left as it was: another disk's
    assert element_raw(reg, loader, "21000001") == element_raw(
        registry((BCD_CORPUS / "win11-uefi-installed-2025.bcd").read_bytes()), loader, "21000001")


# --- keys that differ only in letter case --------------------------------------------------------

def test_object_keys_differing_only_in_case_are_a_problem(tmp_path):
    """Two object keys for one GUID (a resume key renamed to the loader's GUID in upper case, as
    a careless offline editor leaves it): the registry treats them as one name, so which one
    the boot manager reads is not the one bcdtool shows.  doctor says so, with the way out."""
    data = bytearray(new_store("bios"))
    old, new = RESUME.encode("ascii"), LOADER.upper().encode("ascii")
    assert data.count(old) == 1
    data[data.index(old):data.index(old) + len(old)] = new
    raw = tmp_path / "disk.img"
    build_windows_disk("bios", raw, bcd=bytes(data))
    finding = _by(diagnose(str(raw)))["boot-store.duplicate-keys"]
    assert finding.status == "problem" and LOADER.upper() in finding.message
    assert "new-store" in finding.fix and str(raw) in finding.fix


# --- the store on one disk, Windows on another -------------------------------------------------

def test_windows_on_another_disk_is_explained_not_repaired(tmp_path):
    """A boot disk holding only the ESP, its loader naming a partition of a second disk of
    that machine: doctor says which disk identity to compare (bcdtool checks one disk), and
    repair boot writes nothing and says nothing needs repairing if that disk holds Windows."""
    from bcdtool.bcd.device import PartitionDevice

    other = PartitionDevice(style="gpt", disk_guid="{0f0f0f0f-1111-2222-3333-444444444444}",
                            partition_guid="{5a5a5a5a-1111-2222-3333-444444444444}")

    def elsewhere(store):
        for guid, code in ((LOADER, 0x11000001), (LOADER, 0x21000001), (RESUME, 0x11000001),
                           (RESUME, 0x21000001)):
            store.set_element(guid, code, other)

    need_tools("sfdisk", "mkfs.fat", "mcopy")
    raw = tmp_path / "boot-only.img"
    images.build_esp_disk(raw, _edited("uefi", elsewhere), extra_files=BOOT_FILES["uefi"][0])
    by = _by(diagnose(str(raw)))
    osdevice = by["boot-device.{default}.osdevice"]
    assert osdevice.status == "problem" and "not a partition of this disk" in osdevice.message
    assert "GPT disk {0f0f0f0f-1111-2222-3333-444444444444}" in osdevice.fix
    assert "another disk of that machine" in osdevice.fix
    assert by["boot-device.{bootmgr}.device"].status == "ok"
    digest = sha(raw)
    run = bcdtool("repair", "boot", raw)
    assert run.returncode == 3 and "nothing needs repairing" in run.stderr
    assert len([line for line in run.stderr.splitlines() if "not repaired" in line]) == 4
    assert sha(raw) == digest


# --- missing files ------------------------------------------------------------------------------

def test_bios_disk_without_boot_files(tmp_path):
    """BIOS: no \\bootmgr on System Reserved, no winload.exe/winresume.exe on Windows: each is a
    problem naming the file and how to restore it; nothing to re-point."""
    raw = tmp_path / "disk.img"
    build_windows_disk("bios", raw, boot_files=False)
    by = _by(diagnose(str(raw)))
    bootmgr = by["boot-file.{bootmgr}.path"]
    assert bootmgr.status == "problem" and "\\bootmgr is not on partition 1" in bootmgr.message
    assert "bcdboot" in bootmgr.fix
    assert "winload.exe" in by["boot-file.{default}.path"].message
    assert by["boot-file.{default}.path"].status == "problem"
    assert by["boot-file.{default}.systemroot"].status == "ok"
    assert repair_boot(str(raw)).changes == []


def test_recovery_entry_whose_winre_image_is_gone(tmp_path):
    """The loader's recoverysequence names a WinRE ramdisk entry whose Winre.wim is not on the
    disk (deleted, or a disk cloned without the recovery partition): a problem naming the
    image, with reagentc and /delete as the next steps; repair leaves it and says so."""
    raw = tmp_path / "disk.img"
    build_windows_disk("uefi", raw, windows_extra={},
                       bcd=(BCD_CORPUS / "win11-uefi-installed-2025.bcd").read_bytes())
    winre = "{1ab75441-556e-11f0-80d4-daad073cac2e}"
    finding = _by(diagnose(str(raw)))[f"boot-device.{winre}.device"]
    assert finding.status == "problem" and "Winre.wim" in finding.message
    assert "reagentc /enable" in finding.fix and f"/delete {winre}" in finding.fix
    result = repair_boot(str(raw))
    assert any("Winre.wim" in left for left in result.details["not_repaired"])
    undo_ops.undo(result.journal)


def test_references_to_objects_of_the_wrong_kind_warn(tmp_path):
    """The loader's resumeobject names the memory tester, its recoverysequence the resume
    object: both exist, neither can do the job (resume from hibernation, Windows RE)."""
    def wrong_kinds(store):
        store.set_element(LOADER, 0x23000003, MEMDIAG)           # resumeobject
        store.set_element(LOADER, 0x14000008, [RESUME])          # recoverysequence

    raw = tmp_path / "disk.img"
    build_windows_disk("uefi", raw, bcd=_edited("uefi", wrong_kinds))
    by = _by(diagnose(str(raw)))
    resume = by["boot-ref.{default}.resumeobject"]
    assert resume.status == "warning" and "a memory tester (10200005)" in resume.message
    assert "not a resume application" in resume.message
    recovery = by["boot-ref.{default}.recoverysequence"]
    assert recovery.status == "warning" and RESUME in recovery.message
    assert "not an OS loader" in recovery.message
    assert by["boot-ref.{bootmgr}.resumeobject"].status == "ok"


def test_a_bios_store_copied_to_a_uefi_disk(tmp_path):
    """Windows 10's BIOS store (MBR devices, winload.exe, no {bootmgr} path) put on the ESP of a
    GPT disk, as after a botched mbr2gpt: every device names the old MBR disk, the loader,
    resume and memory tester paths are BIOS programs.  repair boot re-points the devices and
    sets the .efi programs that are on the disk; the WinRE entry's winload.exe is inside its
    image and is reported, not guessed; {bootmgr} is checked as bootmgfw.efi (firmware starts
    it by its boot entry)."""
    raw = tmp_path / "disk.img"
    disk = build_windows_disk("uefi", raw, windows_extra={
        "Recovery/WindowsRE/Winre.wim": b"MSWIM wim", "Recovery/WindowsRE/boot.sdi": b"$SDI"},
        bcd=(BCD_CORPUS / "win10-bios-installed-sysreserved.bcd").read_bytes())
    by = _by(diagnose(str(raw)))
    assert "bootmgfw.efi" in by["boot-device.{bootmgr}.device"].message
    assert by["boot-firmware.{default}.path"].status == "problem"
    assert "memtest.exe" in by["boot-firmware.{memdiag}.path"].message
    assert by["boot-firmware.{memdiag}.path"].status == "warning"       # the tester only
    result = repair_boot(str(raw))
    moved = {(m["label"], m["element"]): m["new"] for m in result.details["repoints"]}
    assert moved[("{default}", "path")] == r"\WINDOWS\system32\winload.efi"
    assert moved[("{99066a2c-6dcc-11eb-9378-f32123128c9c}", "path")] == \
        r"\WINDOWS\system32\winresume.efi"
    left = result.details["not_repaired"]
    # the BIOS tester's folder (\boot) is not the UEFI one (\EFI\Microsoft\Boot): not guessed
    assert ("{memdiag}", "path") not in moved and any("memtest.efi" in m for m in left)
    winre = "{c77a2611-6d5b-11eb-9ff2-e9f459e1e131}"
    assert any(winre in m and "inside its ramdisk" in m for m in left)
    reg = registry(store_bytes(raw, disk, tmp_path))
    loader = "{99066a2d-6dcc-11eb-9378-f32123128c9c}"
    assert element_raw(reg, loader, "12000002") == _utf16(r"\WINDOWS\system32\winload.efi")
    assert element_raw(reg, loader, "21000001")[0x20:0x30] == \
        uuid.UUID(images.GPT_PART_UUIDS[1]).bytes_le
    after = _by(diagnose(str(raw)))
    assert after["boot-file.{default}.path"].status == "ok"
    assert after["boot-device.{bootmgr}.device"].status == "ok"


def test_winload_inside_the_winre_image_is_reported_not_checked(tmp_path):
    """WinRE's loader is inside Winre.wim: bcdtool reads no WIM and copies nothing out of the
    target, so the device's finding says the loader is not looked into and gives the commands
    that check it (naming the package when wimlib-imagex is not installed); no false problem."""
    import shutil

    raw = tmp_path / "disk.img"
    recovery = "Recovery/WindowsRE"
    build_windows_disk("uefi", raw, bcd=(BCD_CORPUS / "win11-uefi-installed-2025.bcd")
                       .read_bytes(), windows_extra={f"{recovery}/Winre.wim": b"MSWIM",
                                                     f"{recovery}/boot.sdi": b"$SDI"})
    repair_boot(str(raw))
    winre = "{1ab75441-556e-11f0-80d4-daad073cac2e}"
    by = _by(diagnose(str(raw)))
    device = by[f"boot-device.{winre}.device"]
    assert device.status == "ok", device
    assert "\\windows\\system32\\winload.efi inside the WIM image is not looked into" in \
        device.message
    note = " ".join(e.note for e in device.evidence)
    assert "wimlib-imagex dir COPY 1 --path='\\windows\\system32\\winload.efi'" in note
    assert ("apt-get install wimtools" in note) == (shutil.which("wimlib-imagex") is None)
    assert f"boot-file.{winre}.path" not in by
