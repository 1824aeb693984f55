"""`doctor TARGET --other-disk DISK2` and `repair boot TARGET --other-disk DISK2`: a store on one
disk (the ESP the firmware reads) whose Windows loader lives on a second disk of the same
machine.  Devices naming the second disk's GPT disk GUID are resolved and checked there; a
loader naming a disk that is gone is re-pointed at the one partition (of either disk) holding
its Windows, and only the store's disk is written.  Disks are built with sfdisk, mkfs.fat/mcopy
and mkntfs/ntfscp; the store is read back with mtools and python-registry, never bcdtool."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from fixtures import images
from tests.helpers.common import need_tools, run_process as bcdtool, sha
from tests.ops.ops_helpers import (BOOT_FILES, LOADER, RESUME, build_windows_disk, element_raw,
                                   new_store, registry, store_bytes)

from bcdtool.bcd.device import PartitionDevice
from bcdtool.bcd.store import BcdStore
from bcdtool.regf.hive import Hive

SECOND = "{0f0f0f0f-1111-2222-3333-444444444444}"          # the second disk's GPT disk GUID
GONE = "{0e0e0e0e-5555-6666-7777-888888888888}"            # a disk that is not attached
WINDOWS_PART = "{" + images.GPT_PART_UUIDS[1] + "}"        # partition 2 of a built disk
ELEMENTS = ((LOADER, 0x11000001), (LOADER, 0x21000001), (RESUME, 0x11000001),
            (RESUME, 0x21000001))


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def _store_naming(disk_guid: str) -> bytes:
    """A UEFI store whose loader and resume objects name partition 2 of disk `disk_guid`."""
    store = BcdStore(Hive.from_bytes(new_store("uefi")))
    device = PartitionDevice(style="gpt", disk_guid=disk_guid, partition_guid=WINDOWS_PART)
    for guid, code in ELEMENTS:
        store.set_element(guid, code, device)
    return store.to_bytes(same_size=True)


def _boot_disk(tmp_path, disk_guid: str):
    """A disk holding only the ESP (boot manager and store)."""
    need_tools("sfdisk", "mkfs.fat", "mcopy")
    raw = tmp_path / "boot.img"
    return raw, images.build_esp_disk(raw, _store_naming(disk_guid),
                                      extra_files=BOOT_FILES["uefi"][0])


def _windows_disk(tmp_path, name: str, disk_guid: str):
    """A second disk with an ESP and Windows, given the disk identity `disk_guid`."""
    raw = tmp_path / name
    build_windows_disk("uefi", raw)
    subprocess.run(["sfdisk", "-q", "--disk-id", str(raw), disk_guid[1:-1]], check=True,
                   capture_output=True)
    return raw


def _boot_findings(doc: dict) -> dict:
    return {f["id"]: f for f in doc["findings"] if f["id"].startswith((
        "boot-device.", "boot-file.", "boot-ref.", "boot-store.", "boot-firmware."))}


def test_doctor_checks_the_loader_on_the_other_disk(tmp_path):
    boot, _ = _boot_disk(tmp_path, SECOND)
    second = _windows_disk(tmp_path, "second.img", SECOND)
    alone = _boot_findings(json.loads(bcdtool("doctor", boot, "--json").stdout))
    assert alone["boot-device.{default}.osdevice"]["status"] == "problem"
    assert "--other-disk" in alone["boot-device.{default}.osdevice"]["fix"]
    run = bcdtool("doctor", boot, "--other-disk", second, "--json")
    found = _boot_findings(json.loads(run.stdout))
    bad = {k: f["message"] for k, f in found.items() if f["status"] != "ok"}
    assert not bad, bad
    osdevice = found["boot-device.{default}.osdevice"]["message"]
    assert f"partition 2 of {second}" in osdevice and "\\Windows" in osdevice
    assert "Traceback" not in run.stderr
    # the Windows facts (edition, services, crash dump) come from the disk that has Windows
    edition = {f["id"]: f for f in json.loads(run.stdout)["findings"]}["windows-edition"]
    assert edition["status"] != "unknown" and str(second) in edition["evidence"][0]["file"]
    alone = {f["id"]: f for f in json.loads(bcdtool("doctor", boot, "--json").stdout)[
        "findings"]}
    assert alone["windows-edition"]["status"] == "unknown"


def test_repair_points_a_gone_disk_at_the_other_disk_and_writes_only_the_store(tmp_path):
    boot, disk = _boot_disk(tmp_path, GONE)
    second = _windows_disk(tmp_path, "second.img", SECOND)
    before, second_before = sha(boot), sha(second)
    run = bcdtool("repair", "boot", boot, "--other-disk", second, "--json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    moved = {(m["object"], m["element"]): m for m in doc["repoints"]}
    assert len(moved) == 4 and {m["disk"] for m in moved.values()} == {str(second)}
    assert {m["partition"] for m in moved.values()} == {2}
    assert sha(second) == second_before                   # the other disk is never written
    reg = registry(store_bytes(boot, disk, tmp_path))
    for guid, code in ELEMENTS:
        raw = element_raw(reg, guid, f"{code:08x}")
        assert uuid.UUID(SECOND[1:-1]).bytes_le in raw
        assert uuid.UUID(WINDOWS_PART[1:-1]).bytes_le in raw
        assert uuid.UUID(GONE[1:-1]).bytes_le not in raw
    after = _boot_findings(json.loads(bcdtool("doctor", boot, "--other-disk", second,
                                              "--json").stdout))
    assert all(f["status"] == "ok" for f in after.values()), after
    undo = bcdtool("undo", doc["journal"])
    assert undo.returncode == 0, undo.stderr
    assert sha(boot) == before


def test_windows_on_both_disks_is_refused_naming_both(tmp_path):
    """The loader names a disk that is gone and both disks hold a Windows: repair cannot tell
    which, lists both, and names the other disk's partition by its identity (partition=#N would
    mean the store's disk)."""
    boot, _ = _boot_disk(tmp_path, GONE)
    first = _windows_disk(tmp_path, "first.img", "{0a0a0a0a-1111-2222-3333-444444444444}")
    second = _windows_disk(tmp_path, "second.img", SECOND)
    before = sha(boot)
    run = bcdtool("repair", "boot", boot, "--other-disk", first, "--other-disk", second)
    assert run.returncode == 20 and "Traceback" not in run.stderr
    assert f"partition 2 of {first}" in run.stderr and f"partition 2 of {second}" in run.stderr
    assert sha(boot) == before
    doc = json.loads(bcdtool("doctor", boot, "--other-disk", first, "--other-disk", second,
                             "--json").stdout)
    fix = _boot_findings(doc)["boot-device.{default}.osdevice"]["fix"]
    word = f"gpt:{SECOND}:{WINDOWS_PART}"
    assert "partition=P (P: one of " in fix and word in fix
    # the next step works as given: the disk's store now names the second disk
    for element in ("device", "osdevice"):
        run = bcdtool("bcdedit", "--store", boot, "/set", "{default}", element,
                      f"partition={word}")
        assert run.returncode == 0, run.stderr
    doc = json.loads(bcdtool("doctor", boot, "--other-disk", first, "--other-disk", second,
                             "--json").stdout)
    osdevice = _boot_findings(doc)["boot-device.{default}.osdevice"]
    assert osdevice["status"] == "ok" and f"partition 2 of {second}" in osdevice["message"]


