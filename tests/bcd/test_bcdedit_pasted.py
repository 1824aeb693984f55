"""bcdedit lines as users really type them, beyond the documented ones: identifiers quoted for
PowerShell or quoted twice, any letter case, every boolean and integer spelling, lists, strings
with spaces, `/deletevalue` of every element format, `/create` with a well-known identifier,
`/enum DEVICE`, and the device forms offline cannot resolve (bare `locate`,
`\\Device\\HarddiskVolumeN`).  Every write is read back with python-registry from the store's
bytes, never with bcdtool's reader."""

from __future__ import annotations

import io

import pytest
from Registry import Registry

from bcdtool.bcd import bcdedit as be
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import (InvalidArgumentError, InvalidIdentifierError, NotFoundError,
                            UnsupportedError)
from bcdtool.regf.hive import Hive

BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
MEMDIAG = "{b2721d73-1db4-4c62-bf78-c548a880142d}"
LOADER = "{99066a2d-6dcc-11eb-9378-f32123128c9c}"        # the store's default
WINRE = "{c77a2611-6d5b-11eb-9ff2-e9f459e1e131}"
RAMDISK_OPTIONS = "{c77a2612-6d5b-11eb-9ff2-e9f459e1e131}"


@pytest.fixture
def bios(corpus) -> BcdStore:
    return BcdStore(Hive.open(corpus / "bcd" / "win10-bios-installed-sysreserved.bcd"))


def _run(store: BcdStore, *words: str) -> be.Outcome:
    return be.execute(be.parse_args(list(words)), store)


def _raw(store: BcdStore, guid: str, code: str) -> bytes | None:
    """Element bytes as python-registry reads them from the store's new bytes."""
    reg = Registry.Registry(io.BytesIO(store.to_bytes()))
    try:
        return reg.open(f"Objects\\{guid}\\Elements\\{code}").value("Element").raw_data()
    except Registry.RegistryKeyNotFoundException:
        return None


@pytest.mark.parametrize("ident", [
    "{default}", "{DEFAULT}", "{Default}",
    "`{default`}", "`{default}",               # PowerShell's escaped braces, kept by quoting
    "'{default}'", '"{default}"',              # quoted twice: the inner quotes arrive
    LOADER.upper(), "`" + LOADER[:-1] + "`}",
])
def test_identifier_spellings(bios, ident):
    assert _run(bios, "/SET", ident, "BootStatusPolicy", "IgnoreAllFailures").lines == \
        [be.SUCCESS]
    assert _raw(bios, LOADER, "250000e0") == (1).to_bytes(8, "little")


def test_quoted_identifier_everywhere_an_identifier_goes(bios):
    _run(bios, "/displayorder", "'{memdiag}'", "/addfirst")
    _run(bios, "/set", '"{bootmgr}"', "bootsequence", "'{memdiag}'", "`{default`}")
    _run(bios, "/default", "`{memdiag`}")
    reg_list = _raw(bios, BOOTMGR, "24000001").decode("utf-16-le").split("\0")
    assert reg_list[:2] == [MEMDIAG, LOADER]
    assert _raw(bios, BOOTMGR, "23000003") == (MEMDIAG + "\0").encode("utf-16-le")
    assert _raw(bios, BOOTMGR, "24000002").decode("utf-16-le").split("\0")[:2] == \
        [MEMDIAG, LOADER]


def test_other_quoted_words_are_left_as_they_are(bios):
    _run(bios, "/set", "{default}", "description", '"My Windows"')
    assert _raw(bios, LOADER, "12000004") == '"My Windows"\0'.encode("utf-16-le")


@pytest.mark.parametrize("word, byte", [
    ("yes", 1), ("YES", 1), ("on", 1), ("On", 1), ("true", 1), ("TRUE", 1), ("1", 1),
    ("no", 0), ("No", 0), ("off", 0), ("OFF", 0), ("false", 0), ("False", 0), ("0", 0),
])
def test_boolean_spellings(bios, word, byte):
    _run(bios, "/set", "{default}", "quietboot", word)
    assert _raw(bios, LOADER, "26000041") == bytes([byte])


