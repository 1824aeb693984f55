"""Windows text rules for registry names: upcase table, ordering, lh hashes, lf hints, codecs.

Also the two Windows value helpers every layer needs: FILETIME and GUID (`bytes_le`) conversion.
See ../shared/reference/regf.md sections 5.4 (hashes, hints), 6.2 (name storage) and 6.3 (order).
"""

from __future__ import annotations

import datetime as _dt
import re
import uuid

from bcdtool.errors import FormatError
from bcdtool.upcase_table import CHANGES

# --- Upcase table -----------------------------------------------------------------------------
# Windows folds case with RtlUpcaseUnicodeChar, a fixed per-code-unit table derived from Unicode's
# SIMPLE uppercase mapping; `upcase_table` holds it as data (its docstring gives the rules and
# sources), so start-up costs a dict literal instead of a 65536-step derivation.  Code points
# above 0xFFFF never change: Windows upcases their surrogate halves, which map to themselves.
_TRANSLATE: dict[int, int] = CHANGES


def upcase_unit(unit: int) -> int:
    """RtlUpcaseUnicodeChar of one UTF-16 code unit."""
    return _TRANSLATE.get(unit, unit)


def upcase(name: str) -> str:
    """`name` with every code unit replaced by its Windows uppercase form."""
    return name.translate(_TRANSLATE)


def utf16_units(name: str) -> list[int]:
    """The UTF-16 code units of `name` (lone surrogates kept as they are)."""
    raw = name.encode("utf-16-le", "surrogatepass")
    return list(memoryview(raw).cast("H")) if raw else []


def upcase_units(name: str) -> list[int]:
    """The Windows-upcased UTF-16 code units of `name`."""
    return utf16_units(upcase(name))


def name_sort_key(name: str) -> bytes:
    """Key that sorts names in Windows' registry order (upcased code units, shorter first on
    ties)."""
    # Big-endian UTF-16 bytes compare exactly like the sequence of code units.
    return upcase(name).encode("utf-16-be", "surrogatepass")


def names_equal(a: str, b: str) -> bool:
    """True when Windows considers the two names the same (case-insensitive, per code unit)."""
    return a == b or upcase(a) == upcase(b)


def lh_hash(name: str) -> int:
    """The 32-bit name hash stored in `lh` leaves (h = h * 37 + upcase(unit))."""
    h = 0
    for unit in upcase_units(name):
        h = (h * 37 + unit) & 0xFFFFFFFF
    return h


def lf_hint(name: str) -> bytes:
    """The 4-byte name hint of `lf` leaves, as Windows computes it (original case)."""
    hint = bytearray(4)
    units = utf16_units(name)
    for k in range(min(4, len(units)) - 1, -1, -1):
        if units[k] > 0xFF:
            break
        hint[k] = units[k]
    return bytes(hint)


# --- Printing names -----------------------------------------------------------------------------
# Key and value names may hold anything but NUL-free UTF-16: control characters and unpaired
# surrogates (Windows writes those) cannot be printed or encoded as UTF-8.  They are shown as
# `\uXXXX` (four uppercase hex digits), the one escaped form of text and JSON output.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def escape_name(name: str) -> str:
    """`name` with control characters and unpaired surrogates written as `\\uXXXX`."""
    if not _UNPRINTABLE.search(name):
        return name
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04X}", name)


def needs_escape(name: str) -> bool:
    """True when `escape_name` changes `name`."""
    return _UNPRINTABLE.search(name) is not None


# --- Name codecs --------------------------------------------------------------------------------
def decode_name(raw: bytes, compressed: bool) -> str:
    """A key or value name exactly as stored: Latin-1 bytes when compressed, else UTF-16LE."""
    if compressed:
        return raw.decode("latin-1")
    if len(raw) % 2:
        raise FormatError(f"UTF-16 name has an odd length ({len(raw)} bytes)")
    return raw.decode("utf-16-le", "surrogatepass")


def encode_name(name: str) -> tuple[bytes, bool]:
    """Bytes to store for `name` and whether they are compressed (only for pure ASCII names)."""
    # Windows compresses every name whose units are <= 0xFF, but python-registry reads compressed
    # names as Windows-1252 and regipy as ASCII: pure ASCII is the only form every reader agrees on.
    if name.isascii():
        return name.encode("ascii"), True
    return name.encode("utf-16-le", "surrogatepass"), False


def utf16_length(name: str) -> int:
    """Length of `name` in bytes as UTF-16 (what the nk "largest name" fields count)."""
    return 2 * len(utf16_units(name))


# --- FILETIME -----------------------------------------------------------------------------------
_EPOCH_1601 = _dt.datetime(1601, 1, 1, tzinfo=_dt.timezone.utc)
_MAX_FILETIME = int((_dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=_dt.timezone.utc)
                     - _EPOCH_1601).total_seconds()) * 10_000_000


def filetime_to_datetime(filetime: int) -> _dt.datetime | None:
    """UTC datetime of a FILETIME, or None when it lies beyond year 9999 (garbage on disk)."""
    if not 0 <= filetime <= _MAX_FILETIME:
        return None
    return _EPOCH_1601 + _dt.timedelta(microseconds=filetime // 10)


def datetime_to_filetime(when: _dt.datetime) -> int:
    """FILETIME (100 ns ticks since 1601-01-01 UTC) of an aware or UTC-naive datetime."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    delta = when - _EPOCH_1601
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def datetime_from_iso(text: str | None) -> _dt.datetime | None:
    """An ISO 8601 time (`Z`, an offset, or none: UTC) as an aware datetime; None when it does
    not parse (an expiry or a report time a user or a server typed)."""
    if not text:
        return None
    try:
        when = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=_dt.timezone.utc)


def filetime_now() -> int:
    """The current time as a FILETIME."""
    return datetime_to_filetime(_dt.datetime.now(_dt.timezone.utc))


# --- GUID ---------------------------------------------------------------------------------------
def guid_from_bytes_le(raw: bytes) -> str:
    """`{xxxxxxxx-...}` (lowercase) of a 16-byte little-endian GUID."""
    if len(raw) != 16:
        raise FormatError(f"a GUID has 16 bytes, not {len(raw)}")
    return "{" + str(uuid.UUID(bytes_le=bytes(raw))) + "}"


def guid_to_bytes_le(text: str) -> bytes:
    """16-byte little-endian form of a GUID written with or without braces."""
    try:
        return uuid.UUID(text.strip().strip("{}")).bytes_le
    except ValueError:
        raise FormatError(f"not a GUID: {text!r}") from None
