"""Value data codec: decoding of real-world (also non-canonical) data and canonical encoding."""

from __future__ import annotations

import pytest

from bcdtool.errors import InvalidArgumentError
from bcdtool.regf import values as V


@pytest.mark.parametrize("vtype,raw,expected", [
    (V.REG_SZ, "test тест\0".encode("utf-16-le"), "test тест"),
    (V.REG_SZ, b"a\0b\0", "ab"),                          # unterminated
    (V.REG_SZ, b"a\0\0\0junk", "a"),                       # stops at the first NUL
    (V.REG_SZ, b"a\0b", "a"),                              # odd trailing byte dropped
    (V.REG_SZ, b"", ""),
    (V.REG_EXPAND_SZ, "%SystemRoot%\0".encode("utf-16-le"), "%SystemRoot%"),
    (V.REG_LINK, "\\Registry\\Machine".encode("utf-16-le"), "\\Registry\\Machine"),
    (V.REG_MULTI_SZ, b"a\0\0\0b\0\0\0\0\0", ["a", "b"]),
    (V.REG_MULTI_SZ, b"\0\0", []),
    (V.REG_MULTI_SZ, b"a\0\0\0\0\0b\0\0\0", ["a"]),          # an empty string ends the list
    (V.REG_DWORD, b"\x01\x02\x03\x04", 0x04030201),
    (V.REG_DWORD, b"\x01", b"\x01"),                       # 1-byte "DWORD" stays bytes
    (V.REG_DWORD_BIG_ENDIAN, b"\x01\x02\x03\x04", 0x01020304),
    (V.REG_QWORD, b"\x01" + b"\0" * 7, 1),
    (V.REG_BINARY, b"\x00\xff", b"\x00\xff"),
    (0x10000001, b"\x01\x02", b"\x01\x02"),
])
def test_decode(vtype, raw, expected):
    assert V.decode_value(vtype, raw) == expected


@pytest.mark.parametrize("vtype,value,raw", [
    (V.REG_SZ, "", b"\0\0"),
    (V.REG_SZ, "test тест", "test тест\0".encode("utf-16-le")),
    (V.REG_EXPAND_SZ, "%x%", "%x%\0".encode("utf-16-le")),
    (V.REG_MULTI_SZ, ["a", "b"], b"a\0\0\0b\0\0\0\0\0"),
    (V.REG_MULTI_SZ, [], b"\0\0"),
    (V.REG_DWORD, 0x12345678, b"\x78\x56\x34\x12"),
    (V.REG_DWORD_BIG_ENDIAN, 0x12345678, b"\x12\x34\x56\x78"),
    (V.REG_QWORD, 2**63, (2**63).to_bytes(8, "little")),
    (V.REG_BINARY, b"\x01\x02", b"\x01\x02"),
    (V.REG_NONE, b"", b""),
])
def test_encode_and_round_trip(vtype, value, raw):
    assert V.encode_value(vtype, value) == raw
    assert V.decode_value(vtype, raw) == value


@pytest.mark.parametrize("vtype,value", [
    (V.REG_DWORD, 2**32), (V.REG_DWORD, -1), (V.REG_QWORD, 2**64), (V.REG_DWORD, True),
    (V.REG_MULTI_SZ, ["a", ""]), (V.REG_MULTI_SZ, ["a\0b"]), (V.REG_SZ, 5), (V.REG_DWORD, "1"),
])
def test_encode_rejects(vtype, value):
    with pytest.raises(InvalidArgumentError):
        V.encode_value(vtype, value)


def test_type_names():
    assert V.type_name(V.REG_SZ) == "REG_SZ"
    assert V.type_name(0x10000001) == "0x10000001"
    assert V.parse_type("REG_MULTI_SZ") == V.REG_MULTI_SZ
    assert V.parse_type("dword") == V.REG_DWORD
    assert V.parse_type("0x20") == 0x20
    with pytest.raises(InvalidArgumentError):
        V.parse_type("REG_NOPE")
    with pytest.raises(InvalidArgumentError):
        V.parse_type("0x100000000")
