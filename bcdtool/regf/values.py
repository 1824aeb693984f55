"""Pure codec of registry value data: REG_* types, decode to Python values and encode back.

Windows never checks that data matches its type (odd-length strings, 1-byte DWORDs exist), so
decoding is lenient and never raises for such data; encoding always produces the canonical form
of regf.md section 7.
"""

from __future__ import annotations

from bcdtool.errors import InvalidArgumentError

REG_NONE = 0
REG_SZ = 1
REG_EXPAND_SZ = 2
REG_BINARY = 3
REG_DWORD = 4
REG_DWORD_BIG_ENDIAN = 5
REG_LINK = 6
REG_MULTI_SZ = 7
REG_RESOURCE_LIST = 8
REG_FULL_RESOURCE_DESCRIPTOR = 9
REG_RESOURCE_REQUIREMENTS_LIST = 10
REG_QWORD = 11

TYPE_NAMES: dict[int, str] = {
    REG_NONE: "REG_NONE",
    REG_SZ: "REG_SZ",
    REG_EXPAND_SZ: "REG_EXPAND_SZ",
    REG_BINARY: "REG_BINARY",
    REG_DWORD: "REG_DWORD",
    REG_DWORD_BIG_ENDIAN: "REG_DWORD_BIG_ENDIAN",
    REG_LINK: "REG_LINK",
    REG_MULTI_SZ: "REG_MULTI_SZ",
    REG_RESOURCE_LIST: "REG_RESOURCE_LIST",
    REG_FULL_RESOURCE_DESCRIPTOR: "REG_FULL_RESOURCE_DESCRIPTOR",
    REG_RESOURCE_REQUIREMENTS_LIST: "REG_RESOURCE_REQUIREMENTS_LIST",
    REG_QWORD: "REG_QWORD",
}
TYPES_BY_NAME: dict[str, int] = {name: code for code, name in TYPE_NAMES.items()}
_STRING_TYPES = (REG_SZ, REG_EXPAND_SZ, REG_LINK)


def type_name(value_type: int) -> str:
    """`REG_SZ`-style name of a type code, or `0x........` for a type Windows does not name."""
    return TYPE_NAMES.get(value_type, f"{value_type:#010x}")


def parse_type(text: str) -> int:
    """Type code from a name (`REG_SZ`, `sz`) or a number (`4`, `0x10000001`)."""
    key = text.strip().upper()
    if not key.startswith("REG_"):
        key = "REG_" + key
    if key in TYPES_BY_NAME:
        return TYPES_BY_NAME[key]
    try:
        code = int(text, 0)
    except ValueError:
        raise InvalidArgumentError(f"unknown value type {text!r}") from None
    if not 0 <= code <= 0xFFFFFFFF:
        raise InvalidArgumentError(f"value type {text!r} is not a 32-bit number")
    return code


def _utf16(raw: bytes) -> str:
    if len(raw) % 2:
        raw = raw[:-1]  # odd trailing byte: Windows' APIs drop it too
    return raw.decode("utf-16-le", "surrogatepass")


def decode_string(raw: bytes) -> str:
    """A REG_SZ-style string: UTF-16LE up to the first NUL (or the end when unterminated)."""
    text = _utf16(raw)
    end = text.find("\0")
    return text if end < 0 else text[:end]


def decode_multi_string(raw: bytes) -> list[str]:
    """A REG_MULTI_SZ list: NUL-separated strings, ending at the first empty string."""
    text = _utf16(raw)
    items = text.split("\0")
    result: list[str] = []
    for item in items:
        if item == "":
            break
        result.append(item)
    return result


def decode_value(value_type: int, raw: bytes) -> str | int | list[str] | bytes:
    """Python form of value data: str, int, list[str] or (for binary-like types) the bytes."""
    if value_type in _STRING_TYPES:
        return decode_string(raw) if value_type != REG_LINK else _utf16(raw)
    if value_type == REG_MULTI_SZ:
        return decode_multi_string(raw)
    if value_type == REG_DWORD and len(raw) == 4:
        return int.from_bytes(raw, "little")
    if value_type == REG_DWORD_BIG_ENDIAN and len(raw) == 4:
        return int.from_bytes(raw, "big")
    if value_type == REG_QWORD and len(raw) == 8:
        return int.from_bytes(raw, "little")
    return bytes(raw)


def encode_value(value_type: int, value: str | int | list[str] | bytes) -> bytes:
    """Canonical data bytes for `value` of `value_type` (regf.md section 7)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if value_type in (REG_SZ, REG_EXPAND_SZ) and isinstance(value, str):
        return (value + "\0").encode("utf-16-le", "surrogatepass")
    if value_type == REG_LINK and isinstance(value, str):
        return value.encode("utf-16-le", "surrogatepass")
    if value_type == REG_MULTI_SZ and isinstance(value, (list, tuple)):
        if any(not isinstance(s, str) or s == "" or "\0" in s for s in value):
            raise InvalidArgumentError("REG_MULTI_SZ strings must be non-empty and without NUL")
        return "".join(s + "\0" for s in value).encode("utf-16-le", "surrogatepass") + b"\0\0"
    if value_type in (REG_DWORD, REG_DWORD_BIG_ENDIAN, REG_QWORD) and isinstance(value, int) \
            and not isinstance(value, bool):
        size = 8 if value_type == REG_QWORD else 4
        if not 0 <= value < 1 << (8 * size):
            raise InvalidArgumentError(f"{value} does not fit in {type_name(value_type)}")
        order = "big" if value_type == REG_DWORD_BIG_ENDIAN else "little"
        return value.to_bytes(size, order)
    raise InvalidArgumentError(
        f"cannot encode a {type(value).__name__} as {type_name(value_type)}")
