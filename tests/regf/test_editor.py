"""HiveEditor: every edit checked by our reader/validator, python-registry and hivexregedit."""

from __future__ import annotations

import random
import struct

import pytest

from tests.helpers.common import corpus_files, need_tool
from tests.regf.editor_oracles import ExpectedHive, assert_all_readers, ours

from bcdtool.errors import (BcdToolError, CorruptionError, DirtyHiveError, HiveSpaceError,
                            InvalidArgumentError, NotFoundError)
from bcdtool.regf import alloc as alloc_module
from bcdtool.regf.alloc import CellAllocator
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.hive import Hive
from bcdtool.wintext import lf_hint, lh_hash, name_sort_key

BCD_STORES = corpus_files("bcd", "*.bcd")


@pytest.fixture(autouse=True)
def _hivex():
    need_tool("hivexregedit")


def _cells(image: bytes) -> CellAllocator:
    return CellAllocator(bytearray(image))


def test_new_hive_is_windows_like(tmp_path):
    for minor in (3, 5):
        image = HiveEditor.new(minor=minor, name="\\??\\C:\\test.hiv").to_bytes()
        assert len(image) == 8192
        hive = Hive.from_bytes(image)
        assert hive.minor_version == minor and hive.root_offset == 0x20
        assert hive.root.flags == 0x2C and hive.root.subkey_count == 0
        sk = struct.unpack_from("<I", image, 4096 + 0x20 + 4 + 0x2C)[0]
        flink, blink, refs = struct.unpack_from("<III", image, 4096 + sk + 8)
        assert flink == blink == sk and refs == 1
        assert image[48:48 + 30].decode("utf-16-le") == "\\??\\C:\\test.hiv"
        assert_all_readers(image, {(): []}, tmp_path)
    unicode_root = Hive.from_bytes(HiveEditor.new(root_name="Корень").to_bytes()).root
    assert unicode_root.name == "Корень" and unicode_root.flags == 0x0C   # stored as UTF-16


def test_create_and_set_values_of_every_type(tmp_path):
    editor = HiveEditor.new()
    expected = ExpectedHive({(): []})
    cases = [("", 1, "default\0".encode("utf-16-le")),
             ("empty", 1, b"\0\0"),
             ("none0", 0, b""),
             ("dw", 4, (0xDEADBEEF).to_bytes(4, "little")),
             ("dwbe", 5, (7).to_bytes(4, "big")),
             ("qw", 11, (1 << 40).to_bytes(8, "little")),
             ("exp", 2, "%SystemRoot%\\x\0".encode("utf-16-le")),
             ("multi", 7, "a\0bc\0\0".encode("utf-16-le")),
             ("bin5", 3, b"12345"),
             ("bin3", 3, b"123"),
             ("link", 6, "\\Registry\\Machine".encode("utf-16-le")),
             ("edge16344", 3, bytes(range(256)) * 63 + bytes(216)),
             ("big16345", 3, b"\x01" * 16345),
             ("big80k", 3, bytes(i % 251 for i in range(81725)))]
    for name, vtype, raw in cases:
        editor.set_value("", name, vtype, raw)
        expected.set_value((), name, vtype, raw)
    editor.create_key("Software\\Sub\\Deep")
    expected.create_key(("Software", "Sub", "Deep"))
    editor.set_value("software\\SUB", "v", 4, b"\1\0\0\0")
    expected.set_value(("Software", "Sub"), "v", 4, b"\1\0\0\0")
    image = editor.to_bytes()
    assert_all_readers(image, expected.model(), tmp_path)
    hive = Hive.from_bytes(image)
    root = hive.root
    assert root.fields["largest_value_data_size"] >= 81725
    assert root.fields["largest_value_name_length"] >= 2 * len("edge16344")
    # Placement: <= 4 bytes inline, 16344 in one cell, more in db + 16352-byte segments.
    vk = {v.name: v.offset for v in root.values()}

    def vk_fields(name):
        return struct.unpack_from("<II", image, 4096 + vk[name] + 4 + 4)

    assert vk_fields("dw") == (0x80000004, 0xDEADBEEF)
    assert vk_fields("empty")[0] == 0x80000002
    size, off = vk_fields("edge16344")
    assert size == 16344 and image[4096 + off + 4:4096 + off + 6] != b"db"
    for name, segments in (("big16345", 2), ("big80k", 6)):
        size, db = vk_fields(name)
        assert image[4096 + db + 4:4096 + db + 6] == b"db"
        count, seglist = struct.unpack_from("<HI", image, 4096 + db + 4 + 2)
        assert count == segments
        for i in range(count):
            seg = struct.unpack_from("<I", image, 4096 + seglist + 4 + 4 * i)[0]
            assert struct.unpack_from("<i", image, 4096 + seg)[0] == -16352


