"""`forensic` findings: the corpus's tampered stores raise the right ids, clean ones nothing above
info, and every rule fires on a bcdboot-like store edited to show the setting."""

from __future__ import annotations

import datetime as dt
import struct
from pathlib import Path

import pytest
from Registry import Registry

from bcdtool.bcd.store import BcdStore
from bcdtool.ops.forensic import investigate
from bcdtool.ops.forensic_model import RULES, StoreView, severity_rank
from bcdtool.ops.forensic_rules import findings
from bcdtool.regf.hive import Hive
from tests.forensic.forensic_helpers import LOADER, RESUME, edit, new_store

BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
DBGSETTINGS = "{4636856e-540f-4170-a130-a84776f4c654}"
GLOBALSETTINGS = "{7ea2e1ac-2e61-4728-aaa3-896d9d0a9f0e}"
HYPERVISORSETTINGS = "{7ff607e0-4395-11db-b0de-0800200c9a66}"

TAMPERED = {
    "win10-uefi-bitpixie-modified.bcd": {
        "bcd.startup-application": "high", "bcd.sequence-hijack": "high",
        "bcd.winpe-installed-loader": "high", "bcd.unusual-path": "medium",
        "bcd.flight-signing": "low", "bcd.recovery-disabled": "high"},
    "win10-uefi-dualboot-testsigning.bcd": {"bcd.test-signing": "high",
                                            "bcd.loadoptions-integrity": "high"},
    "win81-bios-installed-sysreserved.bcd": {"bcd.recovery-disabled": "high"},
    "winpe-bios-ramdisk-gzu.bcd": {"bcd.integrity-checks-disabled": "high"},
    "ventoy-wim-template-bootice.bcd": {"bcd.loadoptions-integrity": "high"},
}
CLEAN = ["win10-uefi-installed-systemd-boot.bcd", "win11-uefi-installed-2025.bcd",
         "win11-uefi-installed-many-fw-entries.bcd", "win10-uefi-installed-crufty-2016.bcd",
         "win10-bios-installed-sysreserved.bcd", "win7-bios-installed-winre.bcd",
         "win81-uefi-exported.bcd", "win10-uefi-recovery-store.bcd",
         "win10-bios-windeploy-template.bcd", "win10-uefi-minimal-windeploy.bcd",
         "win10-bcd-template.bcd", "empty-createstore.bcd", "win10-media-bios.bcd",
         "win10-media-uefi-x64.bcd", "win10-media-uefi-ia32.bcd",
         "winserver-media-uefi-ems.bcd", "win7-media-bios-ems.bcd", "win7-media-uefi-ems.bcd",
         "winpe-win10pe-uefi-ramdisk.bcd", "winpe-uefi-ia32-ramdisk-gzu.bcd",
         "winpe-win10xpe-bios-ramdisk.bcd"]


def _by_id(report) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in report.findings:
        out.setdefault(f.id, []).append(f)
    return out


@pytest.mark.parametrize("name", sorted(TAMPERED))
def test_tampered_corpus_stores_raise_their_findings(corpus, name):
    report = investigate(str(corpus / "bcd" / name), generated_at="pinned")
    found = _by_id(report)
    for fid, severity in TAMPERED[name].items():
        assert fid in found, f"{name}: no {fid}"
        assert any(f.severity == severity for f in found[fid]), (fid, found[fid])
        for f in found[fid]:
            assert f.attack == RULES[fid].attack
    assert report.worst == "high"


@pytest.mark.parametrize("name", CLEAN)
def test_clean_corpus_stores_raise_nothing_above_info(corpus, name):
    report = investigate(str(corpus / "bcd" / name), history=True, deleted=True,
                         generated_at="pinned")
    loud = [(f.id, f.severity, f.message) for f in report.findings if f.severity != "info"]
    assert loud == []


def _python_registry_stamp(path, key_path: str) -> dt.datetime:
    key = Registry.Registry(str(path)).open(key_path)
    return key.timestamp()


