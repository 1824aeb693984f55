"""The reader against python-registry on every corpus hive (hivexregedit: see test_export.py)."""

from __future__ import annotations

import io

import pytest
from Registry import Registry

from bcdtool.errors import CorruptionError, DirtyHiveError, FormatError, NotFoundError
from bcdtool.regf import layout as L
from bcdtool.regf.hive import Hive
from bcdtool.regf.verify import python_registry_value_misreading
from tests.helpers.common import CORPUS, corpus_hives

HIVES = corpus_hives()
IDS = [p.name for p in HIVES]
#: Dirty hives whose logs cannot be replayed; read forensically (allow_dirty).
NO_LOGS = {"SECURITY-dirty-nolog"}


def open_corpus(path) -> Hive:
    return Hive.open(path, allow_dirty=path.name in NO_LOGS)


def our_model(hive: Hive) -> dict[str, tuple]:
    """path -> (compressed name?, class bytes, [(name, compressed?, type, vk fields, raw)])."""
    model = {}
    for key in hive.walk():
        values = [(v.name, bool(v.flags & L.VALUE_COMP_NAME), v.type, v.size_field,
                   v.data_offset, v.raw) for v in key.values()]
        model[key.path] = (bool(key.flags & L.KEY_COMP_NAME), key.name, key.class_raw, values)
    return model


# --- python-registry ------------------------------------------------------------------------
def _pyreg_name(name: str, compressed: bool) -> str:
    # python-registry decodes compressed names as Windows-1252 (regf.md 13.4).
    return name.encode("latin-1").decode("cp1252") if compressed else name


def _pyreg_model(hive: Hive) -> dict[str, tuple]:
    registry = Registry.Registry(io.BytesIO(hive.data))
    model = {}
    stack = [("", registry.root())]
    while stack:
        path, key = stack.pop()
        nk = key._nkrecord
        class_name = nk.classname() if nk.has_classname() else None
        values = [(v.name(), v.value_type(), v.raw_data()) for v in key.values()]
        model[path] = (class_name, values)
        for sub in key.subkeys():
            stack.append((f"{path}\\{sub.name()}" if path else sub.name(), sub))
    return model


def _pyreg_data_matches(ours, theirs: bytes, minor: int) -> bool:
    """Exact agreement wherever regf.verify says python-registry reads a value correctly."""
    _, _, vtype, size_field, _, raw = ours
    misread = python_registry_value_misreading(vtype, size_field & 0x7FFFFFFF,
                                               bool(size_field & L.DATA_INLINE), minor)
    return misread is not None or theirs == raw


@pytest.mark.slow
@pytest.mark.parametrize("path", HIVES, ids=IDS)
def test_every_corpus_hive_equals_python_registry(path):
    hive = open_corpus(path)
    ours = our_model(hive)
    theirs = _pyreg_model(hive)
    expected_paths = {}
    for our_path, entry in ours.items():
        parts = []
        key_path = our_path
        # Rebuild the path the way python-registry names keys (Windows-1252 for compressed names).
        while key_path:
            compressed, name = ours[key_path][0], ours[key_path][1]
            parts.append(_pyreg_name(name, compressed))
            key_path = key_path.rpartition("\\")[0]
        expected_paths["\\".join(reversed(parts))] = entry
    assert set(expected_paths) == set(theirs)
    compared = 0
    for key_path, (_, _, class_raw, values) in expected_paths.items():
        their_class, their_values = theirs[key_path]
        if class_raw is not None:
            assert their_class == class_raw.decode("utf-16-le").rstrip("\0"), key_path
        assert len(values) == len(their_values), key_path
        for ours_v, (name, vtype, data) in zip(values, their_values, strict=True):
            assert name == (_pyreg_name(ours_v[0], ours_v[1]) if ours_v[0] else "(default)")
            assert vtype == ours_v[2] & 0xFFF
            assert _pyreg_data_matches(ours_v, data, hive.minor_version), (key_path, name)
            compared += 1
    assert compared == sum(len(entry[3]) for entry in ours.values())


# --- API behaviour ------------------------------------------------------------------------------
@pytest.fixture
def bcd(corpus):
    return Hive.open(corpus / "bcd" / "win10-uefi-installed-systemd-boot.bcd")


def test_lookup_is_case_insensitive(bcd):
    key = bcd.key("objects\\{9DEA862C-5CDD-4E70-ACC1-F32B344D4795}\\ELEMENTS\\25000004")
    assert key.path == "Objects\\{9dea862c-5cdd-4e70-acc1-f32b344d4795}\\Elements\\25000004"
    assert key.value("element").name == "Element"
    assert key.parent.name == "Elements"
    assert bcd.key("") is bcd.root or bcd.key("").offset == bcd.root.offset
    assert bcd.key("\\Objects\\").name == "Objects"


