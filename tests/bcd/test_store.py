"""BcdStore over our hive reader and editor, checked against python-registry."""

from __future__ import annotations

import io

import pytest
from tests.bcd._corpus import corpus_stores, registry_elements
from Registry import Registry

from bcdtool.bcd import objects
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import (BcdError, InvalidArgumentError, InvalidIdentifierError,
                            NotFoundError)
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.hive import Hive
from bcdtool.regf.values import REG_BINARY, REG_SZ

BOOTMGR = objects.ALIASES["{bootmgr}"]
EMS = objects.ALIASES["{emssettings}"]
GLOBAL = objects.ALIASES["{globalsettings}"]


def _store(path) -> BcdStore:
    return BcdStore(Hive.open(path))


def _reg(image: bytes) -> Registry.Registry:
    return Registry.Registry(io.BytesIO(image))


@pytest.mark.parametrize("path", corpus_stores(), ids=lambda p: p.name)
def test_store_reads_what_python_registry_reads(path):
    store = _store(path)
    expected = {(g, c): (t, r) for g, t, c, _reg_type, r in registry_elements(path)}
    ours = {(o.guid, c): (o.type, e.raw) for o in store.objects() for c, e in o.elements.items()}
    assert ours.keys() == expected.keys()
    for key, (obj_type, raw) in ours.items():
        # python-registry drops resident (inline) REG_MULTI_SZ data: one winpe store has a 2-byte
        # inline empty list that hivexregedit also reads as 00 00
        if expected[key][1] == b"" and raw == b"\0\0":
            continue
        assert (obj_type, raw) == expected[key], key
    assert store.notices == []


@pytest.fixture
def bios(corpus) -> BcdStore:
    return _store(corpus / "bcd" / "win10-bios-installed-sysreserved.bcd")


def test_default_and_current(bios):
    default = "{99066a2d-6dcc-11eb-9378-f32123128c9c}"
    assert bios.default_guid() == default
    assert bios.resolve("{DEFAULT}") == default
    assert bios.notices == []
    assert bios.resolve("{current}") == default
    assert len(bios.notices) == 1 and "{current}" in bios.notices[0]
    assert bios.resolve("{BootMgr}") == BOOTMGR
    assert bios.resolve(default.upper()) == default


@pytest.mark.parametrize("text, error", [
    ("{nonsense}", InvalidIdentifierError), ("bootmgr", InvalidIdentifierError),
    ("{9dea862c-5cdd-4e70-acc1-f32b344d479}", InvalidIdentifierError),
    ("{00000000-0000-0000-0000-000000000001}", NotFoundError), ("{ntldr}", NotFoundError),
])
def test_resolve_errors(bios, text, error):
    with pytest.raises(error):
        bios.resolve(text)


def test_default_missing(corpus):
    store = _store(corpus / "bcd" / "empty-createstore.bcd")
    with pytest.raises(NotFoundError):
        store.resolve("{default}")


def test_effective_values_follow_inherit(bios):
    # bootems lives in {emssettings}: {bootmgr} -> {globalsettings} -> {emssettings}
    source, elem = bios.effective(BOOTMGR, 0x16000020)
    assert source == EMS and elem.raw == b"\x00"
    default = bios.default_guid()
    # loader -> {bootloadersettings} -> {globalsettings} -> {dbgsettings}: debugtype Local (4)
    source, elem = bios.effective(default, 0x15000011)
    assert source == objects.ALIASES["{dbgsettings}"] and elem.value() == 4
    bios.set_element(BOOTMGR, 0x16000020, True)
    assert bios.effective(BOOTMGR, 0x16000020)[0] == BOOTMGR   # own value wins
    assert bios.effective(BOOTMGR, 0x250000f3) is None           # not a library setting path


def test_inherit_cycles_terminate(bios):
    bios.set_element(EMS, 0x14000006, [GLOBAL, "{00000000-0000-0000-0000-000000000009}"])
    assert bios.effective(BOOTMGR, 0x12345678 & 0x1FFFFFFF) is None
    assert bios.effective(EMS, 0x15000011)[0] == objects.ALIASES["{dbgsettings}"]


