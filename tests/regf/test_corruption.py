"""Hostile hives: truncation, bit flips, cycles and absurd counts give only BcdToolError, quickly.

Each damaged image is opened strictly and forensically (strict=False, allow_dirty=True), walked
completely (names, paths, classes, every value's data) and validated; `check` must never raise.
The long variants run with `-m slow`.
"""

from __future__ import annotations

import contextlib
import random
import struct

import pytest

from bcdtool.errors import BcdToolError, CorruptionError
from bcdtool.regf import layout as L
from bcdtool.regf.cells import CellMap
from bcdtool.regf.check import ERROR, check
from bcdtool.regf.hive import Hive
from tests.helpers.common import CORPUS, corpus_hives

SMALL = ["bcd/win10-uefi-installed-systemd-boot.bcd", "bcd/win7-media-bios-ems.bcd",
         "hives/SECURITY-dirty-nolog"]


def exercise(data: bytes) -> None:
    """Open, walk, read and check `data` both ways; only BcdToolError may escape the reader."""
    for strict in (True, False):
        try:
            hive = Hive.from_bytes(data, allow_dirty=True, strict=strict)
        except BcdToolError:
            continue
        try:
            for key in hive.walk():
                key.path, key.class_name, key.timestamp
                for value in key.values():
                    value.raw, value.data
        except BcdToolError:
            pass
        check(hive)  # the validator reports, it never raises


def _bins_part(path) -> bytes:
    data = path.read_bytes()
    return data[:L.BASE_BLOCK_SIZE + struct.unpack_from("<I", data, 40)[0]]


def _truncations(path, step: int = 512) -> None:
    data = _bins_part(path)
    for cut in range(0, len(data) + 1, step):
        exercise(data[:cut])


def _flips(path, seed: int, trials: int) -> None:
    rng = random.Random(seed)
    base = _bins_part(path)
    for _ in range(trials):
        data = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            # Mostly in the bins; sometimes in the base block (its checksum then fails).
            pos = rng.randrange(0 if rng.random() < 0.05 else L.BASE_BLOCK_SIZE, len(data))
            data[pos] ^= 1 << rng.randrange(8)
        exercise(bytes(data))


@pytest.mark.parametrize("name", SMALL)
def test_truncation_at_every_512_bytes(corpus, name):
    _truncations(corpus / name)


@pytest.mark.parametrize("name", SMALL)
def test_random_bit_flips(corpus, name):
    _flips(corpus / name, seed=2, trials=60)


#: Every corpus hive up to 300 KiB (the big ones take minutes per 512-byte truncation sweep).
LARGE = [p for p in corpus_hives() if p.stat().st_size <= 300 << 10]


@pytest.mark.slow
@pytest.mark.parametrize("path", LARGE, ids=[p.name for p in LARGE])
def test_truncation_and_flips_on_every_hive(path):
    _truncations(path)
    _flips(path, seed=7, trials=100)


# --- hand-made structures ------------------------------------------------------------------------
@pytest.fixture
def bcd(corpus):
    return Hive.open(corpus / "bcd" / "win10-uefi-installed-systemd-boot.bcd")


def _patched(hive: Hive, *edits: tuple[int, bytes]) -> bytes:
    data = bytearray(hive.data)
    for offset, raw in edits:
        data[offset:offset + len(raw)] = raw
    return bytes(data)


def _cell(offset: int, field: int = 0) -> int:
    return L.BASE_BLOCK_SIZE + offset + 4 + field


def _walk_all(data: bytes) -> None:
    hive = Hive.from_bytes(data)
    for key in hive.walk():
        key.class_raw
        for value in key.values():
            value.raw


class TooMuchWork(Exception):
    """More cell accesses than the hive could need: a loop or a blow-up (not a BcdToolError)."""


