"""Windows name rules (upcase table, lh hash, lf hint, order) against spec vectors and the
corpus."""

from __future__ import annotations

import datetime as dt
import struct
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcdtool import wintext
from bcdtool.errors import FormatError
from bcdtool.regf.hive import Hive
from tests.helpers.common import corpus_hives

# regf.md 5.4: hashes Windows wrote (Windows 10 upcase table).
HASH_VECTORS = [
    ("a", 0x00000041), ("A", 0x00000041), ("Software", 0xE9FE1463), ("software", 0xE9FE1463),
    ("Description", 0xCEC53364), ("key_with_bigdata", 0xDF79B74B), ("ß2", 0x0000206D),
    ("ÿ", 0x00000178), ("Привет", 0x81C3D610),
]


@pytest.mark.parametrize("name,expected", HASH_VECTORS)
def test_lh_hash_vectors(name, expected):
    assert wintext.lh_hash(name) == expected


@pytest.mark.parametrize("name,expected", [
    ("key", b"key\0"), ("ëigenaardig", b"\xebige"), ("Привет", b"\0\0\0\0"),
    ("Objects", b"Obje"), ("a", b"a\0\0\0"), ("abЖd", b"\0\0\0d"),
])
def test_lf_hint_vectors(name, expected):
    assert wintext.lf_hint(name) == expected


@pytest.mark.parametrize("char", ["ß", "µ", "ı", "ſ", "ς", "ǅ", "\ud800", "\udfff"])
def test_upcase_keeps_windows_exceptions(char):
    assert wintext.upcase(char) == char


@pytest.mark.parametrize("char,upper", [("a", "A"), ("ÿ", "Ÿ"), ("ж", "Ж"), ("ǆ", "Ǆ"),
                                        ("ƀ", "Ƀ"), ("σ", "Σ"), ("_", "_")])
def test_upcase_maps_letters(char, upper):
    assert wintext.upcase(char) == upper


# RtlUpcaseUnicodeChar results of Windows 10 (as listed in yarp's RegistryUnicode.py) for code
# units where a naive Python .upper() differs or where Unicode added case pairs later.
WINDOWS_10_UPCASE = {
    0x00B5: 0x00B5, 0x00DF: 0x00DF, 0x00FF: 0x0178, 0x0131: 0x0131, 0x017F: 0x017F,
    0x0180: 0x0243, 0x019A: 0x023D, 0x01C5: 0x01C5, 0x01C6: 0x01C4, 0x01F2: 0x01F2,
    0x023F: 0x023F, 0x0250: 0x2C6F, 0x0252: 0x0252, 0x025C: 0x025C, 0x0265: 0x0265,
    0x026B: 0x2C62, 0x0282: 0x0282, 0x0287: 0x0287, 0x029E: 0x029E, 0x0345: 0x0345,
    0x037B: 0x03FD, 0x03C2: 0x03C2, 0x03D0: 0x03D0, 0x03D7: 0x03CF, 0x03F2: 0x03F9,
    0x03F3: 0x03F3, 0x04CF: 0x04C0, 0x0525: 0x0525, 0x0587: 0x0587, 0x10D0: 0x10D0,
    0x13F8: 0x13F8,
    # Simple mappings of letters whose full uppercase is two characters (regf.md 6.3):
    0x1F80: 0x1F88, 0x1F97: 0x1F9F, 0x1FA0: 0x1FA8, 0x1FA7: 0x1FAF, 0x1FB3: 0x1FBC,
    0x1FC3: 0x1FCC, 0x1FF3: 0x1FFC, 0x1FB2: 0x1FB2, 0x1FB4: 0x1FB4, 0x1FBC: 0x1FBC,
    0x1FE5: 0x1FEC, 0x214E: 0x2132, 0x2184: 0x2183, 0x24D0: 0x24B6,
}


@pytest.mark.parametrize("unit", sorted(WINDOWS_10_UPCASE), ids=hex)
def test_upcase_matches_windows_10_table(unit):
    assert wintext.upcase_unit(unit) == WINDOWS_10_UPCASE[unit]


def test_the_stored_table_is_the_derivation_from_unicode():
    import unicodedata

    from tests.regf import upcase_derivation
    from bcdtool import upcase_table

    if unicodedata.unidata_version != upcase_table.UNICODE_VERSION:
        pytest.skip(f"table derived from Unicode {upcase_table.UNICODE_VERSION}, this Python has "
                    f"{unicodedata.unidata_version}")
    assert upcase_table.CHANGES == upcase_derivation.changes()
    assert all(wintext.upcase_unit(u) == u for u in range(0xD800, 0xE000))


