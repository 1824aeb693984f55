"""The rest of bcdedit real users paste: VHD devices, /dbgsettings (show, NET key), 
/hypervisorsettings, /import /clean, /mirror, and element names Windows prints (claimedtpmcounter),
each checked against element bytes of Windows-written corpus stores where one exists."""

from __future__ import annotations

import re

import pytest

from bcdtool.bcd import bcdedit as be
from bcdtool.bcd import enum
from bcdtool.bcd.device import (LocateDevice, PartitionDevice, VhdDevice, build_device_element,
                                parse_device_element, parse_device_text)
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import InvalidArgumentError, NotFoundError, UnsupportedError
from bcdtool.regf.hive import Hive

BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
DBGSETTINGS = "{4636856e-540f-4170-a130-a84776f4c654}"
HYPERVISOR = "{7ff607e0-4395-11db-b0de-0800200c9a66}"
KEY = re.compile(r"^Key=([0-9a-z]{1,13}\.){3}[0-9a-z]{1,13}$")


def _run(store: BcdStore, *words: str) -> be.Outcome:
    return be.execute(be.parse_args(list(words)), store)


@pytest.fixture
def bios(corpus) -> BcdStore:
    return BcdStore(Hive.open(corpus / "bcd" / "win10-bios-installed-sysreserved.bcd"))


# --- VHD devices ---------------------------------------------------------------------------------

def test_vhd_device_layout_is_windows(corpus):
    """`vhd=[partition]\\path`: the offsets ntloader's VHD template (taken from a Windows store)
    fixes, and the nested partition descriptor byte for byte as Windows 10 wrote it."""
    from Registry import Registry

    reg = Registry.Registry(str(corpus / "bcd" / "win10-bios-installed-sysreserved.bcd"))
    partition = reg.open(f"Objects\\{BOOTMGR}\\Elements\\11000001").value("Element").raw_data()
    device = parse_device_element(partition)
    vhd = VhdDevice(parent=device, path="\\vhd\\win.vhdx")
    blob = build_device_element(vhd)
    size = len(blob)
    u32 = lambda at: int.from_bytes(blob[at:at + 4], "little")   # noqa: E731
    assert blob[:16] == bytes(16) and u32(0x10) == 8 and u32(0x18) == size - 0x10
    assert u32(0x24) == 0x12000002 and u32(0x28) == 0x1E
    assert u32(0x36) == size - 0x2E and u32(0x3E) == 6
    assert u32(0x5E) == size - 0x56 and u32(0x66) == 5 and u32(0x6A) == 1
    assert u32(0x6E) == size - 0x6A and u32(0x72) == 5
    assert blob[0x76:0x76 + 0x48] == partition[16:]
    assert blob[0x76 + 0x48:] == "\\vhd\\win.vhdx\0".encode("utf-16-le")
    again = parse_device_element(blob)
    # as bcdedit prints it (real outputs: `vhd=[D:]\\win8rtm.vhdx,locate=custom:12000002`)
    assert again == vhd and again.text() == "vhd=[unknown]\\vhd\\win.vhdx,locate=custom:12000002"
    assert "vhd=[<MBR disk 76a4a23d" in again.text(detailed=True)


@pytest.mark.parametrize("text, shown", [
    ("vhd=[locate]\\windows.vhdx", "vhd=[locate]\\windows.vhdx,locate=custom:12000002"),
    ("vhd=[boot]\\x.vhd", "vhd=[boot]\\x.vhd,locate=custom:12000002"),
    ("vhd=[mbr:1b2c3d4e:0x100000]\\x.vhd", "vhd=[unknown]\\x.vhd,locate=custom:12000002"),
    # pasted back from bcdedit's own output
    ("vhd=[boot]\\x.vhdx,locate=custom:22000002", "vhd=[boot]\\x.vhdx,locate=custom:22000002"),
    ("VHD=[boot]\\x.vhdx,LOCATE=custom:0x12000002",
     "vhd=[boot]\\x.vhdx,locate=custom:12000002"),
])
def test_vhd_forms_round_trip(text, shown):
    device = parse_device_text(text, str)
    assert isinstance(device, VhdDevice)
    assert parse_device_element(build_device_element(device)) == device
    assert device.text() == shown


def test_vhd_with_a_drive_letter_needs_the_disk():
    with pytest.raises(UnsupportedError, match="whole disk"):
        parse_device_text("vhd=[C:]\\x.vhd", str)
    seen = []

    def letters(text):
        seen.append(text)
        return PartitionDevice(style="mbr", disk_signature=1, partition_offset=1 << 20)

    device = parse_device_text("vhd=[C:]\\x.vhd", str, letters)
    assert seen == ["C:"] and device.parent.partition_offset == 1 << 20


