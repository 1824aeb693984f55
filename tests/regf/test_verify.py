"""regf.verify.verify_commit: what it accepts (planned edits of real hives) and what it refuses
(anything else changed, broken structure, headers moved, readers disagreeing)."""

from __future__ import annotations

import struct

import pytest

from bcdtool.errors import VerifyError
from bcdtool.regf import layout as L
from bcdtool.regf.checksums import regf_checksum
from bcdtool.regf.commit import finalize
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.hive import Hive
from bcdtool.regf.verify import verify_commit
from bcdtool.windows import edits

BCD = "win10-uefi-installed-systemd-boot.bcd"


def load(corpus, sub: str, name: str) -> Hive:
    return Hive.from_bytes((corpus / sub / name).read_bytes())


def written(editor: HiveEditor, hive: Hive, same_size: bool = True) -> bytes:
    return finalize(editor.to_bytes(same_size=same_size), hive.original)


def resum(data: bytearray) -> bytes:
    struct.pack_into("<I", data, L.BB_CHECKSUM, regf_checksum(bytes(data[:L.CHECKSUM_COVERED])))
    return bytes(data)


@pytest.fixture
def win10(corpus) -> Hive:
    return load(corpus, "hives", "win10-SYSTEM")


def test_crashdump_and_sac_edits_of_the_windows_10_system_hive_verify(win10):
    changes = edits.crashdump(win10)
    assert changes
    editor = edits.apply(win10, changes)
    # A device-property value (type 0xFFFF0012) set on the same hive is verified as well.
    editor.set_value(changes[0].key, "DevProp", 0xFFFF0012, b"\x01")
    report = verify_commit(win10.original, written(editor, win10), planned=editor.planned)
    assert report.method == "cells"
    assert report.readers[0] == "python-registry"


def test_a_changed_value_outside_the_plan_is_refused(corpus):
    hive = load(corpus, "bcd", BCD)
    editor = HiveEditor(hive)
    editor.set_value("Description", "Note", 1, "x\0".encode("utf-16-le"))
    data = bytearray(written(editor, hive))
    new = Hive.from_bytes(bytes(data))
    victim = next(v for k in new.walk() if k.path.startswith("Objects") for v in k.values()
                  if not v.inline and v.size > 8)
    data[L.BASE_BLOCK_SIZE + victim.data_offset + 4] ^= 0x01
    with pytest.raises(VerifyError, match="changed although the plan does not touch it"):
        verify_commit(hive.original, resum(data), planned=editor.planned)


def test_an_unplanned_value_on_a_touched_key_is_refused(corpus):
    hive = load(corpus, "bcd", BCD)
    planned = HiveEditor(hive)
    planned.set_value("Description", "Note", 4, b"\1\0\0\0")
    done = HiveEditor(hive)
    done.set_value("Description", "Note", 4, b"\1\0\0\0")
    done.set_value("Description", "Extra", 4, b"\2\0\0\0")
    with pytest.raises(VerifyError, match="not the planned ones"):
        verify_commit(hive.original, written(done, hive), planned=planned.planned)


def test_a_deleted_key_is_gone_and_nothing_else_moved(corpus):
    hive = load(corpus, "bcd", BCD)
    victim = hive.key("Objects").subkeys()[0].path
    editor = HiveEditor(hive)
    editor.delete_key(victim)
    editor.create_key("Objects\\New\\Deeper")
    assert verify_commit(hive.original, written(editor, hive),
                         planned=editor.planned).method == "cells"
    other = HiveEditor(hive)
    other.create_key("Objects\\New\\Deeper")
    with pytest.raises(VerifyError):
        verify_commit(hive.original, written(other, hive), planned=editor.planned)


def test_a_wrong_hint_of_a_touched_key_is_refused_by_the_validator(corpus):
    hive = load(corpus, "bcd", BCD)
    editor = HiveEditor(hive)
    editor.create_key("Objects\\Zeta")
    data = bytearray(written(editor, hive))
    new = Hive.from_bytes(bytes(data))
    parent = new.key("Objects")
    for leaf, signature, _, count in new._leaves(parent):
        entries = struct.unpack_from(f"<{2 * count}I", data, L.BASE_BLOCK_SIZE + leaf + 8)
        index = entries[::2].index(new.key("Objects\\Zeta").offset) \
            if new.key("Objects\\Zeta").offset in entries[::2] else None
        if index is not None:
            assert signature in (b"lf", b"lh")
            data[L.BASE_BLOCK_SIZE + leaf + 8 + 8 * index + 4] ^= 0x20
    with pytest.raises(VerifyError, match="validator"):
        verify_commit(hive.original, resum(data), planned=editor.planned)