@pytest.mark.parametrize("case, code, words", [
    ("itself", 24, "has the identity of"),
    ("missing", 15, ""),
    ("store-file", 24, "disk or image holding the store"),
])
def test_bad_other_disks_are_refused(tmp_path, case, code, words):
    boot, disk = _boot_disk(tmp_path, SECOND)
    target, other = boot, {"itself": boot, "missing": tmp_path / "nope.img"}.get(case)
    if case == "store-file":
        target = tmp_path / "BCD"
        target.write_bytes(store_bytes(boot, disk, tmp_path))
        other = _windows_disk(tmp_path, "second.img", SECOND)
    before = sha(target)
    for command in (["doctor"], ["repair", "boot"]):
        run = bcdtool(*command, target, "--other-disk", other)
        if case == "store-file" and command == ["repair", "boot"]:
            assert run.returncode == 17             # repair boot needs a disk in any case
            continue
        assert run.returncode == code, (command, run.stderr)
        assert len(run.stderr.strip().splitlines()) == 1 and words in run.stderr
    assert sha(target) == before


def test_mbr_disks_are_matched_by_signature_and_offset(tmp_path):
    """BIOS: System Reserved on the first disk, Windows on a second MBR disk whose signature
    the loader names; the second disk is found by signature and partition offset."""
    need_tools("sfdisk", "mkntfs", "ntfscp")
    signature = 0x5A5A5A5A
    store = BcdStore(Hive.from_bytes(new_store("bios")))
    device = PartitionDevice(style="mbr", disk_signature=signature, partition_offset=17 << 20)
    for guid, code in ELEMENTS:
        store.set_element(guid, code, device)
    boot = tmp_path / "boot.img"
    images.build_mbr_disk(boot, store.to_bytes(same_size=True),
                          extra_files=BOOT_FILES["bios"][0])
    second = tmp_path / "second.img"
    build_windows_disk("bios", second)
    subprocess.run(["sfdisk", "-q", "--disk-id", str(second), f"{signature:#x}"], check=True,
                   capture_output=True)
    alone = _boot_findings(json.loads(bcdtool("doctor", boot, "--json").stdout))
    assert alone["boot-device.{default}.osdevice"]["status"] == "problem"
    assert "MBR signature 5a5a5a5a" in alone["boot-device.{default}.osdevice"]["fix"]
    found = _boot_findings(json.loads(bcdtool("doctor", boot, "--other-disk", second,
                                              "--json").stdout))
    bad = {k: f["message"] for k, f in found.items() if f["status"] != "ok"}
    assert not bad, bad
    assert f"partition 2 of {second}" in found["boot-device.{default}.device"]["message"]