def test_evidence_names_object_element_value_and_key_time(corpus):
    path = corpus / "bcd" / "win10-uefi-dualboot-testsigning.bcd"
    report = investigate(str(path), generated_at="pinned")
    (finding,) = _by_id(report)["bcd.test-signing"]
    (ev,) = finding.evidence
    assert (ev.guid, ev.element, ev.code, ev.value, ev.raw) == (
        "{861677eb-d083-11ea-915f-99b8df73ff9c}", "testsigning", 0x16000049, "Yes", "01")
    assert ev.description == "Windows 7"
    assert ev.key == "Objects\\{861677eb-d083-11ea-915f-99b8df73ff9c}\\Elements\\16000049"
    stamp = _python_registry_stamp(path, ev.key)
    assert ev.last_write == stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs(ev.last_write_filetime // 10 - (stamp - dt.datetime(1601, 1, 1)) //
               dt.timedelta(microseconds=1)) <= 1
    (opts,) = _by_id(report)["bcd.loadoptions-integrity"]
    assert opts.evidence[0].value == "DDISABLE_INTEGRITY_CHECKS"
    assert opts.attack == "T1553.006"
    bitpixie = investigate(str(corpus / "bcd" / "win10-uefi-bitpixie-modified.bcd"))
    (startup,) = _by_id(bitpixie)["bcd.startup-application"]
    assert startup.evidence[0].guid == "{f7b79c82-5369-11f0-8888-dcf5055202e6}"
    assert any(e.element == "path" and e.value == "\\shimx64.efi" for e in startup.evidence)


@pytest.mark.parametrize("firmware", ["uefi", "bios"])
def test_a_bcdboot_store_raises_nothing(firmware):
    image = new_store(firmware)
    store = BcdStore(Hive.from_bytes(image))
    assert findings(StoreView(store, store.hive)) == []


# (changes, expected finding id, severity): one per rule that reads a setting.
SETTINGS = [
    ([(LOADER, "recoveryenabled", False)], "bcd.recovery-disabled", "high"),
    ([(LOADER, "bootstatuspolicy", 1)], "bcd.boot-status-ignore-failures", "high"),
    ([(LOADER, "bootstatuspolicy", 3)], "bcd.boot-status-ignore-failures", "medium"),
    ([(LOADER, "testsigning", True)], "bcd.test-signing", "high"),
    ([(GLOBALSETTINGS, "nointegritychecks", True)], "bcd.integrity-checks-disabled", "high"),
    ([(LOADER, "loadoptions", "DISABLE_INTEGRITY_CHECKS")], "bcd.loadoptions-integrity", "high"),
    ([(LOADER, "loadoptions", "/DEBUG /NOGUIBOOT")], "bcd.loadoptions", "low"),
    ([(BOOTMGR, "flightsigning", True)], "bcd.flight-signing", "low"),
    ([(LOADER, "disableelamdrivers", True)], "bcd.elam-disabled", "high"),
    ([(LOADER, "hypervisorlaunchtype", 0)], "bcd.hypervisor-off", "low"),
    ([(LOADER, "hypervisorlaunchtype", 0), (LOADER, "vsmlaunchtype", 1)],
     "bcd.hypervisor-off", "medium"),
    ([(LOADER, "vsmlaunchtype", 0)], "bcd.vsm-off", "high"),
    ([(LOADER, "hypervisorenforcedcodeintegrity", 0)], "bcd.hvci-off", "high"),
    ([(GLOBALSETTINGS, "integrityservices", 2)], "bcd.integrity-services-off", "medium"),
    ([(LOADER, "nx", 2)], "bcd.dep-off", "medium"),
    ([(LOADER, "debug", True)], "bcd.kernel-debug", "high"),
    ([(BOOTMGR, "bootdebug", True)], "bcd.boot-debug", "medium"),
    ([(LOADER, "hypervisordebug", True)], "bcd.hypervisor-debug", "medium"),
    ([(DBGSETTINGS, "debugtype", 3)], "bcd.debugger-transport", "medium"),
    ([(DBGSETTINGS, "debugtype", 2)], "bcd.debugger-transport", "low"),
    ([(HYPERVISORSETTINGS, "hypervisordebugtype", 3)], "bcd.debugger-transport", "medium"),
    ([(LOADER, "safeboot", 0)], "bcd.safeboot", "medium"),
    ([(LOADER, "safeboot", 1), (LOADER, "safebootalternateshell", True)],
     "bcd.safeboot-alternate-shell", "high"),
    ([(LOADER, "winpe", True)], "bcd.winpe-installed-loader", "high"),
    ([(LOADER, "path", "\\EFI\\evil\\grubx64.efi")], "bcd.unusual-path", "medium"),
    ([(RESUME, "path", "\\Windows\\Temp\\x.efi")], "bcd.unusual-path", "medium"),
    ([(LOADER, "recoverysequence", [BOOTMGR])], "bcd.sequence-hijack", "high"),
    ([(BOOTMGR, "bootsequence", ["{b2721d73-1db4-4c62-bf78-c548a880142d}"])],
     "bcd.sequence-hijack", "high"),
    ([(LOADER, "custom:26000999", True)], "bcd.custom-element", "info"),
]


