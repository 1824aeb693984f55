"""The element table: names per scope, formats, enum values, bcdedit errors."""

from __future__ import annotations

import pytest

from bcdtool.bcd import elements as E
from bcdtool.bcd import objects as O
from bcdtool.errors import ElementError


@pytest.mark.parametrize("code, obj_type, name", [
    (0x23000003, O.BOOTMGR, "default"),
    (0x23000003, O.OSLOADER, "resumeobject"),
    (0x21000001, O.OSLOADER, "osdevice"),
    (0x21000001, O.RESUME, "filedevice"),
    (0x22000002, O.RESUME, "filepath"),
    (0x22000002, O.STARTUP, "applicationname"),
    (0x16000020, O.BOOTMGR, "bootems"),
    (0x16000020, O.INHERIT_ANY, "bootems"),
    (0x250000f3, O.INHERIT_OSLOADER, "hypervisordebugtype"),
    (0x31000003, O.DEVICE_OPTIONS, "ramdisksdidevice"),
    (0x26000004, O.MEMDIAG, "failuresenabled"),
    (0x16000067, O.OSLOADER, "custom:16000067"),
    (0x46000010, O.OSLOADER, "custom:46000010"),
    (0x21000026, O.RESUME, "custom:21000026"),
    (0x260000b0, O.BOOTMGR, "custom:260000b0"),
])
def test_display_names(code, obj_type, name):
    assert E.display_name(code, obj_type) == name


@pytest.mark.parametrize("name, obj_type, code", [
    ("ems", O.OSLOADER, 0x260000b0),
    ("EMS", O.INHERIT_OSLOADER, 0x260000b0),
    ("bootems", O.BOOTMGR, 0x16000020),
    ("displaybootmenu", O.BOOTMGR, 0x26000020),
    ("timeout", O.FWBOOTMGR, 0x25000004),
    ("emsport", O.INHERIT_ANY, 0x15000022),
    ("custom:250000c2", O.OSLOADER, 0x250000c2),
    ("0x260000B0", O.OSLOADER, 0x260000b0),
    ("custom:26000001", O.BOOTMGR, 0x26000001),
])
def test_resolve(name, obj_type, code):
    assert E.resolve(name, obj_type).code == code


@pytest.mark.parametrize("name, obj_type", [
    ("ems", O.BOOTMGR), ("displaybootmenu", O.OSLOADER), ("nosuchthing", O.OSLOADER),
    ("custom:9x", O.OSLOADER), ("custom:29000001", O.OSLOADER), ("", O.OSLOADER),
])
def test_resolve_errors(name, obj_type):
    with pytest.raises(ElementError) as info:
        E.resolve(name, obj_type)
    assert info.value.message.startswith(E.NOT_RECOGNIZED)


@pytest.mark.parametrize("name, obj_type, hint", [
    ("ems", O.BOOTMGR, "ems is an element of osloader entries."),
    ("displaybootmenu", O.OSLOADER, "displaybootmenu is an element of bootmgr entries."),
    ("testsign", O.OSLOADER, "Did you mean testsigning?"),
    ("hypervisorlaunchtyp", O.OSLOADER, "Did you mean hypervisorlaunchtype?"),
    ("bootmenupolcy", O.RESUME, "Did you mean bootmenupolicy?"),
    ("nosuchthing", O.OSLOADER, "Run bcdedit /? TYPES OSLOADER for the names this entry "
     "takes, or give the element as custom:XXXXXXXX."),
])
def test_resolve_errors_name_what_was_meant(name, obj_type, hint):
    """An unknown element name: bcdedit's message, then the entry types it belongs to or the
    close names of this entry (where to find the names when nothing is close)."""
    with pytest.raises(ElementError) as info:
        E.resolve(name, obj_type)
    rest = info.value.message[len(E.NOT_RECOGNIZED):].strip()
    assert rest == (hint or "")


def test_table_is_consistent():
    seen = set()
    for row in E.ELEMENTS:
        assert (row.scope, row.code) not in seen
        seen.add((row.scope, row.code))
        assert E.element_format(row.code) in {int(f) for f in E.Format}
        if row.values:
            assert row.format == E.Format.INTEGER
        expected_class = {E.LIBRARY: 1, E.DEVICE: 3, E.TEMPLATE: 4}.get(row.scope, 2)
        assert E.element_class(row.code) == expected_class, hex(row.code)


@pytest.mark.parametrize("name, number, label", [
    ("bootstatuspolicy", 1, "IgnoreAllFailures"), ("nx", 3, "AlwaysOn"),
    ("bootmenupolicy", 1, "Standard"), ("debugtype", 4, "Local"),
    ("hypervisorlaunchtype", 1, "Auto"), ("displaymessageoverride", 3, "Recovery"),
])
def test_enum_values(name, number, label):
    row = E.resolve(name, O.OSLOADER)
    assert row.value_name(number) == label and row.values[label] == number


def test_hidden_elements():
    assert E.is_hidden(0x46000010) and not E.is_hidden(0x16000020)
