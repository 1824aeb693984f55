"""bcdedit command parsing and semantics on real stores (library level)."""

from __future__ import annotations

import pytest

from bcdtool.bcd import bcdedit as be
from bcdtool.bcd import objects
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import (BcdError, ElementError, InvalidArgumentError,
                            InvalidIdentifierError, NotFoundError, UnsupportedError)
from bcdtool.regf.hive import Hive

BOOTMGR = objects.ALIASES["{bootmgr}"]
EMS = objects.ALIASES["{emssettings}"]
GLOBAL = objects.ALIASES["{globalsettings}"]


@pytest.mark.parametrize("argv, name, args, store, verbose", [
    (["/store", "X", "/ems", "{default}", "on"], "ems", ["{default}", "on"], "X", False),
    (["/EMS", "{DEFAULT}", "ON", "/STORE", "X"], "ems", ["{DEFAULT}", "ON"], "X", False),
    (["/store", "X"], "enum", [], "X", False),
    (["/v"], "enum", [], None, True),
    (["/enum", "all", "/v"], "enum", ["all"], None, True),
    (["/set", "{bootmgr}", "timeout", "5"], "set", ["{bootmgr}", "timeout", "5"], None, False),
])
def test_parse_args(argv, name, args, store, verbose):
    cmd = be.parse_args(argv)
    assert (cmd.name, cmd.args, cmd.store, cmd.verbose) == (name, args, store, verbose)


@pytest.mark.parametrize("argv", [["/frobnicate"], ["enum"], ["/store"], ["/store", "a", "/store",
                                                                            "b", "/enum"]])
def test_parse_args_errors(argv):
    with pytest.raises(InvalidArgumentError):
        be.parse_args(argv)


def _run(store: BcdStore, line: str) -> be.Outcome:
    return be.execute(be.parse_args(line.split()), store)


@pytest.fixture
def bios(corpus) -> BcdStore:
    return BcdStore(Hive.open(corpus / "bcd" / "win10-bios-installed-sysreserved.bcd"))


@pytest.fixture
def minimal(corpus) -> BcdStore:
    return BcdStore(Hive.open(corpus / "bcd" / "win10-uefi-minimal-windeploy.bcd"))


@pytest.mark.parametrize("line, guid, code, raw", [
    ("/set {bootmgr} timeout 0x1e", BOOTMGR, 0x25000004, (30).to_bytes(8, "little")),
    ("/set {default} nx AlwaysOff", None, 0x25000020, (2).to_bytes(8, "little")),
    ("/set {default} bootstatuspolicy ignoreallfailures", None, 0x250000e0,
     (1).to_bytes(8, "little")),
    ("/set {default} custom:250000c2 0", None, 0x250000c2, bytes(8)),
    ("/set {default} onetimeadvancedoptions TRUE", None, 0x260000c3, b"\x01"),
    ("/set {default} linearaddress57 OptOut", None, 0x15000088, (1).to_bytes(8, "little")),
    ("/set {default} bootuxtransitiontime 3", None, 0x15000079, (3).to_bytes(8, "little")),
    ("/set {default} recoveryenabled 0", None, 0x16000009, b"\x00"),
    ("/set {emssettings} bootems yes", EMS, 0x16000020, b"\x01"),
    ("/set {default} description Rescue", None, 0x12000004, "Rescue\0".encode("utf-16-le")),
    ("/set {bootmgr} default {memdiag}", BOOTMGR, 0x23000003,
     (objects.ALIASES["{memdiag}"] + "\0").encode("utf-16-le")),
    ("/set {bootmgr} device boot", BOOTMGR, 0x11000001,
     bytes(16) + bytes.fromhex("05000000000000004800000000000000") + bytes(56)),
    ("/set {default} badmemorylist 1 0x10", None, 0x1700000a,
     (1).to_bytes(8, "little") + (16).to_bytes(8, "little")),
    ("/timeout 7", BOOTMGR, 0x25000004, (7).to_bytes(8, "little")),
    ("/ems {default} ON", None, 0x260000b0, b"\x01"),
    ("/bootems {bootmgr} on", BOOTMGR, 0x16000020, b"\x01"),
    ("/debug {default} off", None, 0x260000a0, b"\x00"),
    ("/bootdebug {bootmgr} off", BOOTMGR, 0x16000010, b"\x00"),
])
def test_set_like_commands(bios, line, guid, code, raw):
    out = _run(bios, line)
    assert out.lines == [be.SUCCESS]
    target = guid or bios.default_guid()
    assert bios.get(target).elements[code].raw == raw


