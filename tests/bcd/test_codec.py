"""Element value codecs: table tests per format, and every corpus element decodes and re-encodes."""

from __future__ import annotations

import pytest
from tests.bcd._corpus import corpus_stores, registry_elements

from bcdtool.bcd import codec
from bcdtool.bcd.device import Device, RawDevice
from bcdtool.bcd.elements import Format, element_format
from bcdtool.errors import FormatError, InvalidArgumentError
from bcdtool.regf.values import REG_BINARY, REG_MULTI_SZ, REG_SZ

GUID_A = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
GUID_B = "{7ea2e1ac-2e61-4728-aaa3-896d9d0a9f0e}"


@pytest.mark.parametrize("code, raw, value", [
    (0x16000020, b"\x01", True),
    (0x16000020, b"\x00", False),
    (0x25000004, bytes.fromhex("1e00000000000000"), 30),
    (0x15000023, bytes.fromhex("00c2010000000000"), 115200),
    (0x17000077, bytes.fromhex("7500001500000000"), [0x15000075]),
    (0x1700000a, bytes.fromhex("38fe0f0000000000" "0f10000000000000"), [0xffe38, 0x100f]),
    (0x12000004, "Windows".encode("utf-16-le") + b"\0\0", "Windows"),
    (0x23000003, GUID_A.encode("utf-16-le") + b"\0\0", GUID_A),
    (0x14000006, (GUID_A + "\0" + GUID_B + "\0\0").encode("utf-16-le"), [GUID_A, GUID_B]),
])
def test_canonical_round_trip(code, raw, value):
    assert codec.decode(code, raw) == value
    assert codec.encode(code, value) == raw


def test_object_sizes_match_bcdedit():
    assert len(codec.encode(0x23000003, GUID_A)) == 78
    assert len(codec.encode(0x14000006, [GUID_A])) == 80
    assert len(codec.encode(0x14000006, [GUID_A, GUID_B])) == 158


@pytest.mark.parametrize("raw, value", [(b"\x05", 5), (b"\x00\xc2\x01", 115200),
                                        (b"\x1e\0\0\0", 30)])
def test_short_integers_are_read_and_written_as_8_bytes(raw, value):
    decoded, layout = codec.decode_with_layout(0x25000004, raw)
    assert decoded == value
    assert codec.encode(0x25000004, decoded, layout=layout) == raw
    assert codec.encode(0x25000004, decoded) == value.to_bytes(8, "little")


@pytest.mark.parametrize("code, raw", [
    (0x16000020, b""), (0x16000020, b"\x01\x00"), (0x16000020, b"\x02"),
    (0x25000004, b""), (0x25000004, bytes(9)),
    (0x17000077, b""), (0x17000077, bytes(7)),
    (0x14000006, "{x}".encode("utf-16-le")),  # an entry without its own NUL
    (0x11000001, bytes(10)),
])
def test_malformed_values_raise_format_error(code, raw):
    with pytest.raises(FormatError):
        codec.decode(code, raw)


@pytest.mark.parametrize("code, value", [
    (0x16000020, 1), (0x25000004, True), (0x25000004, -1), (0x25000004, 1 << 64),
    (0x12000004, 5), (0x12000004, "a\0b"), (0x17000077, []), (0x14000006, "x"),
])
def test_wrong_values_raise_invalid_argument(code, value):
    with pytest.raises(InvalidArgumentError):
        codec.encode(code, value)


def test_windows_string_quirks_keep_their_bytes():
    double_nul = "\\windows".encode("utf-16-le") + bytes(4)
    stray = "Ramdisk Options".encode("utf-16-le") + b"\0\0%\0"
    for raw in (double_nul, stray, b""):
        code = 0x12000004 if raw else 0x24000010
        value, layout = codec.decode_with_layout(code, raw)
        assert codec.encode(code, value, layout=layout) == raw
    assert codec.decode(0x12000004, stray) == "Ramdisk Options"
    assert codec.decode(0x24000010, b"") == []


@pytest.mark.parametrize("code, reg_type", [(0x12000004, REG_SZ), (0x23000003, REG_SZ),
                                            (0x14000006, REG_MULTI_SZ), (0x25000004, REG_BINARY),
                                            (0x16000020, REG_BINARY), (0x11000001, REG_BINARY),
                                            (0x1700000a, REG_BINARY)])
def test_registry_types(code, reg_type):
    assert codec.registry_type(code) == reg_type


@pytest.mark.parametrize("store", corpus_stores(), ids=lambda p: p.name)
def test_every_corpus_element_decodes_and_reencodes_identically(store):
    count = 0
    for guid, _type, code, reg_type, raw in registry_elements(store):
        value, layout = codec.decode_with_layout(code, raw)
        assert codec.encode(code, value, layout=layout) == raw, (guid, hex(code))
        assert reg_type == codec.registry_type(code), (guid, hex(code))
        if element_format(code) == Format.DEVICE:
            assert isinstance(value, Device) and not isinstance(value, RawDevice), (guid, code)
        if layout == codec.CANONICAL:
            assert codec.encode(code, value) == raw
        count += 1
    assert count or store.name.startswith("empty")