def test_vhd_set_and_shown_by_enum(bios):
    _run(bios, "/set", "{default}", "device", "vhd=[locate]\\windows.vhdx")
    _run(bios, "/set", "{default}", "osdevice", "vhd=[boot]\\windows.vhdx")
    text = enum.render(bios, enum.select(bios, "{default}"))
    # bcdedit's defaults: the device searches the attached disk for path, the osdevice for
    # systemroot (as in real `bcdedit /enum` outputs of native VHD boot entries)
    assert "device                  vhd=[locate]\\windows.vhdx,locate=custom:12000002" in text
    assert "osdevice                vhd=[boot]\\windows.vhdx,locate=custom:22000002" in text
    reread = BcdStore(Hive.from_bytes(bios.to_bytes()))
    default = reread.default_guid()
    assert isinstance(reread.get(default).elements[0x11000001].value(), VhdDevice)
    assert isinstance(reread.get(default).elements[0x11000001].value().parent, LocateDevice)


# --- debugger settings ---------------------------------------------------------------------------

def test_dbgsettings_without_argument_shows(bios, corpus):
    out = _run(bios, "/dbgsettings")
    assert out.lines == ["debugtype               Local",     # Windows 10's default
                         be.SUCCESS]
    assert not be.parse_args(["/dbgsettings"]).writes
    assert be.parse_args(["/dbgsettings", "serial"]).writes
    fresh = BcdStore(Hive.open(corpus / "bcd" / "win10-uefi-minimal-windeploy.bcd"))
    with pytest.raises(NotFoundError):
        _run(fresh, "/dbgsettings")


def test_dbgsettings_net_generates_and_prints_a_key(bios):
    out = _run(bios, "/dbgsettings", "net", "hostip:10.0.0.5", "port:50000")
    assert KEY.match(out.lines[0]), out.lines
    key = out.lines[0][4:]
    elements = bios.get(DBGSETTINGS).elements
    assert elements[0x1200001d].raw == (key + "\0").encode("utf-16-le")
    assert elements[0x15000011].raw == (3).to_bytes(8, "little")
    assert elements[0x1500001a].raw == bytes([10, 0, 0, 5]) + bytes(4)
    assert elements[0x1500001b].raw == (50000).to_bytes(8, "little")
    assert elements[0x1600001c].raw == b"\x01"
    # again without a key: the stored one is kept and printed; NEWKEY makes another
    assert _run(bios, "/dbgsettings", "NET", "HOSTIP:10.0.0.6", "PORT:50001").lines[0] == \
        f"Key={key}"
    fresh = _run(bios, "/dbgsettings", "net", "newkey", "nodhcp", "busparams=0.25.0")
    assert fresh.lines == [fresh.lines[0]]                 # bcdedit prints only the key
    assert KEY.match(fresh.lines[0]) and fresh.lines[0] != f"Key={key}"
    now = bios.get(DBGSETTINGS).elements
    assert now[0x1600001c].raw == b"\x00"
    assert now[0x12000019].raw == "0.25.0\0".encode("utf-16-le")
    given = _run(bios, "/dbgsettings", "net", "key:a.b.c.d")
    assert given.lines[0] == "Key=a.b.c.d"
    with pytest.raises(InvalidArgumentError, match="NEWKEY"):
        _run(bios, "/dbgsettings", "net", "key:a.b.c.d", "newkey")


def test_dbgsettings_net_needs_a_host(corpus):
    store = BcdStore(Hive.open(corpus / "bcd" / "win10-uefi-minimal-windeploy.bcd"))
    with pytest.raises(InvalidArgumentError, match="HOSTIP"):
        _run(store, "/dbgsettings", "net", "port:50000")
    with pytest.raises(InvalidArgumentError, match="NET"):
        _run(store, "/dbgsettings", "serial", "nodhcp")


def test_hypervisorsettings(bios):
    shown = _run(bios, "/hypervisorsettings")
    assert shown.lines == ["hypervisordebugtype     Serial", "hypervisordebugport     1",
                           "hypervisorbaudrate      115200", be.SUCCESS]
    _run(bios, "/hypervisorsettings", "serial", "debugport:2", "baudrate:57600")
    elements = bios.get(HYPERVISOR).elements
    assert elements[0x250000f4].raw == (2).to_bytes(8, "little")
    assert elements[0x250000f5].raw == (57600).to_bytes(8, "little")
    out = _run(bios, "/hypervisorsettings", "NET", "HOSTIP:192.168.1.2", "PORT:50010")
    assert KEY.match(out.lines[0])
    elements = bios.get(HYPERVISOR).elements
    assert elements[0x250000f3].raw == (3).to_bytes(8, "little")
    assert elements[0x22000110].raw == (out.lines[0][4:] + "\0").encode("utf-16-le")
    assert elements[0x250000fe].raw == (50010).to_bytes(8, "little")