@pytest.mark.parametrize("word, value", [
    ("0x10000000", 0x10000000), ("0X1F", 31), ("268435456", 268435456), ("0", 0),
])
def test_integer_spellings(bios, word, value):
    _run(bios, "/set", "{default}", "truncatememory", word)
    assert _raw(bios, LOADER, "15000007") == value.to_bytes(8, "little")


@pytest.mark.parametrize("word", ["0x", "ten", "1e3", "-"])
def test_bad_integers_are_refused(bios, word):
    with pytest.raises(InvalidArgumentError):
        _run(bios, "/set", "{default}", "truncatememory", word)
    assert bios.diff() == []


def test_string_with_spaces_and_guid_lists(bios):
    _run(bios, "/set", "{default}", "description", "Windows 10 (rescued)")
    _run(bios, "/set", "{bootmgr}", "toolsdisplayorder", "{memdiag}", WINRE.upper())
    assert _raw(bios, LOADER, "12000004") == "Windows 10 (rescued)\0".encode("utf-16-le")
    assert _raw(bios, BOOTMGR, "24000010") == (MEMDIAG + "\0" + WINRE + "\0\0").encode(
        "utf-16-le")


@pytest.mark.parametrize("ident, name, code", [
    ("{default}", "nx", "25000020"),                          # integer (enumeration)
    ("{default}", "recoveryenabled", "16000009"),             # boolean
    ("{default}", "description", "12000004"),                 # string
    ("{default}", "recoverysequence", "14000008"),            # object list
    ("{default}", "resumeobject", "23000003"),                # object
    ("{default}", "osdevice", "21000001"),                    # device
    ("{default}", "allowedinmemorysettings", "17000077"),     # integer list
    ("{bootmgr}", "displayorder", "24000001"),
    ("{bootmgr}", "default", "23000003"),
    ("{memdiag}", "badmemoryaccess", "1600000b"),
    (RAMDISK_OPTIONS, "ramdisksdidevice", "31000003"),
    ("{default}", "custom:250000c2", "250000c2"),
])
def test_deletevalue_of_every_format(bios, ident, name, code, corpus):
    guid = {"{default}": LOADER, "{bootmgr}": BOOTMGR, "{memdiag}": MEMDIAG}.get(ident, ident)
    if name.startswith("custom:"):
        _run(bios, "/set", ident, name, "3")
    assert _raw(bios, guid, code) is not None
    assert _run(bios, "/DeleteValue", ident, name).lines == [be.SUCCESS]
    assert _raw(bios, guid, code) is None
    with pytest.raises(NotFoundError, match="Element not found"):
        _run(bios, "/deletevalue", ident, name)


@pytest.mark.parametrize("line", [
    "/create {bootmgr} /d x /application osloader",
    "/create {memdiag} /d x /inherit",
    "/create {ramdiskoptions} /device",
    "/create {ntldr} /d x /application bootsector",
    "/create {globalsettings} /inherit osloader",
])
def test_create_with_a_well_known_identifier_takes_no_type(bios, line):
    """bcdedit /? /create: a well-known identifier fixes the type, so /application, /inherit
    and /device cannot be given with one (even when the object does not exist yet)."""
    bios.delete_object(BOOTMGR)
    with pytest.raises(InvalidArgumentError, match="well-known identifier"):
        _run(bios, *line.split())


def test_create_with_a_new_guid_needs_a_type(bios):
    guid = "{11111111-2222-3333-4444-555555555555}"
    with pytest.raises(InvalidArgumentError, match="/application, /inherit or /device"):
        _run(bios, "/create", guid, "/d", "x")
    out = _run(bios, "/create", guid.upper(), "/d", "Second", "/application", "OSLOADER")
    assert out.lines == [f"The entry {guid} was successfully created."]
    reg = Registry.Registry(io.BytesIO(bios.to_bytes()))
    kind = reg.open(f"Objects\\{guid}\\Description").value("Type").value()
    assert kind == 0x10200003