@pytest.mark.parametrize("line, error", [
    ("/set {bootmgr} ems on", ElementError),
    ("/set {default} displaybootmenu yes", ElementError),
    ("/set {default} nosuchelement 1", ElementError),
    ("/set {default} ems maybe", InvalidArgumentError),
    ("/set {default} nx 12abc", InvalidArgumentError),
    ("/set {default} timeout 5", ElementError),
    ("/set {bootmgr} timeout", InvalidArgumentError),
    ("/set {nonsense} timeout 5", InvalidIdentifierError),
    ("/set {00000000-0000-0000-0000-000000000001} bootems on", NotFoundError),
    ("/set {default} osdevice partition=C:", UnsupportedError),
    ("/ems {bootmgr} on", ElementError),
    ("/ems {default} maybe", InvalidArgumentError),
    ("/ems {ntldr} on", NotFoundError),
    ("/deletevalue {default} ems", NotFoundError),
    ("/default {00000000-0000-0000-0000-000000000001}", NotFoundError),
    ("/displayorder {memdiag} /addfirst /remove", InvalidArgumentError),
    ("/delete {memdiag}", BcdError),
    ("/create /d x /application nonsense", InvalidArgumentError),
    ("/create {bootmgr}", BcdError),
    ("/copy {default}", InvalidArgumentError),
    ("/emssettings EMSPORT", InvalidArgumentError),
    ("/dbgsettings PIGEON", InvalidArgumentError),
])
def test_errors_stage_nothing_visible(bios, line, error):
    with pytest.raises(error):
        _run(bios, line)
    assert bios.diff() == []


def test_current_is_default_with_notice(bios):
    out = _run(bios, "/ems on")  # id omitted: {current}
    assert bios.get(bios.default_guid()).elements[0x260000b0].raw == b"\x01"
    assert any("{current}" in n for n in out.notices)


def test_deletevalue(bios):
    _run(bios, "/deletevalue {bootmgr} toolsdisplayorder")
    assert 0x24000010 not in bios.get(BOOTMGR).elements


def test_displayorder_semantics(bios):
    default = bios.default_guid()
    memdiag = objects.ALIASES["{memdiag}"]
    order = lambda: bios.get(BOOTMGR).elements[0x24000001].value()  # noqa: E731
    _run(bios, "/displayorder {memdiag} /addlast")
    assert order() == [default, memdiag]
    _run(bios, "/displayorder {memdiag} /addfirst")
    assert order() == [memdiag, default]
    _run(bios, "/displayorder {default} {MEMDIAG} {default}")
    assert order() == [default, memdiag]
    _run(bios, "/displayorder {memdiag} /remove")
    _run(bios, "/displayorder {default} /remove")
    assert 0x24000001 not in bios.get(BOOTMGR).elements
    _run(bios, "/toolsdisplayorder {default} /addlast")
    assert bios.get(BOOTMGR).elements[0x24000010].value() == [memdiag, default]
    _run(bios, "/bootsequence {default}")
    assert bios.get(BOOTMGR).elements[0x24000002].value() == [default]


def test_emssettings_on_existing_object(bios):
    out = _run(bios, "/emssettings EMSPORT:1 EMSBAUDRATE:115200")
    assert out.notices == []
    elems = bios.get(EMS).elements
    assert elems[0x15000022].raw == (1).to_bytes(8, "little")
    assert elems[0x15000023].raw == bytes.fromhex("00c2010000000000")
    _run(bios, "/emssettings BIOS")
    assert 0x15000022 not in bios.get(EMS).elements and 0x15000023 not in bios.get(EMS).elements


def test_emssettings_creates_missing_objects_and_links_them(minimal):
    out = _run(minimal, "/emssettings emsport:2")
    ems = minimal.get(EMS)
    assert ems.type == 0x20100000 and ems.elements[0x15000022].value() == 2
    assert minimal.get(GLOBAL).type == 0x20100000
    assert minimal.get(GLOBAL).elements[0x14000006].value() == [EMS]
    # {bootmgr} and the loader now reach emsport through {globalsettings}
    assert minimal.effective(BOOTMGR, 0x15000022)[0] == EMS
    assert minimal.effective(minimal.default_guid(), 0x15000022)[0] == EMS
    assert any("created {emssettings}" in n for n in out.notices)
    assert any("created {globalsettings}" in n for n in out.notices)