def test_hive_property_reads_the_current_state():
    editor = HiveEditor.new(minor=3, root_name="NewStoreRoot")
    editor.create_key("Objects\\{x}")
    assert editor.hive.root.name == "NewStoreRoot"
    assert [k.name for k in editor.hive.key("objects").subkeys()] == ["{x}"]
    editor.delete_key("Objects")
    assert editor.hive.root.subkeys() == [] and editor.minor_version == 3


def test_minor3_hive_stores_large_values_in_one_cell_and_uses_lf(tmp_path):
    editor = HiveEditor.new(minor=3)
    editor.create_key("k")
    editor.set_value("k", "big", 3, b"\x05" * 20000)
    image = editor.to_bytes()
    hive = Hive.from_bytes(image)
    key = hive.key("k")
    off = struct.unpack_from("<I", image, 4096 + key.value("big").offset + 4 + 8)[0]
    assert struct.unpack_from("<i", image, 4096 + off)[0] == -20008
    index = struct.unpack_from("<I", image, 4096 + 0x20 + 4 + 0x1C)[0]
    assert image[4096 + index + 4:4096 + index + 6] == b"lf"
    assert image[4096 + index + 12:4096 + index + 16] == lf_hint("k")
    assert_all_readers(image, {(): [], ("k",): [("big", 3, b"\x05" * 20000)]}, tmp_path)


def test_unicode_names_sorted_hashed_and_hinted_like_windows(tmp_path):
    names = ["ss1", "SS3", "ß2", "Привет", "_under", "Zeta", "a", "ÿ", "emoji😀", "ëigen"]
    for minor in (3, 5):
        editor = HiveEditor.new(minor=minor)
        for name in names:
            editor.create_key(name)
            editor.set_value(name, name, 1, (name + "\0").encode("utf-16-le", "surrogatepass"))
        image = editor.to_bytes()
        children = Hive.from_bytes(image).root.subkeys()
        assert [c.name for c in children] == sorted(names, key=name_sort_key)
        index = struct.unpack_from("<I", image, 4096 + 0x20 + 4 + 0x1C)[0]
        sig = image[4096 + index + 4:4096 + index + 6]
        assert sig == (b"lh" if minor == 5 else b"lf")
        for i, child in enumerate(children):
            off, extra = struct.unpack_from("<I4s", image, 4096 + index + 8 + 8 * i)
            assert off == child.offset
            if sig == b"lh":
                assert struct.unpack("<I", extra)[0] == lh_hash(child.name)
            else:
                assert extra == lf_hint(child.name)
        model = {(): []}
        for name in names:
            model[(name,)] = [(name, 1, (name + "\0").encode("utf-16-le", "surrogatepass"))]
        assert_all_readers(image, model, tmp_path)


def test_more_than_a_leaf_of_siblings_uses_an_index_root(tmp_path):
    editor = HiveEditor.new()
    names = [f"key{i:05d}" for i in range(2100)]
    for name in names[::2] + names[1::2]:
        editor.create_key("Parent\\" + name)
    for name in names[:700]:
        editor.delete_key("Parent\\" + name)
    image = editor.to_bytes()
    parent = Hive.from_bytes(image).key("Parent")
    index = struct.unpack_from("<I", image, 4096 + parent.offset + 4 + 0x1C)[0]
    assert image[4096 + index + 4:4096 + index + 6] == b"ri"
    assert [c.name for c in parent.subkeys()] == names[700:]
    model = {(): [], ("Parent",): []}
    model.update({("Parent", n): [] for n in names[700:]})
    assert_all_readers(image, model, tmp_path)