def test_enum_device_lists_the_device_options(bios):
    text = "\n".join(_run(bios, "/enum", "DEVICE").lines)
    assert "Device options" in text and RAMDISK_OPTIONS in text
    assert "Windows Boot Loader" not in text and "Windows Boot Manager" not in text


def test_bare_locate_is_what_windows_wrote(bios, corpus):
    """Microsoft's Convert-WindowsImage and deployment scripts run `/set {bootmgr} device
    locate`, `/set {default} device locate` and `/set {default} osdevice locate`; Windows 8.1's
    corpus store has every device so: `device` searches for the entry's path (12000002),
    `osdevice` and a resume object's `filedevice` (the same code) for its systemroot
    (22000002), byte for byte."""
    win81 = Registry.Registry(str(corpus / "bcd" / "win81-bios-installed-sysreserved.bcd"))

    def windows(guid: str, code: str) -> bytes:
        return win81.open(f"Objects\\{guid}\\Elements\\{code}").value("Element").raw_data()

    loader81, resume81 = "{3eef0b00-bb64-11e3-b124-f12314fe3329}", \
        "{3eef0aff-bb64-11e3-b124-f12314fe3329}"
    resume = "{99066a2c-6dcc-11eb-9378-f32123128c9c}"
    for line in ("/set {bootmgr} device locate", "/set {default} device LOCATE",
                 "/set {default} osdevice locate", f"/set {resume} filedevice locate",
                 "/set {memdiag} device locate"):
        assert _run(bios, *line.split()).lines == [be.SUCCESS]
    assert _raw(bios, BOOTMGR, "11000001") == windows(BOOTMGR, "11000001")
    assert _raw(bios, LOADER, "11000001") == windows(loader81, "11000001")
    assert _raw(bios, LOADER, "21000001") == windows(loader81, "21000001")
    assert _raw(bios, resume, "21000001") == windows(resume81, "21000001")
    assert _raw(bios, MEMDIAG, "11000001") == windows(MEMDIAG, "11000001")


def test_bare_locate_where_the_element_is_not_known_names_the_form(bios):
    with pytest.raises(InvalidArgumentError, match="locate=custom:XXXXXXXX"):
        _run(bios, "/set", RAMDISK_OPTIONS, "ramdisksdidevice", "locate")
    assert bios.diff() == []


@pytest.mark.parametrize("value", ["\\Device\\HarddiskVolume2",
                                   "partition=\\Device\\HarddiskVolume2",
                                   "partition=\\device\\harddiskvolume1"])
def test_harddisk_volume_numbers_are_refused_with_the_way_to_name_it(bios, value):
    with pytest.raises(UnsupportedError, match="stored nowhere.*partition=#N"):
        _run(bios, "/set", "{default}", "osdevice", value)
    assert bios.diff() == []



@pytest.mark.parametrize("line", ["/set default nx OptIn", "/set bootmgr timeout 5",
                                  "/default memdiag", "/displayorder memdiag /addlast",
                                  "/deletevalue current nx", "/enum current",
                                  "/set {bootmgr} default default"])
def test_identifiers_that_lost_their_braces_are_named(bios, line):
    """PowerShell passes an unquoted {default} as `default`: refused naming the quoting."""
    with pytest.raises(InvalidIdentifierError, match="lost its braces.*in quotes"):
        _run(bios, *line.split())
    assert bios.diff() == []


def test_words_that_are_selectors_or_elements_still_work(bios):
    assert "Windows Boot Manager" in "\n".join(_run(bios, "/enum", "bootmgr").lines)
    _run(bios, "/set", "nx", "OptOut")                   # no identifier: {current}
    assert _raw(bios, LOADER, "25000020") == (1).to_bytes(8, "little")
