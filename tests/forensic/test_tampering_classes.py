"""Tampering an examiner expects to see, placed where bcdedit /enum of the loader does not show
it: settings parked on {globalsettings}, {bootloadersettings} or a custom object the loader
inherits, kernel/HAL replacements, path tricks, BitLocker and TPM settings.  Each store is a
bcdboot-like store edited by bcdtool's editor (or written raw, as a registry editor would)."""

from __future__ import annotations

import struct

import pytest

from bcdtool.bcd.store import BcdStore
from bcdtool.ops.forensic_model import (BOOTSTATUSPOLICY, DEBUG, DISABLEELAM, INHERIT, NX,
                                        SAFEBOOT, StoreView)
from bcdtool.ops.forensic_rules import findings
from bcdtool.regf.hive import Hive
from tests.forensic.forensic_helpers import LOADER, edit, new_store

BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
GLOBALSETTINGS = "{7ea2e1ac-2e61-4728-aaa3-896d9d0a9f0e}"
BOOTLOADERSETTINGS = "{6efb52bf-1766-41db-a6b3-0ee5eff72bd7}"
DBGSETTINGS = "{4636856e-540f-4170-a130-a84776f4c654}"
CUSTOM = "{deadbeef-0000-4000-8000-000000000001}"


def found(store: BcdStore) -> set[tuple[str, str, str]]:
    again = BcdStore(Hive.from_bytes(store.to_bytes()))
    return {(f.id, f.severity, f.evidence[0].guid)
            for f in findings(StoreView(again, again.hive))}


EDITS = [
    ([(LOADER, "kernel", "ntkrnlmp2.exe")], "bcd.kernel-override", "high", LOADER),
    ([(LOADER, "hal", "\\Windows\\Temp\\hal.dll")], "bcd.kernel-override", "high", LOADER),
    ([(LOADER, "dbgtransport", "kdevil.dll")], "bcd.kernel-override", "high", LOADER),
    ([(BOOTLOADERSETTINGS, "kernel", "x.exe")], "bcd.kernel-override", "high",
     BOOTLOADERSETTINGS),
    ([(BOOTLOADERSETTINGS, "bootstatuspolicy", 1)], "bcd.boot-status-ignore-failures", "high",
     BOOTLOADERSETTINGS),
    ([(BOOTLOADERSETTINGS, "nx", 2)], "bcd.dep-off", "medium", BOOTLOADERSETTINGS),
    ([(BOOTLOADERSETTINGS, "debug", True)], "bcd.kernel-debug", "high", BOOTLOADERSETTINGS),
    ([(BOOTLOADERSETTINGS, "safeboot", 0)], "bcd.safeboot", "medium", BOOTLOADERSETTINGS),
    ([(BOOTLOADERSETTINGS, "disableelamdrivers", True)], "bcd.elam-disabled", "high",
     BOOTLOADERSETTINGS),
    ([(GLOBALSETTINGS, "recoveryenabled", False)], "bcd.recovery-disabled", "high",
     GLOBALSETTINGS),
    ([(GLOBALSETTINGS, "testsigning", True)], "bcd.test-signing", "high", GLOBALSETTINGS),
    ([(DBGSETTINGS, "debugtype", 3), (DBGSETTINGS, "hostip", 0x0A00000A)],
     "bcd.debugger-transport", "medium", DBGSETTINGS),
    ([(LOADER, "tpmbootentropy", 1)], "bcd.tpm-entropy-off", "low", LOADER),
    ([(BOOTMGR, "fverecoverymessage", "Your files are encrypted. Mail x@y")],
     "bcd.bitlocker-recovery-text", "low", BOOTMGR),
    ([(BOOTMGR, "fverecoveryurl", "http://evil.example/pay")], "bcd.bitlocker-recovery-text",
     "low", BOOTMGR),
    ([(BOOTMGR, "path", "\\EFI\\Microsoft\\Boot\\..\\..\\evil\\bootmgfw.efi")],
     "bcd.unusual-path", "medium", BOOTMGR),
    ([(LOADER, "path", "\\Windows\\system32\\winload.efi ")], "bcd.unusual-path", "medium",
     LOADER),
    ([(LOADER, "path", "\\Windows\\system32\\winload2.efi")], "bcd.unusual-path", "medium",
     LOADER),
    ([(LOADER, "path", "/Windows/system32/winload.efi")], "bcd.unusual-path", "medium", LOADER),
    ([(LOADER, "loadoptions", " ddisable_integrity_checks /debug")],
     "bcd.loadoptions-integrity", "high", LOADER),
    ([(LOADER, "inherit", [BOOTLOADERSETTINGS, "{11111111-0000-4000-8000-0000000000ee}"])],
     "bcd.inheritance-tampered", "low", LOADER),
    ([(LOADER, "inherit", [BOOTLOADERSETTINGS, BOOTMGR])], "bcd.inheritance-tampered",
     "medium", LOADER),
]


@pytest.mark.parametrize("changes, fid, severity, guid", EDITS,
                         ids=[f"{c[-1][1]}-{f}" for c, f, _, _ in EDITS])
def test_each_tampering_class_raises_its_finding(changes, fid, severity, guid):
    store = BcdStore(Hive.from_bytes(edit(new_store(), *changes)))
    assert (fid, severity, guid) in found(store)


@pytest.mark.parametrize("code, raw, fid", [
    (DEBUG, b"\x01", "bcd.kernel-debug"),
    (BOOTSTATUSPOLICY, struct.pack("<Q", 1), "bcd.boot-status-ignore-failures"),
    (NX, struct.pack("<Q", 2), "bcd.dep-off"),
    (SAFEBOOT, struct.pack("<Q", 0), "bcd.safeboot"),
    (DISABLEELAM, b"\x01", "bcd.elam-disabled"),
])
def test_loader_settings_written_raw_on_globalsettings_are_the_loaders(code, raw, fid):
    """bcdedit refuses a loader element on {globalsettings}, a registry editor does not, and
    every loader inherits it through {bootloadersettings}."""
    store = BcdStore(Hive.from_bytes(new_store()))
    store.set_raw(GLOBALSETTINGS, code, raw)
    assert fid in {f for f, _, g in found(store) if g == GLOBALSETTINGS}


def test_a_custom_object_slipped_into_the_loaders_inherit_list():
    store = BcdStore(Hive.from_bytes(new_store()))
    store.create_object(CUSTOM, 0x20200003)              # an OS-loader settings object
    store.set_raw(CUSTOM, DEBUG, b"\x01")
    store.set_element(LOADER, INHERIT, [BOOTLOADERSETTINGS, CUSTOM])
    result = found(store)
    assert ("bcd.inheritance-tampered", "medium", LOADER) in result
    assert ("bcd.kernel-debug", "high", CUSTOM) in result


def test_an_inherit_cycle_ends():
    store = BcdStore(Hive.from_bytes(new_store()))
    store.set_element(GLOBALSETTINGS, INHERIT, [BOOTLOADERSETTINGS])   # ...which inherits us
    store.set_raw(GLOBALSETTINGS, NX, struct.pack("<Q", 2))
    assert ("bcd.dep-off", "medium", GLOBALSETTINGS) in found(store)


def test_an_object_no_loader_inherits_is_not_the_loaders():
    """A loader setting on an inherit object nothing inherits does nothing: no finding."""
    store = BcdStore(Hive.from_bytes(new_store()))
    store.create_object(CUSTOM, 0x20100000)
    store.set_raw(CUSTOM, NX, struct.pack("<Q", 2))
    assert not {f for f in found(store) if f[0] == "bcd.dep-off"}