def test_delete_frees_everything_it_owned(tmp_path):
    original = BCD_STORES[0].read_bytes() if BCD_STORES else HiveEditor.new().to_bytes()
    editor = HiveEditor.from_bytes(original)
    before = _cells(original).allocated
    editor.create_key("Tree\\A\\B")
    editor.set_value("Tree\\A", "big", 3, b"x" * 40000)
    editor.set_value("Tree\\A\\B", "s", 1, b"s\0t\0\0\0")
    for i in range(30):
        editor.create_key(f"Tree\\A\\many{i}")
    editor.delete_key("TREE")
    image = editor.to_bytes()
    after = _cells(image).allocated
    index = Hive.from_bytes(image).root.fields["subkeys_list_offset"]
    old_index = Hive.from_bytes(original).root.fields["subkeys_list_offset"]
    # Only the root's leaf moved (it grew); everything the tree owned is free again.
    assert after - before <= {index} and before - after <= {old_index}
    assert_all_readers(image, ours(original), tmp_path)


def test_free_cells_coalesce_with_both_neighbours():
    editor = HiveEditor.new()
    for i in range(3):
        editor.set_value("", f"v{i}", 3, bytes([i]) * 100)
    image = editor.to_bytes()
    for name in ("v0", "v2", "v1"):
        editor.delete_value("", name)
    cells = _cells(editor.to_bytes())
    assert len(cells.free) == 1 and not (cells.free_end.keys() & cells.free.keys())
    assert len(_cells(image).free) <= 2


def test_values_replace_keeps_order_and_name(tmp_path):
    editor = HiveEditor.new()
    editor.create_key("k")
    for name in ("one", "Two", "three"):
        editor.set_value("k", name, 4, b"\0\0\0\0")
    editor.set_value("k", "TWO", 3, b"x" * 5000)
    editor.set_value("k", "two", 1, b"a\0\0\0")
    editor.delete_value("k", "ONE")
    assert_all_readers(editor.to_bytes(), {(): [], ("k",): [("Two", 1, b"a\0\0\0"),
                                                            ("three", 4, b"\0\0\0\0")]}, tmp_path)
    editor.delete_value("k", "two")
    editor.delete_value("k", "three")
    hive = Hive.from_bytes(editor.to_bytes())
    assert hive.key("k").fields["key_values_list_offset"] == 0xFFFFFFFF
    assert hive.key("k").fields["largest_value_data_size"] == 0


def test_failed_operations_leave_the_editor_unchanged(tmp_path):
    editor = HiveEditor.new()
    editor.create_key("a\\b")
    editor.set_value("a", "v", 3, b"data!")
    before = editor.to_bytes()
    bad = [lambda: editor.create_key("a\\new\\" + "n" * 256),
           lambda: editor.create_key("a\\\\b"),
           lambda: editor.delete_key(""),
           lambda: editor.delete_key("missing"),
           lambda: editor.delete_value("a", "missing"),
           lambda: editor.set_value("nokey", "v", 1, b""),
           lambda: editor.set_value("a", "x\0", 1, b"")]
    for action in bad:
        with pytest.raises((InvalidArgumentError, NotFoundError)):
            action()
        assert editor.to_bytes() == before


def test_failure_half_way_through_an_operation_rolls_back(monkeypatch, tmp_path):
    editor = HiveEditor.new()
    editor.create_key("k")
    before = editor.to_bytes()
    # Let the hive grow by one 16 KiB bin only: the second big-data segment cannot be placed,
    # after the first one and a new bin were already written.
    monkeypatch.setattr(alloc_module, "MAX_HIVE_BINS", 4096 + 16384)
    with pytest.raises(CorruptionError):
        editor.set_value("k", "big", 3, b"z" * 40000)
    assert editor.to_bytes() == before
    monkeypatch.undo()
    editor.set_value("k", "big", 3, b"z" * 40000)
    assert_all_readers(editor.to_bytes(), {(): [], ("k",): [("big", 3, b"z" * 40000)]}, tmp_path)