def test_dbgsettings(bios):
    _run(bios, "/dbgsettings SERIAL DEBUGPORT:2 BAUDRATE:57600 /noumex")
    dbg = bios.get(objects.ALIASES["{dbgsettings}"]).elements
    assert dbg[0x15000011].value() == 0 and dbg[0x15000013].value() == 2
    assert dbg[0x15000014].value() == 57600 and dbg[0x16000017].value() is True
    _run(bios, "/dbgsettings NET HOSTIP:10.0.0.1 PORT:50000 KEY:a.b.c.d")
    dbg = bios.get(objects.ALIASES["{dbgsettings}"]).elements
    assert dbg[0x15000011].value() == 3 and dbg[0x1500001a].raw[:4] == bytes([10, 0, 0, 1])
    assert dbg[0x1500001b].value() == 50000 and dbg[0x1200001d].value() == "a.b.c.d"


def test_create_copy_delete(bios):
    out = _run(bios, "/create /d Tools /application osloader")
    guid = out.lines[0].split()[2]
    assert out.lines[0] == f"The entry {guid} was successfully created."
    assert bios.get(guid).type == objects.OSLOADER and bios.get(guid).description == "Tools"
    copied = _run(bios, "/copy {default} /d Second").lines[0].split()[-1].rstrip(".")
    assert bios.get(copied).description == "Second"
    assert bios.get(copied).elements[0x21000001] == bios.get(bios.default_guid()).elements[
        0x21000001]
    _run(bios, f"/displayorder {copied} /addlast")
    _run(bios, f"/delete {copied}")
    assert not bios.has(copied)
    assert copied not in bios.get(BOOTMGR).elements[0x24000001].value()
    _run(bios, "/create {ntldr} /d Legacy")
    assert bios.get(objects.ALIASES["{ntldr}"]).type == objects.NTLDR
    _run(bios, "/create /device")
    _run(bios, "/create /inherit osloader")
    _run(bios, "/delete {memdiag} /f")
    assert not bios.has(objects.ALIASES["{memdiag}"])
    assert 0x24000010 not in bios.get(BOOTMGR).elements  # its only entry was {memdiag}


def test_enum_command(bios):
    out = _run(bios, "/enum {emssettings}")
    assert out.lines == ["", "EMS Settings", "-" * 12, "identifier              {emssettings}",
                         "bootems                 No"]
    assert _run(bios, "/enum BOOTMGR /v").lines[3].endswith(BOOTMGR)
    with pytest.raises(InvalidIdentifierError):
        _run(bios, "/enum nonsense")


def test_export_gives_the_store_bytes(bios):
    out = _run(bios, "/export /tmp/x.bcd")
    assert out.new_file == ("/tmp/x.bcd", bytes(bios.hive.data))


def test_new_store_image_is_an_empty_bcd_store():
    store = BcdStore(Hive.from_bytes(be.new_store_image()))
    assert store.objects() == [] and store.hive.root.name == "NewStoreRoot"


def test_delete_loader_removes_unshared_resume_object(bios):
    default = bios.default_guid()
    resume = bios.get(default).elements[0x23000003].value().lower()
    copy = _run(bios, "/copy {default} /d Twin").lines[0].split()[-1].rstrip(".")
    _run(bios, f"/delete {default}")
    assert bios.has(resume)                      # the copy still uses it
    out = _run(bios, f"/delete {copy}")
    assert not bios.has(resume)
    assert any("resume object" in n for n in out.notices)
    assert 0x23000006 not in bios.get(BOOTMGR).elements  # {bootmgr} resumeobject cleaned up
    assert not bios.has(default) and bios.default_guid() is None


def test_delete_nocleanup_keeps_references(bios):
    default = bios.default_guid()
    _run(bios, "/delete {default} /nocleanup")
    assert not bios.has(default)
    assert bios.get(BOOTMGR).elements[0x24000001].value() == [default]


def test_set_object_list_with_list_modes(corpus):
    store = BcdStore(Hive.open(corpus / "bcd" / "win11-uefi-installed-many-fw-entries.bcd"))
    fw = objects.ALIASES["{fwbootmgr}"]
    before = store.get(fw).elements[0x24000001].value()
    _run(store, "/set {fwbootmgr} displayorder {bootmgr} /addlast")
    after = store.get(fw).elements[0x24000001].value()
    assert after[-1] == BOOTMGR and sorted(after) == sorted(g.lower() for g in before)
    _run(store, "/set {fwbootmgr} displayorder {bootmgr} /addfirst")
    assert store.get(fw).elements[0x24000001].value()[0] == BOOTMGR


def test_import_store_replaces_objects(bios, corpus):
    source = BcdStore(Hive.open(corpus / "bcd" / "win10-media-bios.bcd"))
    be.import_store(bios, source)
    assert {o.guid: (o.type, o.elements) for o in bios.objects()} == \
        {o.guid: (o.type, o.elements) for o in source.objects()}
    image = bios.to_bytes(same_size=True)        # fits the 40 KiB store: size kept
    again = BcdStore(Hive.from_bytes(image))
    assert [o.guid for o in again.objects()] == [o.guid for o in source.objects()]