def test_a_wrong_security_count_is_refused(corpus):
    hive = load(corpus, "bcd", BCD)
    editor = HiveEditor(hive)
    editor.create_key("Objects\\Zeta")
    data = bytearray(written(editor, hive))
    sk = Hive.from_bytes(bytes(data)).key("Objects\\Zeta").security_offset
    where = L.BASE_BLOCK_SIZE + sk + 4 + L.SK_REFERENCE_COUNT
    struct.pack_into("<I", data, where, struct.unpack_from("<I", data, where)[0] - 1)
    with pytest.raises(VerifyError, match="security record"):
        verify_commit(hive.original, resum(data), planned=editor.planned)


def test_base_block_fields_must_stay(corpus):
    hive = load(corpus, "bcd", BCD)
    editor = HiveEditor(hive)
    editor.set_value("Description", "Note", 4, b"\1\0\0\0")
    data = bytearray(written(editor, hive))
    data[0x70] ^= 0xFF                       # RmId
    with pytest.raises(VerifyError, match="base-block bytes"):
        verify_commit(hive.original, resum(data), planned=editor.planned)


def test_dirty_and_broken_images_are_refused(corpus):
    hive = load(corpus, "bcd", "empty-createstore.bcd")
    editor = HiveEditor(hive)
    editor.create_key("X")
    good = written(editor, hive)
    dirty = bytearray(good)
    struct.pack_into("<I", dirty, 4, struct.unpack_from("<I", good, 4)[0] + 1)
    with pytest.raises(VerifyError, match="dirty"):
        verify_commit(hive.original, resum(dirty), planned=editor.planned)
    broken = bytearray(good)
    broken[4096:4100] = b"junk"
    with pytest.raises(VerifyError, match="reader"):
        verify_commit(hive.original, resum(broken), planned=editor.planned)


def test_a_compacted_rewrite_is_compared_in_full(corpus):
    hive = load(corpus, "bcd", BCD)
    editor = HiveEditor(hive)
    editor.set_value("Description", "Note", 4, b"\1\0\0\0")
    image = written(editor, hive)
    planned = editor.planned._replace(compacted=True)
    assert verify_commit(hive.original, image, planned=planned).method == "full"
    # Without a record, every difference is taken as intended but still read by the readers.
    assert verify_commit(hive.original, image).method == "full"


def test_the_fast_proof_and_the_full_comparison_agree(corpus):
    hive = load(corpus, "hives", "SAM")
    editor = HiveEditor(hive)
    key = next(k for k in hive.walk() if k.values() and k.parent is not None)
    editor.set_value(key.path, key.values()[0].name, 11, b"")   # SAM's zero-length REG_QWORD
    editor.delete_key(next(k for k in hive.walk() if not k.subkey_count and k.parent
                           and k.path != key.path).path)
    image = written(editor, hive)
    fast = verify_commit(hive.original, image, planned=editor.planned)
    full = verify_commit(hive.original, image,
                         planned=editor.planned._replace(compacted=True))
    assert (fast.method, full.method) == ("cells", "full")


def test_sam_keys_whose_types_hold_counts_verify(corpus):
    """SAM keeps counts in the type field of zero-length default values (REG_QWORD and far
    beyond): every reader must be consulted only where it reads such values right."""
    hive = load(corpus, "hives", "SAM")
    keys = [k for k in hive.walk() if any(v.size == 0 and v.type not in (0, 3)
                                          for v in k.values())]
    assert len(keys) >= 5
    editor = HiveEditor(hive)
    for key in keys:
        editor.set_value(key.path, "BcdToolProbe", 11, b"")      # a zero-length REG_QWORD too
    report = verify_commit(hive.original, written(editor, hive), planned=editor.planned)
    assert report.method == "cells" and report.keys_compared == len(keys)