def test_root_and_no_delete_keys_are_refused():
    editor = HiveEditor.new()
    with pytest.raises(InvalidArgumentError):
        editor.delete_key("\\")
    editor.create_key("keep\\locked\\child")
    image = bytearray(editor.to_bytes())
    locked = Hive.from_bytes(bytes(image)).key("keep\\locked").offset
    flags = struct.unpack_from("<H", image, 4096 + locked + 4 + 2)[0]
    struct.pack_into("<H", image, 4096 + locked + 4 + 2, flags | 0x0008)   # KEY_NO_DELETE
    editor = HiveEditor.from_bytes(bytes(image))
    before = editor.to_bytes()
    for path in ("keep\\locked", "keep"):        # the key itself, or a tree holding it
        with pytest.raises(InvalidArgumentError):
            editor.delete_key(path)
        assert editor.to_bytes() == before
    editor.delete_key("keep\\locked\\child")


def test_inconsistent_editor_refuses_to_emit():
    editor = HiveEditor.new()
    editor.create_key("k")
    editor._alloc.allocated.discard(next(iter(editor._alloc.allocated - {0x20})))
    with pytest.raises(CorruptionError):
        editor.to_bytes()
    with pytest.raises(CorruptionError):
        editor.create_key("again")


def test_dirty_hive_is_refused_unless_recovered(corpus):
    dirty = corpus / "hives" / "yarp-NewDirtyHive"
    with pytest.raises(DirtyHiveError):
        HiveEditor(Hive.from_bytes(dirty.read_bytes(), allow_dirty=True))
    with pytest.raises(DirtyHiveError):
        HiveEditor.from_bytes(dirty.read_bytes())
    recovered = Hive.open(dirty)
    editor = HiveEditor(recovered)
    editor.create_key("AfterRecovery")
    assert Hive.from_bytes(editor.to_bytes()).key("afterrecovery").name == "AfterRecovery"


@pytest.mark.parametrize("path", BCD_STORES, ids=lambda p: p.name)
def test_same_size_on_every_corpus_store(path, tmp_path):
    original = path.read_bytes()
    editor = HiveEditor(Hive.from_bytes(original))
    expected = ExpectedHive(ours(original))
    objects = sorted(k for k in expected.model() if len(k) == 2 and k[0] == "Objects")
    editor.create_key("Objects\\{11111111-2222-3333-4444-555555555555}\\Elements\\16000020")
    expected.create_key(("Objects", "{11111111-2222-3333-4444-555555555555}", "Elements",
                         "16000020"))
    editor.set_value("Objects\\{11111111-2222-3333-4444-555555555555}\\Elements\\16000020",
                     "Element", 3, b"\x01")
    expected.set_value(("Objects", "{11111111-2222-3333-4444-555555555555}", "Elements",
                        "16000020"), "Element", 3, b"\x01")
    if objects:
        editor.delete_key("\\".join(objects[0]))
        expected.delete_key(objects[0])
    image = editor.to_bytes(same_size=True)
    assert len(image) == len(original)
    assert_all_readers(image, expected.model(), tmp_path)


def _fill_beyond_slack(path):
    """An editor on a corpus store whose edits fit the file only after a compact rebuild."""
    original = path.read_bytes()
    editor = HiveEditor.from_bytes(original)
    expected = ExpectedHive(ours(original))
    for key in sorted(k for k in expected.model() if len(k) == 2 and k[0] == "Objects")[1:]:
        editor.delete_key("\\".join(key))
        expected.delete_key(key)
    used = _cells(editor.to_bytes()).used_bytes()
    return original, editor, expected, used