@contextlib.contextmanager
def bounded_cell_reads(data: bytes, per_cell: int = 64):
    """Fail once the reader has touched cells `per_cell` times per possible cell of `data`.

    Counting accesses instead of timing them bounds the work whatever the machine's speed."""
    limit = per_cell * max(1, len(data) // 8)
    count = 0
    originals = {name: getattr(CellMap, name) for name in ("size", "payload", "read")}

    def counted(name):
        def call(self, *args, **kwargs):
            nonlocal count
            count += 1
            if count > limit:
                raise TooMuchWork(f"more than {limit} cell accesses")
            return originals[name](self, *args, **kwargs)
        return call

    for name in originals:
        setattr(CellMap, name, counted(name))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(CellMap, name, original)


def _assert_refused_quickly(data: bytes) -> None:
    with bounded_cell_reads(data):
        with pytest.raises(BcdToolError):
            _walk_all(data)
        exercise(data)


def test_subkey_list_pointing_to_the_root(bcd):
    objects = bcd.key("Objects")
    leaf = _cell(objects.fields["subkeys_list_offset"])
    data = _patched(bcd, (leaf + 4, struct.pack("<I", bcd.root_offset)))
    with pytest.raises(CorruptionError, match="cycle"):
        _walk_all(data)
    assert any(f.severity == ERROR for f in check(Hive.from_bytes(data)))


def test_subkey_list_pointing_to_an_ancestor(bcd):
    # An object's Elements key lists "Objects" (its grandparent) as a subkey.
    elements = bcd.key("Objects\\{9dea862c-5cdd-4e70-acc1-f32b344d4795}\\Elements")
    leaf = _cell(elements.fields["subkeys_list_offset"])
    objects = bcd.key("Objects").offset
    data = _patched(bcd, (leaf + 4, struct.pack("<I", objects)))
    with pytest.raises(CorruptionError):
        _walk_all(data)


def test_self_parented_cycle_is_caught_by_the_walk(bcd):
    # X lists itself and names itself as parent: the parent check passes, the visited set fires.
    key = bcd.key("Objects\\{9dea862c-5cdd-4e70-acc1-f32b344d4795}\\Elements")
    leaf = _cell(key.fields["subkeys_list_offset"])
    data = _patched(bcd, (leaf + 4, struct.pack("<I", key.offset)),
                    (_cell(key.offset, L.NK_PARENT), struct.pack("<I", key.offset)))
    with pytest.raises(CorruptionError):
        _walk_all(data)
    exercise(data)


def test_index_root_pointing_to_itself(bcd):
    objects = bcd.key("Objects")
    leaf = _cell(objects.fields["subkeys_list_offset"])
    count = struct.unpack_from("<H", bcd.data, leaf + 2)[0]
    data = _patched(bcd, (leaf, b"ri" + struct.pack("<H", 1)),
                    (leaf + 4, struct.pack("<I", objects.fields["subkeys_list_offset"])))
    assert count > 1
    _assert_refused_quickly(data)


@pytest.mark.parametrize("field,raw", [
    (L.NK_NUMBER_OF_SUBKEYS, b"\xff\xff\xff\xff"),
    (L.NK_NUMBER_OF_VALUES, b"\xff\xff\xff\xff"),
    (L.NK_KEY_NAME_LENGTH, b"\xff\xff"),
    (L.NK_CLASS_NAME_LENGTH, b"\xff\xff"),
    (L.NK_SUBKEYS_LIST, b"\xf8\xff\xff\x7f"),
    (L.NK_VALUES_LIST, b"\x00\x00\x00\x00"),
])
def test_absurd_key_fields(bcd, field, raw):
    key = bcd.key("Objects\\{9dea862c-5cdd-4e70-acc1-f32b344d4795}\\Description")
    if field == L.NK_CLASS_NAME_LENGTH:  # a class length needs a class offset to matter
        edits = [(_cell(key.offset, field), raw),
                 (_cell(key.offset, L.NK_CLASS_NAME), struct.pack("<I", key.offset))]
    elif field in (L.NK_SUBKEYS_LIST, L.NK_NUMBER_OF_SUBKEYS):
        edits = [(_cell(key.offset, field), raw),
                 (_cell(key.offset, L.NK_NUMBER_OF_SUBKEYS), b"\x05\0\0\0"
                  if field == L.NK_SUBKEYS_LIST else raw)]
    else:
        edits = [(_cell(key.offset, field), raw)]
    _assert_refused_quickly(_patched(bcd, *edits))


def test_absurd_list_count(bcd):
    leaf = _cell(bcd.key("Objects").fields["subkeys_list_offset"])
    _assert_refused_quickly(_patched(bcd, (leaf + 2, b"\xff\xff")))


@pytest.mark.parametrize("size", [0x7FFFFFFF, 0x80000010, 0x00100000])
def test_absurd_value_sizes(bcd, size):
    value = bcd.key("Description").value("KeyName")
    _assert_refused_quickly(_patched(bcd, (_cell(value.offset, L.VK_DATA_SIZE),
                                           struct.pack("<I", size))))


def test_absurd_big_data(corpus):
    hive = Hive.open(corpus / "hives" / "winxp-sp3-SYSTEM")
    value = next(v for k in hive.walk() for v in k.values() if hive.is_big_data(v.size))
    db = _cell(value.data_offset)
    segments = struct.unpack_from("<I", hive.data, db + 4)[0]
    first = struct.unpack_from("<I", hive.data, _cell(segments))[0]
    for edits in ([(db + 2, b"\xff\xff")],                       # 65535 segments
                  [(_cell(segments, 4), struct.pack("<I", first))],  # a segment used twice
                  [(_cell(value.offset, L.VK_DATA_SIZE), struct.pack("<I", 0x7FFFFFF0))]):
        data = _patched(hive, *edits)
        with bounded_cell_reads(data), pytest.raises(BcdToolError):
            Hive.from_bytes(data).key(value_key_path(hive, value)).value(value.name).raw


def value_key_path(hive: Hive, wanted) -> str:
    return next(k.path for k in hive.walk() for v in k.values() if v.offset == wanted.offset)


def test_corpus_is_there():
    assert not CORPUS.is_dir() or LARGE