# --- /import /clean, /mirror ----------------------------------------------------------------------

def test_import_keeps_firmware_entries_unless_clean(corpus):
    many = corpus / "bcd" / "win11-uefi-installed-many-fw-entries.bcd"
    source = BcdStore(Hive.open(corpus / "bcd" / "win10-uefi-installed-systemd-boot.bcd"))
    firmware = {o.guid for o in BcdStore(Hive.open(many)).objects() if o.type == 0x101FFFFF}
    kept_store = BcdStore(Hive.open(many))
    out = be.import_store(kept_store, source)
    kept = {o.guid for o in kept_store.objects() if o.type == 0x101FFFFF}
    assert firmware - {o.guid for o in source.objects()} <= kept and "/clean" in out.notices[-1]
    clean_store = BcdStore(Hive.open(many))
    be.import_store(clean_store, source, clean=True)
    assert {o.guid for o in clean_store.objects()} == {o.guid for o in source.objects()}
    assert be.parse_import(["x.bcd", "/CLEAN"]) == ("x.bcd", True)
    with pytest.raises(InvalidArgumentError):
        be.parse_import(["/clean"])


def test_mirror_copies_the_entry_into_the_menu(bios):
    default = bios.default_guid()
    out = _run(bios, "/mirror", "{default}")
    copy = out.lines[0].split()[-1].rstrip(".")
    assert bios.get(copy).elements[0x12000004].raw == bios.get(default).elements[0x12000004].raw
    assert bios.get(BOOTMGR).elements[0x24000001].value()[-1] == copy


# --- element names --------------------------------------------------------------------------------

def test_claimedtpmcounter_prints_as_windows_does(bios, corpus):
    expected = next(line for line in (corpus / "enum" / "win11-uefi-enum-flightsigning.txt")
                    .read_text().splitlines() if line.startswith("claimedtpmcounter"))
    _run(bios, "/set", "{default}", "claimedtpmcounter", "0x10002")
    assert bios.get(bios.default_guid()).elements[0x25000130].raw == \
        (0x10002).to_bytes(8, "little")
    assert expected in enum.render(bios, enum.select(bios, "{default}")).splitlines()


def test_every_element_name_in_the_corpus_enum_outputs_is_known(corpus):
    """Each element name bcdedit printed in a corpus /enum output resolves in the table."""
    from bcdtool.bcd import objects
    from bcdtool.bcd.elements import resolve

    types = [objects.BOOTMGR, objects.OSLOADER, objects.RESUME, objects.MEMDIAG,
             objects.INHERIT_ANY, objects.INHERIT_OSLOADER, objects.DEVICE_OPTIONS]
    for path in sorted((corpus / "enum").glob("*.txt")):
        for line in path.read_text().splitlines():
            m = re.match(r"^([a-z][a-z0-9]+)(?:\s{2,}| )\S", line)
            if not m or m.group(1) == "identifier":
                continue
            name = m.group(1)
            assert any(_resolves(resolve, name, t) for t in types), (path.name, name)


def _resolves(resolve, name: str, object_type: int) -> bool:
    try:
        resolve(name, object_type)
    except Exception:       # noqa: BLE001 - ElementError: not in this scope
        return False
    return True


# --- device forms bcdedit's FORMATS help names ----------------------------------------------------

@pytest.mark.parametrize("text, shown", [
    ("hd_partition=mbr:76a4a23d:0x100000",
     "partition=<MBR disk 76a4a23d offset 0x100000 (1 MiB)>"),
    ("ramdisk=[locate]\\sources\\boot.wim,{ramdiskoptions}",
     "ramdisk=[locate]\\sources\\boot.wim,{ae5534e0-a924-466c-b836-758539a3ee3a}"),
    ("file=[locate]\\EFI\\x.efi", "file=[locate]\\EFI\\x.efi"),
    ("file=[boot]\\EFI\\x.efi", "file=[boot]\\EFI\\x.efi"),
])
def test_device_forms_round_trip(text, shown):
    from bcdtool.bcd.objects import alias_guid

    device = parse_device_text(text, lambda t: alias_guid(t) or t)
    again = parse_device_element(build_device_element(device))
    assert again == device and again.text(detailed=True) == shown


@pytest.mark.parametrize("text, error, words", [
    ("hd_partition=C:", UnsupportedError, "whole disk"),
    ("locate", InvalidArgumentError, "locate=\\path"),
    ("unknown", InvalidArgumentError, "FORMATS"),
    ("ramdisk=[boot]\\x.wim", InvalidArgumentError, "{options}"),
])
def test_device_forms_refused_with_the_next_step(text, error, words):
    with pytest.raises(error, match=re.escape(words)):
        parse_device_text(text, str)