@pytest.mark.parametrize("path", BCD_STORES, ids=lambda p: p.name)
def test_same_size_rebuilds_compactly_when_edits_do_not_fit(path, tmp_path):
    original, editor, expected, used = _fill_beyond_slack(path)
    room = len(original) - 4096 - used - 2 * 4096
    # One big value where there is room for it.  In small stores: punch holes (small values,
    # every other one deleted), then add 2000-byte values, which no hole takes, until in place
    # they would need more bins than the file's slack holds.
    sizes = [room] if room >= 6000 else [2000] * 64
    if room < 6000:
        for i in range(8):
            editor.set_value("Description", f"Hole{i}", 3, bytes([i]) * 200)
            expected.set_value(("Description",), f"Hole{i}", 3, bytes([i]) * 200)
        for i in range(0, 8, 2):
            editor.delete_value("Description", f"Hole{i}")
            expected.delete_value(("Description",), f"Hole{i}")
    for i, size in enumerate(sizes):
        data = bytes((i + j) % 253 for j in range(size))
        editor.set_value("Description", f"Filler{i}", 3, data)
        expected.set_value(("Description",), f"Filler{i}", 3, data)
        if len(editor.to_bytes()) > len(original):
            break
    assert len(editor.to_bytes()) > len(original)      # in place it would grow the file
    image = editor.to_bytes(same_size=True)
    assert len(image) == len(original)
    assert_all_readers(image, expected.model(), tmp_path)
    before, after = Hive.from_bytes(editor.to_bytes()), Hive.from_bytes(image)
    # metadata preserved key by key
    for old, new in zip(before.walk(), after.walk(), strict=True):
        assert (old.path, old.filetime, old.flags, old.class_raw) == \
            (new.path, new.filetime, new.flags, new.class_raw)
        assert before.security(old.security_offset).descriptor == \
            after.security(new.security_offset).descriptor
    with pytest.raises(HiveSpaceError):
        editor.set_value("Description", "Filler0", 3, bytes(len(original)))
        editor.to_bytes(same_size=True)


@pytest.mark.slow
def test_same_size_rebuild_of_a_large_minor5_hive_keeps_classes_and_big_data(corpus, tmp_path):
    original = (corpus / "hives" / "winxp-sp3-SYSTEM").read_bytes()
    editor = HiveEditor.from_bytes(original)
    expected = ExpectedHive(ours(original))
    # 12 big-data segments (12 x 16 KiB bins) overflow the file's 184 KiB of slack in place,
    # but fit once the 53 KiB of free cells scattered through the bins are squeezed out.
    data = bytes(i % 241 for i in range(16344 * 12))
    editor.set_value("ControlSet001\\Control", "Filler", 3, data)
    expected.set_value(("ControlSet001", "Control"), "Filler", 3, data)
    grown = editor.to_bytes()
    assert len(grown) > len(original)
    image = editor.to_bytes(same_size=True)
    assert len(image) == len(original)
    assert_all_readers(image, expected.model(), tmp_path, original=original)
    before, after = Hive.from_bytes(grown), Hive.from_bytes(image)
    classes = 0
    for old, new in zip(before.walk(), after.walk(), strict=True):
        assert (old.path, old.filetime, old.flags, old.class_raw) == \
            (new.path, new.filetime, new.flags, new.class_raw)
        classes += bool(new.class_raw)
    assert classes == 16
    assert after.key("ControlSet001\\Control").value("Filler").raw == data


def test_bit_flipped_stores_give_only_bcdtool_errors():
    rng = random.Random(5)
    for _ in range(150):
        data = bytearray(rng.choice(BCD_STORES).read_bytes() if BCD_STORES else
                         HiveEditor.new().to_bytes())
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(4096, len(data))] ^= 1 << rng.randrange(8)
        try:
            editor = HiveEditor.from_bytes(bytes(data))
            editor.create_key("Objects\\{new}\\Elements\\16000020")
            editor.set_value("Objects\\{new}\\Elements\\16000020", "Element", 3,
                             b"\1" * rng.choice([1, 100, 20000]))
            for key in ("Objects\\{new}", "Objects", "Description"):
                try:
                    editor.delete_key(key)
                except BcdToolError:
                    pass
            editor.to_bytes()
            editor.to_bytes(same_size=True)
        except BcdToolError:
            pass


def test_allocator_spare_room_never_grows_a_hive_that_has_room():
    image = bytearray(HiveEditor.new().to_bytes())
    cells = CellAllocator(image)
    (free_off, free_size), = cells.free.items()
    off = cells.alloc(free_size - 4, spare=1000)       # fits exactly without the spare
    assert off == free_off and cells.length == 4096 and not cells.free
    bigger = cells.alloc(100, spare=1000)              # no room at all: a new bin, spare kept
    assert cells.length == 8192 and -struct.unpack_from("<i", image, 4096 + bigger)[0] == 1104