def test_missing_keys_and_values(bcd):
    with pytest.raises(NotFoundError):
        bcd.key("Objects\\nope")
    with pytest.raises(NotFoundError):
        bcd.key("Description").value("nope")
    with pytest.raises(NotFoundError):
        bcd.key("Description").value("")  # no default value there


def test_key_attributes(bcd):
    root = bcd.root
    assert root.flags & L.KEY_HIVE_ENTRY and root.parent is None and root.path == ""
    assert root.timestamp is not None and root.timestamp.year >= 2015
    assert [k.name for k in root.subkeys()] == ["Description", "Objects"]
    assert bcd.minor_version == 3 and not bcd.recovered and bcd.notices == []
    value = bcd.key("Description").value("KeyName")
    assert value.type_name == "REG_SZ" and value.data == "BCD00000000"
    assert value.raw == "BCD00000000\0".encode("utf-16-le")


def test_walk_visits_every_key_once(bcd):
    offsets = [k.offset for k in bcd.walk()]
    assert len(offsets) == len(set(offsets)) == 132


def test_class_names_and_big_data(corpus):
    hive = Hive.open(corpus / "hives" / "winxp-sp3-SYSTEM")
    classes = [k for k in hive.walk() if k.class_name is not None]
    assert len(classes) == 16
    big = [(k, v) for k in hive.walk() for v in k.values() if hive.is_big_data(v.size)]
    assert len(big) == 2
    for key, value in big:
        assert len(value.raw) == value.size > L.BIG_DATA_SEGMENT_SIZE
        pyreg = Registry.Registry(str(corpus / "hives" / "winxp-sp3-SYSTEM"))
        assert pyreg.open(key.path).value(value.name).raw_data() == value.raw


def test_default_value_and_utf16_names(corpus):
    hive = Hive.open(corpus / "hives" / "NTUSER-dirty.DAT")
    assert hive.recovered and "recovered" in hive.notices[0]
    utf16 = [k for k in hive.walk() if not k.flags & L.KEY_COMP_NAME]
    assert len(utf16) == 1
    assert hive.key(utf16[0].path.upper()).offset == utf16[0].offset


def test_dirty_hive_without_logs_is_refused(corpus):
    path = corpus / "hives" / "SECURITY-dirty-nolog"
    with pytest.raises(DirtyHiveError, match="dirty"):
        Hive.open(path)
    hive = Hive.open(path, allow_dirty=True)
    assert not hive.recovered and "reading the primary as it is" in hive.notices[0]
    assert sum(1 for _ in hive.walk()) > 10


def test_dirty_hive_with_logs_ignored_is_refused(corpus):
    with pytest.raises(DirtyHiveError):
        Hive.open(corpus / "hives" / "NTUSER-dirty.DAT", logs="ignore")


@pytest.mark.parametrize("dirty,recovered_by_windows", [
    ("yarp-NewDirtyHive", "yarp-NewDirtyHive-recovered-by-win10"),
    ("yarp-OldDirtyHive", "yarp-OldDirtyHive-recovered-by-win7"),
])
def test_open_replays_logs_like_windows(corpus, dirty, recovered_by_windows):
    hive = Hive.open(corpus / "hives" / dirty)
    assert hive.recovered and hive.original != hive.data
    assert our_model(hive) == our_model(Hive.open(corpus / "hives" / recovered_by_windows))


def test_not_a_hive(tmp_path):
    target = tmp_path / "x"
    target.write_bytes(b"MZ" + bytes(8190))
    with pytest.raises(FormatError):
        Hive.open(target)
    with pytest.raises(NotFoundError):
        Hive.open(tmp_path / "missing")


def test_pointer_outside_allocated_cells_is_corruption(bcd):
    with pytest.raises(CorruptionError):
        bcd.security(0x7FFFFFF0)
    assert bcd.security(bcd.root.security_offset).reference_count >= 1


def test_corpus_present_when_expected():
    # The corpus drives most tests above; make its absence visible rather than silent.
    if CORPUS.is_dir():
        assert len(HIVES) >= 30


def test_lookup_among_thousands_of_siblings(corpus):
    hive = Hive.open(corpus / "hives" / "yarp-OldDirtyHive-recovered-by-win7")
    parent = hive.key("KEY_WITH_MANY_SUBKEYS")
    children = parent.subkeys()
    assert len(children) == 4999
    for child in children:
        assert hive.key(f"key_with_many_subkeys\\{child.name.upper()}").offset == child.offset
    with pytest.raises(NotFoundError):
        parent.subkey("5000x")