# --- the command line as pasted: - switches, a leading bcdedit, /? --------------------------------

@pytest.mark.parametrize("argv, name, args, store", [
    (["-set", "{default}", "nx", "OptIn"], "set", ["{default}", "nx", "OptIn"], None),
    (["-store", "X", "-displayorder", "{a}", "-addlast"], "displayorder", ["{a}", "/addlast"],
     "X"),
    (["bcdedit.exe", "/store", "X", "-create", "-d", "WinPE", "-application", "osloader"],
     "create", ["/d", "WinPE", "/application", "osloader"], "X"),
    (["BCDEDIT", "-Delete", "{x}", "-F", "-Cleanup"], "delete", ["{x}", "/F", "/Cleanup"], None),
    (["bcdedit", "-enum", "ALL", "-v"], "enum", ["ALL"], None),
    (["/?"], "help", [], None),
    (["-?", "TYPES", "OSLOADER"], "help", ["TYPES", "OSLOADER"], None),
    (["/set", "{default}", "loadoptions", "-d"], "set", ["{default}", "loadoptions", "/d"], None),
    (["/set", "{default}", "truncatememory", "-1"], "set", ["{default}", "truncatememory", "-1"],
     None),
])
def test_parse_args_as_pasted(argv, name, args, store):
    cmd = be.parse_args(argv)
    assert (cmd.name, cmd.args, cmd.store) == (name, args, store)


@pytest.mark.parametrize("argv, hint", [
    (["/sett"], "(did you mean /set?)"), (["set"], "(did you mean /set?)"),
    (["/enumerate"], "(did you mean /enum?)"), (["/dbgsetting"], "/dbgsettings"),
    (["/frobnicate"], None),
])
def test_unknown_commands_name_the_close_ones(argv, hint):
    with pytest.raises(InvalidArgumentError) as info:
        be.parse_args(argv)
    assert (hint in str(info.value)) if hint else "did you mean" not in str(info.value)


def test_enum_types_and_close_matches(bios):
    for kind in ("ACTIVE", "all", "Firmware", "BOOTAPP", "bootmgr", "OSLOADER", "resume",
                 "INHERIT"):
        _run(bios, f"/enum {kind}")
    with pytest.raises(InvalidIdentifierError, match="did you mean FIRMWARE"):
        _run(bios, "/enum firmwar")
    assert "Windows Boot Manager" not in "\n".join(_run(bios, "/enum BOOTAPP").lines)


def test_event_is_a_loader_switch(bios):
    _run(bios, "/event ON")
    assert bios.get(bios.default_guid()).elements[0x26000141].raw == b"\x01"
    _run(bios, "/event {default} off")
    assert bios.get(bios.default_guid()).elements[0x26000141].raw == b"\x00"
    with pytest.raises(ElementError, match="osloader"):
        _run(bios, "/event {bootmgr} on")


def test_eventsettings_shares_the_net_debugger_elements(bios):
    """Microsoft's Setup and Boot Event Collection page: after `bcdedit /event yes` and
    `bcdedit /eventsettings net hostip:1.2.3.4 port:50000 key:a.b.c.d`, `bcdedit /eventsettings`
    shows Key, Debugtype = NET, Hostip, Port and DHCP = yes."""
    dbg = objects.ALIASES["{dbgsettings}"]
    assert bios.get(dbg).elements[0x15000011].raw != (3).to_bytes(8, "little")
    _run(bios, "/event yes")
    assert bios.get(bios.default_guid()).elements[0x26000141].raw == b"\x01"
    out = _run(bios, "/eventsettings net hostip:1.2.3.4 port:50000 key:a.b.c.d")
    assert out.lines == ["Key=a.b.c.d"]
    elements = bios.get(dbg).elements
    assert elements[0x1500001a].raw == bytes([1, 2, 3, 4]) + bytes(4)
    assert elements[0x1500001b].raw == (50000).to_bytes(8, "little")
    assert elements[0x15000011].raw == (3).to_bytes(8, "little")       # debugtype NET
    assert elements[0x1600001c].raw == b"\x01"                         # dhcp Yes
    shown = _run(bios, "/eventsettings").lines
    for line in ("debugtype               NET", "hostip                  1.2.3.4",
                 "port                    50000", "key                     a.b.c.d",
                 "dhcp                    Yes"):
        assert line in shown, shown