@pytest.mark.parametrize("small,capital", [("\u1f80", "\u1f88"), ("\u1fb3", "\u1fbc"),
                                           ("\u1ff3", "\u1ffc"), ("\u1fa7", "\u1faf")])
def test_greek_letters_with_ypogegrammeni_fold_to_their_titlecase_form(small, capital):
    assert wintext.names_equal(small + "x", capital + "X")
    assert wintext.lh_hash(small) == wintext.lh_hash(capital) == ord(capital)
    assert wintext.name_sort_key(small) == wintext.name_sort_key(capital)


def test_sort_order_is_windows_order():
    # yarp's UpcaseHive: Windows order is ss1, SS3, ß2; underscore sorts after letters.
    assert sorted(["ß2", "SS3", "ss1"], key=wintext.name_sort_key) == ["ss1", "SS3", "ß2"]
    assert sorted(["a_", "ab", "A"], key=wintext.name_sort_key) == ["A", "ab", "a_"]
    # Code-unit order: a supplementary character (surrogates) sorts before U+E000.
    assert wintext.name_sort_key("\U0001F600") < wintext.name_sort_key("\ue000")


def test_names_equal_is_case_insensitive_the_windows_way():
    assert wintext.names_equal("Objects", "OBJECTS")
    assert not wintext.names_equal("ß", "SS")


def test_name_codec_round_trip():
    assert wintext.encode_name("Objects") == (b"Objects", True)
    raw, compressed = wintext.encode_name("тест")
    assert not compressed and wintext.decode_name(raw, False) == "тест"
    assert wintext.decode_name(b"\xe9t\xe9", True) == "été"
    assert wintext.decode_name("\ud800x".encode("utf-16-le", "surrogatepass"), False) == "\ud800x"
    with pytest.raises(FormatError):
        wintext.decode_name(b"abc", False)


def test_filetime_round_trip():
    when = dt.datetime(2024, 2, 29, 12, 34, 56, 789012, tzinfo=dt.timezone.utc)
    ft = wintext.datetime_to_filetime(when)
    assert ft == (int(when.timestamp()) + 11644473600) * 10_000_000 + 7890120
    assert wintext.filetime_to_datetime(ft) == when
    assert wintext.filetime_to_datetime(0) == dt.datetime(1601, 1, 1, tzinfo=dt.timezone.utc)
    assert wintext.filetime_to_datetime(0xFFFFFFFFFFFFFFFF) is None


def test_guid_round_trip():
    text = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
    raw = wintext.guid_to_bytes_le(text)
    assert raw[:4] == bytes.fromhex("2c86ea9d")
    assert wintext.guid_from_bytes_le(raw) == text
    with pytest.raises(FormatError):
        wintext.guid_to_bytes_le("{not-a-guid}")


def _corpus_hive(path) -> Hive:
    return Hive.open(path, allow_dirty=True)


@pytest.mark.parametrize("path", corpus_hives(), ids=lambda p: p.name)
def test_corpus_hashes_hints_and_order(path):
    """Every lh hash, lf hint and sibling order Windows wrote agrees with our rules."""
    hive = _corpus_hive(path)
    checked = keys_seen = 0
    for key in hive.walk():
        keys_seen += 1
        children = {child.offset: child.name for child in key.subkeys()}
        for _, signature, payload, count in hive._leaves(key):
            if signature == b"li":
                checked += count
                continue
            for i in range(count):
                offset, stored = struct.unpack_from("<I4s", payload, 4 + 8 * i)
                name = children[offset]
                if signature == b"lh":
                    assert struct.unpack("<I", stored)[0] == wintext.lh_hash(name), name
                else:
                    assert stored == wintext.lf_hint(name), name
                checked += 1
        keys = [wintext.name_sort_key(n) for n in children.values()]
        assert all(a < b for a, b in pairwise(keys)), (
            key.path,
            list(children.values()),
        )
    assert checked == keys_seen - 1  # every key but the root was checked through its parent


# --- properties ----------------------------------------------------------------------------------
_NAMES = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)


@given(_NAMES, _NAMES)
def test_order_and_equality_agree(a, b):
    same = wintext.names_equal(a, b)
    assert same == (wintext.name_sort_key(a) == wintext.name_sort_key(b))
    assert wintext.lh_hash(a) == wintext.lh_hash(wintext.upcase(a))
    if same:
        assert wintext.lh_hash(a) == wintext.lh_hash(b)


@given(_NAMES)
def test_name_codec_round_trips(name):
    raw, compressed = wintext.encode_name(name)
    assert wintext.decode_name(raw, compressed) == name
    assert wintext.utf16_length(name) == len(name.encode("utf-16-le"))
    assert len(wintext.lf_hint(name)) == 4
