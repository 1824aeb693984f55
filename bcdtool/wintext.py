"""Windows text rules for registry names: upcase table, ordering, lh hashes, lf hints, codecs.

Also the two Windows value helpers every layer needs: FILETIME and GUID (`bytes_le`) conversion.
See ../shared/reference/regf.md sections 5.4 (hashes, hints), 6.2 (name storage) and 6.3 (order).
"""

from __future__ import annotations

import datetime as _dt
import uuid

from bcdtool.errors import FormatError

# --- Upcase table -----------------------------------------------------------------------------
# Windows folds case with RtlUpcaseUnicodeChar, a fixed per-code-unit table.  We derive it from
# Python's Unicode database with the rules that make the two agree:
#   * only simple (single code unit) uppercase mappings: ß stays ß (Python gives "SS");
#   * only mappings that round-trip (upper(c).lower() == c): Windows keeps µ, ı, ſ, ς, ϐ, the
#     titlecase digraphs (ǅ) and the other "one-way" folds unchanged;
#   * surrogate code units map to themselves (the table is per code unit, never per character);
#   * case pairs that Unicode added after the Windows table was frozen (Unicode 5.1 level: e.g.
#     Cherokee lowercase, Georgian Mtavruli, Latin Extended-D letters from A78D on) are left out.
# The result is verified against Windows-written hashes and sibling orders in the corpus
# (tests/regf/test_wintext.py).
_ADDED_AFTER_TABLE: tuple[tuple[int, int], ...] = (
    (0x037F, 0x037F), (0x0524, 0x052F), (0x10C7, 0x10C7), (0x10CD, 0x10CD),
    (0x13A0, 0x13FF), (0x1C90, 0x1CBF), (0x2C2F, 0x2C2F), (0x2C70, 0x2C70),
    (0x2C7E, 0x2C7F), (0x2CEB, 0x2CEE), (0x2CF2, 0x2CF3), (0xA660, 0xA660),
    (0xA698, 0xA69B), (0xA78D, 0xA7FF),
)


def _windows_upcase(unit: int) -> int:
    if 0xD800 <= unit <= 0xDFFF:
        return unit
    char = chr(unit)
    upper = char.upper()
    if len(upper) != 1 or upper == char or ord(upper) > 0xFFFF or upper.lower() != char:
        return unit
    target = ord(upper)
    if any(lo <= target <= hi for lo, hi in _ADDED_AFTER_TABLE):
        return unit
    return target


#: RtlUpcaseUnicodeChar for every UTF-16 code unit 0x0000-0xFFFF.
UPCASE: tuple[int, ...] = tuple(_windows_upcase(u) for u in range(0x10000))
# str.translate table: only the code units that change (code points above 0xFFFF never change,
# because Windows upcases their surrogate halves, which map to themselves).
_TRANSLATE: dict[int, int] = {u: t for u, t in enumerate(UPCASE) if u != t}


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
    """Key that sorts names in Windows' registry order (upcased code units, shorter first on ties)."""
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
