"""Object types, section titles, aliases and GUID helpers."""

from __future__ import annotations

import pytest

from bcdtool.bcd import objects as O
from bcdtool.errors import InvalidIdentifierError


@pytest.mark.parametrize("guid, obj_type, title", [
    (O.ALIASES["{bootmgr}"], O.BOOTMGR, "Windows Boot Manager"),
    (O.ALIASES["{fwbootmgr}"], O.FWBOOTMGR, "Firmware Boot Manager"),
    ("{11111111-2222-3333-4444-555555555555}", O.FIRMWARE_APP, "Firmware Application (101fffff)"),
    ("{11111111-2222-3333-4444-555555555555}", O.OSLOADER, "Windows Boot Loader"),
    ("{11111111-2222-3333-4444-555555555555}", O.RESUME, "Resume from Hibernate"),
    (O.ALIASES["{memdiag}"], O.MEMDIAG, "Windows Memory Tester"),
    (O.ALIASES["{ntldr}"], O.NTLDR, "Windows Legacy OS Loader"),
    ("{11111111-2222-3333-4444-555555555555}", O.BOOTSECTOR, "Real-mode Boot Sector"),
    (O.ALIASES["{emssettings}"], O.INHERIT_ANY, "EMS Settings"),
    (O.ALIASES["{dbgsettings}"], O.INHERIT_ANY, "Debugger Settings"),
    (O.ALIASES["{badmemory}"], O.INHERIT_ANY, "RAM Defects"),
    (O.ALIASES["{globalsettings}"], O.INHERIT_ANY, "Global Settings"),
    (O.ALIASES["{bootloadersettings}"], O.INHERIT_OSLOADER, "Boot Loader Settings"),
    (O.ALIASES["{hypervisorsettings}"], O.INHERIT_OSLOADER, "Hypervisor Settings"),
    (O.ALIASES["{resumeloadersettings}"], O.INHERIT_RESUME, "Resume Loader Settings"),
    ("{11111111-2222-3333-4444-555555555555}", O.INHERIT_OSLOADER,
     "Inherited Settings (20200003)"),
    ("{11111111-2222-3333-4444-555555555555}", O.DEVICE_OPTIONS, "Device options"),
    (O.ALIASES["{ramdiskoptions}"], O.DEVICE_OPTIONS, "Setup Ramdisk Options"),
])
def test_section_titles(guid, obj_type, title):
    assert O.section_title(guid, obj_type) == title


def test_aliases_round_trip():
    assert O.alias_of(O.ALIASES["{dbgsettings}"]) == "{dbgsettings}"   # not {eventsettings}
    assert O.alias_of(O.ALIASES["{ntldr}"]) == "{ntldr}"               # not {legacy}
    assert O.alias_guid("{EventSettings}") == O.ALIASES["{dbgsettings}"]
    assert O.ALIASES["{resumeloadersettings}"] == "{1afa9c49-16ab-4a5c-901b-212802da9460}"


def test_guid_bytes():
    raw = bytes.fromhex("e03455ae24a96c46b836758539a3ee3a")  # {ramdiskoptions}, bcd.md §4.5
    assert O.guid_from_bytes_le(raw) == O.ALIASES["{ramdiskoptions}"]
    assert O.guid_to_bytes_le(O.ALIASES["{ramdiskoptions}"].upper()) == raw
    assert O.is_guid(O.new_guid())


@pytest.mark.parametrize("text", ["", "{}", "9dea862c-5cdd-4e70-acc1-f32b344d4795",
                                  "{9dea862c-5cdd-4e70-acc1-f32b344d479g}"])
def test_invalid_guids(text):
    with pytest.raises(InvalidIdentifierError):
        O.normalize_guid(text)


@pytest.mark.parametrize("selector, obj_type, expected", [
    ("firmware", O.FIRMWARE_APP, True), ("firmware", O.OSLOADER, False),
    ("bootapp", O.OSLOADER, True), ("bootapp", O.BOOTMGR, False),
    ("inherit", O.INHERIT_RESUME, True), ("all", O.DEVICE_OPTIONS, True),
])
def test_selectors(selector, obj_type, expected):
    assert O.matches_selector(selector, obj_type) is expected