def test_ipv4_elements_take_and_print_dotted_addresses(bios):
    _run(bios, "/set {default} hypervisorhostip 192.168.1.2")
    _run(bios, "/set {dbgsettings} hostip 10.0.0.7")
    assert bios.get(bios.default_guid()).elements[0x250000fd].raw == \
        bytes([192, 168, 1, 2, 0, 0, 0, 0])
    assert "hypervisorhostip        192.168.1.2" in _run(bios, "/enum {default}").lines
    assert "hostip                  10.0.0.7" in _run(bios, "/dbgsettings").lines
    _run(bios, "/set {default} hypervisorhostip 0x0100007f")      # an integer still works
    assert "hypervisorhostip        127.0.0.1" in _run(bios, "/enum {default}").lines
    with pytest.raises(InvalidArgumentError):
        _run(bios, "/set {default} hypervisorhostip 300.1.1.1")


def test_copy_of_a_menu_entry_joins_the_menu_and_others_do_not(bios):
    default = bios.default_guid()
    copy = _run(bios, "/copy {default} /d Twin").lines[0].split()[-1].rstrip(".")
    assert bios.get(BOOTMGR).elements[0x24000001].value() == [default, copy]
    tool = _run(bios, "/copy {memdiag} /d Memtest2").lines[0].split()[-1].rstrip(".")
    assert tool not in bios.get(BOOTMGR).elements[0x24000001].value()


def test_current_without_a_default_is_live_only(minimal):
    from bcdtool.errors import LiveSystemError

    _run(minimal, "/deletevalue {bootmgr} default")
    with pytest.raises(LiveSystemError, match="GUID"):
        _run(minimal, "/set nx OptIn")
    with pytest.raises(LiveSystemError):
        _run(minimal, "/ems {current} on")
    with pytest.raises(NotFoundError):
        _run(minimal, "/ems {default} on")


@pytest.mark.parametrize("path", ["C:\\Data\\BCD", "c:/x", "\\\\server\\share\\BCD"])
def test_windows_paths_are_not_created_here(bios, path):
    with pytest.raises(InvalidArgumentError, match="Windows path"):
        _run(bios, f"/export {path}")
    with pytest.raises(InvalidArgumentError, match="Windows path"):
        be.parse_import([path])
    assert be.local_file("/tmp/BCD", "/export") == "/tmp/BCD"


def test_sysstore_is_live_only():
    from bcdtool.errors import LiveSystemError

    assert be.parse_args(["/sysstore", "C:"]).name == "sysstore"
    with pytest.raises(LiveSystemError, match="/store"):
        be.sysstore()


def test_help_topics():
    from bcdtool.bcd import bcdedit_help as help_

    assert any("/set" in line for line in help_.render([]))
    assert "FORMATS" in "\n".join(help_.render(["TOPICS"]))
    types = "\n".join(help_.render(["TYPES", "OSLOADER"]))
    assert "bootmenupolicy                  integer (Legacy | Standard)" in types
    assert "nx                              integer (OptIn | OptOut | AlwaysOff | AlwaysOn)" \
        in types
    assert help_.render(["/createstore"])[0] == "bcdedit [/store TARGET] /createstore FILE"
    assert help_.render(["set"]) == help_.render(["/SET"])
    with pytest.raises(InvalidArgumentError, match="did you mean FORMATS"):
        help_.render(["FORMAT"])
    with pytest.raises(InvalidArgumentError, match="OSLOADER"):
        help_.render(["TYPES", "NOSUCH"])


@pytest.mark.parametrize("words, noted", [
    (["path", "windowssystem32winload.exe"], True),           # bash ate "\w" of \windows
    (["device", "ramdisk=[boot]Bootboot.wim,{ramdiskoptions}"], True),
    (["path", "\\windows\\system32\\winload.exe"], False),
    (["description", "hello"], False),
    (["osdevice", "locate=custom:12000002"], False),
])
def test_a_path_without_backslashes_is_noted(bios, words, noted):
    out = _run_words(bios, "/set", "{default}", *words)
    assert out.lines == [be.SUCCESS]
    assert any("backslash" in n for n in out.notices) == noted


def _run_words(store: BcdStore, *words: str) -> be.Outcome:
    return be.execute(be.parse_args(list(words)), store)


def test_a_bios_store_has_no_firmware_boot_manager(bios):
    with pytest.raises(NotFoundError, match="NVRAM") as info:
        _run(bios, "/set {fwbootmgr} displayorder {bootmgr} /addfirst")
    assert str(info.value).startswith("An error occurred while attempting to reference")
    with pytest.raises(NotFoundError, match="NVRAM"):
        _run(bios, "/enum {fwbootmgr}")
