"""BCD layer: pure codecs between element registry data and Python values, for every format.

Reference: ../shared/reference/bcd.md §3.  Strings and objects are REG_SZ (UTF-16LE + NUL), object
lists REG_MULTI_SZ, everything else REG_BINARY.  Integers are read from 1 to 8 bytes (some Windows
tools write 1- or 3-byte integers) and always written as 8; `decode_with_layout` exists so
tests can prove that a decoded value re-encodes to the very bytes it came from (`Layout`).
"""

from __future__ import annotations

from typing import NamedTuple


from bcdtool.bcd import device as devices
from bcdtool.bcd.elements import Format, element_format
from bcdtool.errors import FormatError, InvalidArgumentError
from bcdtool.regf.values import REG_BINARY, REG_MULTI_SZ, REG_SZ

Value = bool | int | str | list | devices.Device


def registry_type(code: int) -> int:
    """The registry value type bcdedit writes for an element code."""
    fmt = element_format(code)
    if fmt in (Format.STRING, Format.OBJECT):
        return REG_SZ
    if fmt == Format.OBJECT_LIST:
        return REG_MULTI_SZ
    return REG_BINARY


class Layout(NamedTuple):
    """How stored bytes differ from bcdedit's canonical encoding of the same value.

    Windows tools write 1- and 3-byte integers, strings followed by extra NULs or stray bytes, and
    empty object lists without a terminator; keeping these facts apart from the value lets a
    decoded element re-encode to its exact bytes, while new writes use the canonical form.
    """

    int_width: int = 8
    terminated: bool = True
    tail: bytes = b""


CANONICAL = Layout()


def decode(code: int, raw: bytes) -> Value:
    """Decode the `Element` value bytes of element `code`.

    Raises:
        FormatError: when the bytes do not fit the element's format.
    """
    return decode_with_layout(code, raw)[0]


def decode_with_layout(code: int, raw: bytes) -> tuple[Value, Layout]:
    """Decode element bytes into a value and the layout needed to reproduce them exactly.

    Raises:
        FormatError: when the bytes do not fit the element's format.
    """
    fmt = element_format(code)
    raw = bytes(raw)
    if fmt == Format.BOOLEAN:
        if len(raw) != 1:
            raise FormatError(f"boolean element {code:08x} has {len(raw)} bytes, expected 1")
        if raw[0] > 1:
            raise FormatError(f"boolean element {code:08x} holds {raw[0]:#04x}, not 0 or 1")
        return raw == b"\x01", CANONICAL
    if fmt == Format.INTEGER:
        if not 1 <= len(raw) <= 8:
            raise FormatError(f"integer element {code:08x} has {len(raw)} bytes, expected 1-8")
        return int.from_bytes(raw, "little"), Layout(int_width=len(raw))
    if fmt == Format.INTEGER_LIST:
        if not raw or len(raw) % 8:
            raise FormatError(f"integer list element {code:08x} has {len(raw)} bytes, "
                              "expected a multiple of 8")
        return [int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw), 8)], CANONICAL
    if fmt in (Format.STRING, Format.OBJECT):
        text, end = _utf16_item(raw, 0)
        if end is None:
            return text, Layout(terminated=False, tail=raw[len(raw) // 2 * 2:])
        return text, Layout(tail=raw[end:])
    if fmt == Format.OBJECT_LIST:
        return _decode_multi_sz(code, raw)
    if fmt == Format.DEVICE:
        return devices.parse_device_element(raw), CANONICAL
    raise FormatError(f"element {code:08x} has format {fmt}, which has no codec")


def encode(code: int, value: Value, *, layout: Layout = CANONICAL) -> bytes:
    """Encode a value for element `code` the way bcdedit writes it (or in a recorded layout).

    Raises:
        InvalidArgumentError: when the value does not fit the element's format.
    """
    fmt = element_format(code)
    end = (b"\0\0" if layout.terminated else b"") + layout.tail
    if fmt == Format.BOOLEAN:
        return b"\x01" if _require(value, bool, code) else b"\x00"
    if fmt == Format.INTEGER:
        return _u64(_require(value, int, code), code, width=layout.int_width)
    if fmt == Format.INTEGER_LIST:
        items = _require(value, list, code)
        if not items:
            raise InvalidArgumentError(f"element {code:08x} needs at least one integer")
        return b"".join(_u64(_require(item, int, code), code) for item in items)
    if fmt in (Format.STRING, Format.OBJECT):
        return _utf16(_require(value, str, code), code) + end
    if fmt == Format.OBJECT_LIST:
        items = _require(value, list, code)
        return b"".join(_utf16(_require(item, str, code), code) + b"\0\0" for item in items) + end
    if fmt == Format.DEVICE:
        return devices.build_device_element(_require(value, devices.Device, code))
    raise InvalidArgumentError(f"element {code:08x} has format {fmt}, which has no codec")


def _require(value, kind, code: int):
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise InvalidArgumentError(f"element {code:08x} needs a {kind.__name__} value, "
                                   f"not {type(value).__name__}")
    return value


def _u64(number: int, code: int, *, width: int = 8) -> bytes:
    if not 0 <= number < 1 << (8 * width):
        raise InvalidArgumentError(f"value {number} does not fit element {code:08x} "
                                   f"({width} bytes, unsigned)")
    return number.to_bytes(width, "little")


def _utf16(text: str, code: int) -> bytes:
    if "\0" in text:
        raise InvalidArgumentError(f"element {code:08x} value contains a NUL character")
    return text.encode("utf-16-le", "surrogatepass")


def _utf16_item(raw: bytes, start: int) -> tuple[str, int | None]:
    """The UTF-16 string at `start` and the offset after its NUL (None when unterminated)."""
    for pos in range(start, len(raw) - 1, 2):
        if raw[pos:pos + 2] == b"\0\0":
            return raw[start:pos].decode("utf-16-le", "surrogatepass"), pos + 2
    stop = start + (len(raw) - start) // 2 * 2
    return raw[start:stop].decode("utf-16-le", "surrogatepass"), None


def _decode_multi_sz(code: int, raw: bytes) -> tuple[list[str], Layout]:
    items: list[str] = []
    pos = 0
    while pos < len(raw):
        text, end = _utf16_item(raw, pos)
        if end is None:
            raise FormatError(f"object list element {code:08x} has an unterminated entry")
        if not text:
            return items, Layout(tail=raw[end:])
        items.append(text)
        pos = end
    return items, Layout(terminated=False)
