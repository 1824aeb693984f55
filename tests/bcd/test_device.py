"""Device element blobs: decode to text/JSON, build back byte-identically, keep unknowns raw."""

from __future__ import annotations

import pytest
from tests.bcd._corpus import corpus_stores, registry_elements

from bcdtool.bcd.device import (BootDevice, FileDevice, LocateDevice, PartitionDevice,
                                RamdiskDevice, RawDevice, build_device_element,
                                parse_device_element, parse_device_text)
from bcdtool.bcd.elements import Format, element_format
from bcdtool.errors import FormatError, InvalidArgumentError, UnsupportedError

BOOT = bytes(16) + bytes.fromhex("05000000 00000000 48000000 00000000") + bytes(56)
# GPT example from bcd.md §4.3
GPT = (bytes(16) + bytes.fromhex("06000000 00000000 48000000 00000000")
       + bytes.fromhex("77b8295eb6635d4092f98db942ce089b") + bytes(8)
       + bytes.fromhex("2388ac2338d7f343be9d098b061d13aa") + bytes(16))
# MBR partition at 1 MiB on disk 0x36234da4 (bcd.md §4.3)
MBR = (bytes(16) + bytes.fromhex("06000000 00000000 48000000 00000000")
       + (0x100000).to_bytes(16, "little") + bytes(4) + (1).to_bytes(4, "little")
       + (0x36234da4).to_bytes(16, "little") + bytes(16))
LOCATE = bytes(16) + bytes.fromhex("08000000 00000000 1e000000 00000000 00000000 02000012 "
                                   "00000000 0000")
RAMDISK_OPTS = "{7619dcc8-fafe-11d9-b411-000476eba25f}"


def _ident(guid: str) -> str:
    return "{ramdiskoptions}" if guid == "{ae5534e0-a924-466c-b836-758539a3ee3a}" else guid


@pytest.mark.parametrize("raw, cls, text, detailed", [
    (BOOT, BootDevice, "boot", "boot"),
    (GPT, PartitionDevice, "unknown",
     "partition=<GPT disk {23ac8823-d738-43f3-be9d-098b061d13aa} "
     "partition {5e29b877-63b6-405d-92f9-8db942ce089b}>"),
    (MBR, PartitionDevice, "unknown", "partition=<MBR disk 36234da4 offset 0x100000 (1 MiB)>"),
    (LOCATE, LocateDevice, "locate=custom:12000002", "locate=custom:12000002"),
])
def test_decode_table(raw, cls, text, detailed):
    dev = parse_device_element(raw)
    assert type(dev) is cls
    assert dev.text(_ident) == text
    assert dev.text(_ident, detailed=True) == detailed
    assert build_device_element(dev) == raw


def test_ramdisk_built_like_windows_then_parsed():
    dev = RamdiskDevice(parent=BootDevice(), path="\\sources\\boot.wim", options=RAMDISK_OPTS,
                        flags=1)
    raw = build_device_element(dev)
    # ntloader/bcd.md §4.5 offsets: flags 1, sub-type 3, path descriptor version 1 and type 5,
    # nested boot device at 0x44, path after it
    assert raw[0x14] == 1 and raw[0x20] == 3 and raw[0x38] == 1 and raw[0x40] == 5
    assert raw[0x44] == 5 and raw[0x8C:].decode("utf-16-le") == "\\sources\\boot.wim\0"
    assert int.from_bytes(raw[0x18:0x1C], "little") == len(raw) - 16
    assert int.from_bytes(raw[0x3C:0x40], "little") == len(raw) - 0x38
    assert parse_device_element(raw) == dev
    assert dev.text(_ident) == "ramdisk=[boot]\\sources\\boot.wim," + RAMDISK_OPTS
    assert dev.to_json()["parent"] == {"type": "boot"}


def test_file_on_partition_round_trip():
    dev = FileDevice(parent=parse_device_element(MBR), path="\\disk.vhd")
    raw = build_device_element(dev)
    assert parse_device_element(raw) == dev
    assert dev.text() == "file=[unknown]\\disk.vhd"