def test_edits_diff_and_independent_reader(bios):
    default = bios.default_guid()
    size = len(bios.hive.data)
    bios.set_element(default, 0x260000b0, True)
    bios.set_element(BOOTMGR, 0x25000004, 5)
    bios.delete_element(BOOTMGR, 0x24000010)
    new = bios.create_object("{11111111-2222-3333-4444-555555555555}", objects.OSLOADER)
    bios.set_element(new.guid, 0x12000004, "Copy target")
    copy = bios.copy_object(default, "{11111111-2222-3333-4444-666666666666}")
    bios.delete_object("{11111111-2222-3333-4444-555555555555}")
    actions = [(c.object, c.action, c.code) for c in bios.diff()]
    assert (default, "set", 0x260000b0) in actions
    assert (BOOTMGR, "set", 0x25000004) in actions
    assert (BOOTMGR, "delete", 0x24000010) in actions
    assert (copy.guid, "create object", None) in actions
    assert not any(c[0].endswith("555555555555}") for c in actions)  # created then deleted
    image = bios.to_bytes(same_size=True)
    assert len(image) == size
    reg = _reg(image)
    elems = lambda g: reg.open(f"Objects\\{g}\\Elements")  # noqa: E731
    assert elems(default).subkey("260000b0").value("Element").raw_data() == b"\x01"
    assert elems(default).subkey("260000b0").value("Element").value_type() == REG_BINARY
    assert elems(BOOTMGR).subkey("25000004").value("Element").raw_data() == (5).to_bytes(
        8, "little"
    )
    assert "24000010" not in [k.name() for k in elems(BOOTMGR).subkeys()]
    src = {k.name(): k.value("Element").raw_data() for k in elems(default).subkeys()}
    dst = {k.name(): k.value("Element").raw_data() for k in elems(copy.guid).subkeys()}
    assert src == dst
    assert reg.open(f"Objects\\{copy.guid}\\Description").value("Type").value() == objects.OSLOADER
    with pytest.raises(Registry.RegistryKeyNotFoundException):
        reg.open("Objects\\{11111111-2222-3333-4444-555555555555}")
    reopened = BcdStore(Hive.from_bytes(image))
    assert reopened.get(copy.guid).elements == {
        c: e for c, e in bios.get(copy.guid).elements.items()}


def test_failed_edit_leaves_store_unchanged(bios):
    before = bios.to_bytes()
    with pytest.raises(InvalidArgumentError):
        bios.set_element(BOOTMGR, 0x25000004, "five")
    with pytest.raises(NotFoundError):
        bios.delete_element(BOOTMGR, 0x260000b0)
    with pytest.raises(BcdError):
        bios.create_object(BOOTMGR, objects.BOOTMGR)
    assert bios.diff() == [] and bios.to_bytes() == before


def test_remove_references(bios):
    default = bios.default_guid()
    touched = bios.remove_references(default)
    assert (BOOTMGR, 0x24000001) in touched and (BOOTMGR, 0x23000003) in touched
    assert 0x24000001 not in bios.get(BOOTMGR).elements  # emptied list is deleted


def test_not_a_bcd_store():
    editor = HiveEditor.new(minor=3, root_name="ROOT")
    editor.create_key("Software")
    with pytest.raises(BcdError):
        BcdStore(Hive.from_bytes(editor.to_bytes()))


def test_hostile_object_keys_are_reported_not_fatal():
    editor = HiveEditor.new(minor=3, root_name="NewStoreRoot")
    editor.create_key("Description")
    editor.create_key("Objects\\not-a-guid")
    editor.create_key("Objects\\{11111111-2222-3333-4444-555555555555}\\Description")
    editor.create_key("Objects\\{11111111-2222-3333-4444-666666666666}\\Elements\\zz")
    editor.create_key("Objects\\{11111111-2222-3333-4444-666666666666}\\Description")
    editor.set_value("Objects\\{11111111-2222-3333-4444-666666666666}\\Description", "Type",
                     REG_SZ, b"\x03\x00")
    store = BcdStore(Hive.from_bytes(editor.to_bytes()))
    assert store.objects() == []
    assert len(store.notices) == 3


@pytest.mark.parametrize("path", corpus_stores(), ids=lambda p: p.name)
def test_every_element_read_by_our_reader_reencodes(path):
    from bcdtool.bcd import codec

    for obj in _store(path).objects():
        for code, elem in obj.elements.items():
            value, layout = codec.decode_with_layout(code, elem.raw)
            assert codec.encode(code, value, layout=layout) == elem.raw, (obj.guid, hex(code))