@pytest.mark.parametrize("changes, fid, severity", SETTINGS,
                         ids=[f"{c[0][1]}-{s}" for c, _, s in SETTINGS])
def test_every_setting_rule_fires(changes, fid, severity):
    store = BcdStore(Hive.from_bytes(edit(new_store(), *changes)))
    found = [f for f in findings(StoreView(store, store.hive)) if f.id == fid]
    assert [f.severity for f in found] == [severity]
    ev = found[0].evidence[0]
    assert ev.guid == changes[-1][0] and ev.key.startswith(f"Objects\\{ev.guid}\\Elements\\")
    assert ev.last_write is not None
    assert severity_rank(severity) >= 0


def test_history_of_auto_makes_hypervisor_off_medium():
    store = BcdStore(Hive.from_bytes(edit(new_store(), (LOADER, "hypervisorlaunchtype", 0))))
    code = store.element_def(LOADER, "hypervisorlaunchtype").code
    (plain,) = [f for f in findings(StoreView(store, store.hive)) if f.id == "bcd.hypervisor-off"]
    (used,) = [f for f in findings(StoreView(store, store.hive), earlier={(LOADER, code): [1]})
               if f.id == "bcd.hypervisor-off"]
    assert (plain.severity, used.severity) == ("low", "medium")


def test_startup_object_and_pxe_settings():
    image = new_store()
    store = BcdStore(Hive.from_bytes(image))
    soft = "{f7b79c82-5369-11f0-8888-dcf5055202e6}"
    store.create_object(soft, 0x10400009)
    store.set_element(soft, store.element_def(soft, "path").code, "\\shimx64.efi")
    store.set_element(soft, store.element_def(soft, "pxesoftreboot").code, True)
    store.set_element(LOADER, store.element_def(LOADER, "recoverysequence").code, [soft])
    ramdisk = "{ae5534e0-a924-466c-b836-758539a3ee3a}"
    store.create_object(ramdisk, 0x30000000)
    store.set_element(ramdisk, store.element_def(ramdisk, "ramdisktftpblocksize").code, 1456)
    edited = BcdStore(Hive.from_bytes(store.to_bytes()))
    ids = {(f.id, f.severity) for f in findings(StoreView(edited, edited.hive))}
    assert {("bcd.startup-application", "high"), ("bcd.sequence-hijack", "high"),
            ("bcd.unusual-path", "medium"), ("bcd.pxe-entry", "medium")} <= ids


def test_every_rule_is_documented_in_the_readme():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for rule in RULES.values():
        row = f"| `{rule.id}` | {rule.severity} | {rule.attack or '—'} | {rule.meaning} |"
        assert row in readme.splitlines(), rule.id


def test_a_device_of_an_unknown_kind_is_unusual():
    store = BcdStore(Hive.from_bytes(new_store()))
    body = bytes(16)
    blob = bytes(16) + struct.pack("<IIII", 0x63, 0, 16 + len(body), 0) + body
    store.set_raw(LOADER, store.element_def(LOADER, "osdevice").code, blob)
    edited = BcdStore(Hive.from_bytes(store.to_bytes()))
    found = [f for f in findings(StoreView(edited, edited.hive)) if f.id == "bcd.unusual-device"]
    assert [(f.severity, f.evidence[0].element) for f in found] == [("medium", "osdevice")]