@pytest.mark.parametrize("raw", [
    bytes(16) + bytes.fromhex("07000000 00000000 14000000 00000000 01020304"),   # unknown type
    BOOT[:-1] + b"\x01",                                                          # non-zero body
    MBR[:0x34] + (2).to_bytes(4, "little") + MBR[0x38:],                         # unknown style
    bytes(16) + bytes.fromhex("06000000 00000000 ff000000 00000000") + bytes(56),  # size too big
    BOOT + b"\0\0",                                                               # trailing bytes
])
def test_irregular_blobs_stay_raw(raw):
    dev = parse_device_element(raw)
    assert isinstance(dev, RawDevice)
    assert build_device_element(dev) == raw
    assert dev.text() == "unknown"


def test_too_short_is_format_error():
    with pytest.raises(FormatError):
        parse_device_element(bytes(20))


def test_hostile_nesting_is_bounded():
    # a file device whose parent is a file device whose parent is ... (deeper than MAX_DEPTH)
    dev = BootDevice()
    for _ in range(8):
        dev = FileDevice(parent=dev, path="\\x")
    raw = build_device_element(dev)
    assert isinstance(parse_device_element(raw), RawDevice)


@pytest.mark.parametrize("text, expected", [
    ("boot", BootDevice()),
    ("BOOT", BootDevice()),
    ("partition=mbr:36234da4:1048576",
     PartitionDevice(style="mbr", disk_signature=0x36234da4, partition_offset=0x100000)),
    ("partition=gpt:{23AC8823-D738-43F3-BE9D-098B061D13AA}:{5e29b877-63b6-405d-92f9-8db942ce089b}",
     PartitionDevice(style="gpt", disk_guid="{23ac8823-d738-43f3-be9d-098b061d13aa}",
                     partition_guid="{5e29b877-63b6-405d-92f9-8db942ce089b}")),
    ("ramdisk=[boot]\\sources\\boot.wim,{ramdiskoptions}",
     RamdiskDevice(parent=BootDevice(), path="\\sources\\boot.wim",
                   options="{ae5534e0-a924-466c-b836-758539a3ee3a}", flags=1)),
    ("file=[boot]\\a.vhd", FileDevice(parent=BootDevice(), path="\\a.vhd")),
    ("locate=custom:12000002", LocateDevice(element_type=0x12000002)),
])
def test_parse_device_text(text, expected):
    resolve = {"{ramdiskoptions}": "{ae5534e0-a924-466c-b836-758539a3ee3a}"}.get
    assert parse_device_text(text, resolve) == expected


def test_locate_text_equals_corpus_bytes():
    assert build_device_element(parse_device_text("locate=custom:12000002", str)) == LOCATE


@pytest.mark.parametrize("text, error", [
    ("partition=C:", UnsupportedError), ("ramdisk=[C:]\\x.wim,{ramdiskoptions}", UnsupportedError),
    ("floppy", InvalidArgumentError), ("ramdisk=[boot]\\x.wim", InvalidArgumentError),
    ("file=\\x", InvalidArgumentError),
])
def test_parse_device_text_errors(text, error):
    with pytest.raises(error):
        parse_device_text(text, lambda s: s)


@pytest.mark.parametrize("store", corpus_stores(), ids=lambda p: p.name)
def test_corpus_devices_decode_structurally(store):
    for guid, _type, code, _reg, raw in registry_elements(store):
        if element_format(code) != Format.DEVICE:
            continue
        dev = parse_device_element(raw)
        assert not isinstance(dev, RawDevice), (guid, hex(code))
        assert build_device_element(dev) == raw
        assert dev.to_json()["type"] == dev.kind


def test_disk_layout_names_partitions():
    from bcdtool.bcd.device import DiskLayout

    mbr = parse_device_element(MBR)
    gpt = parse_device_element(GPT)
    disk = DiskLayout("mbr", disk_signature=0x36234da4, partitions=((1, 0x100000, ""),))
    assert disk.name(mbr) == "partition 1 of this disk" and disk.name(gpt) is None
    assert mbr.text(detailed=True, where=disk.name).endswith(": partition 1 of this disk>")
    other = DiskLayout("mbr", disk_signature=0x1, partitions=((1, 0x100000, ""),))
    assert other.name(mbr) is None
    gdisk = DiskLayout("gpt", disk_guid="{23ac8823-d738-43f3-be9d-098b061d13aa}",
                       partitions=((3, 0, "{5E29B877-63B6-405D-92F9-8DB942CE089B}"),))
    assert gdisk.name(gpt) == "partition 3 of this disk"
