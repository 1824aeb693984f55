"""Each known misreading of an independent reader (regf.verify.MISREADINGS) really happens.

Every test builds a hive holding one value or name of the class the entry describes, reads it
with the reader in question and shows the reader's answer differs from the stored bytes (or
that it fails), and that regf.verify's predicate names exactly that entry.  A last test makes
sure no entry of the list is left without such a test, and that verification accepts edits
holding every such value (the other checks still cover them).
"""

from __future__ import annotations

import io
import struct

import pytest
from Registry import Registry

from bcdtool.regf import layout as L
from bcdtool.regf.checksums import regf_checksum
from bcdtool.regf.commit import finalize
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.hive import Hive
from bcdtool.regf.verify import (MISREADINGS, libregf_name_misreading, libregf_value_misreading,
                                 python_registry_name_misreading,
                                 python_registry_value_misreading, verify_commit)

pyregf = pytest.importorskip("pyregf")

SHOWN: set[tuple[str, str]] = set()


def shown(reader: str, code: str) -> None:
    assert any(m.reader == reader and m.code == code for m in MISREADINGS), code
    SHOWN.add((reader, code))


def one_value(vtype: int, raw: bytes, *, name: str = "v", minor: int = 5) -> bytes:
    editor = HiveEditor.new(minor)
    editor.create_key("K")
    editor.set_value("K", name, vtype, raw)
    return editor.to_bytes()


def patched(image: bytes, change) -> bytes:
    """`image` with `change(buffer, vk file offset)` applied and the checksum redone."""
    data = bytearray(image)
    value = Hive.from_bytes(image).key("K").values()[0]
    change(data, L.BASE_BLOCK_SIZE + value.offset + 4)
    struct.pack_into("<I", data, L.BB_CHECKSUM, regf_checksum(bytes(data[:L.CHECKSUM_COVERED])))
    return bytes(data)


def ours(image: bytes):
    value = Hive.from_bytes(image).key("K").values()[0]
    return value


def python_registry(image: bytes):
    """(name, type, raw) as python-registry reads them, or the exception it raises."""
    try:
        value = Registry.Registry(io.BytesIO(image)).open("K").values()[0]
        return value.name(), value.value_type(), bytes(value.raw_data())
    except Exception as exc:  # noqa: BLE001 - failing is one way of misreading
        return exc


def libregf(image: bytes):
    try:
        regf = pyregf.file()
        regf.open_file_object(io.BytesIO(image))
        value = regf.get_root_key().get_sub_key(0).get_value(0)
        return value.name, value.type, value.data or b""
    except Exception as exc:  # noqa: BLE001
        return exc


def pr_value_code(image: bytes) -> str | None:
    value = ours(image)
    return python_registry_value_misreading(value.type, value.size, value.inline,
                                            Hive.from_bytes(image).minor_version)


def assert_pr_misreads(image: bytes, code: str) -> None:
    value = ours(image)
    assert pr_value_code(image) == code
    read = python_registry(image)
    assert isinstance(read, Exception) or read[1:] != (value.type, value.raw), read
    shown("python-registry", code)


def test_python_registry_masks_device_property_types():
    assert_pr_misreads(one_value(0xFFFF0011, b"\x01"), "type-masked")
    read = python_registry(one_value(0xFFFF0011, b"\x01"))
    assert read[1] == 0x011


def test_python_registry_reads_short_data_cells_from_the_vk():
    image = patched(one_value(3, b"ABCDEFGH"),
                    lambda data, vk: struct.pack_into("<I", data, vk + 4, 3))
    assert ours(image).raw == b"ABC"
    assert_pr_misreads(image, "short-data-cell")


def test_python_registry_reads_db_prefixed_data_as_big_data_in_version_1_3():
    raw = b"db\x02\x00" + bytes(4) + b"x" * 20000
    assert_pr_misreads(one_value(3, raw, minor=3), "big-data-minor3")


def test_python_registry_reads_every_dword_from_the_offset_field():
    assert_pr_misreads(one_value(4, b"12345678"), "dword-offset-field")
    assert_pr_misreads(one_value(4, b""), "dword-offset-field")


def test_python_registry_cannot_read_a_zero_length_qword():
    assert_pr_misreads(one_value(11, b""), "qword-cell")


def test_python_registry_reads_inline_big_endian_dwords_from_a_cell():
    assert_pr_misreads(one_value(5, b"\x00\x00\x00\x01"), "big-endian-cell")


def test_python_registry_reads_the_empty_inline_multi_sz_as_nothing():
    assert_pr_misreads(one_value(7, b"\x00\x00"), "inline-multi-sz")


def test_python_registry_reads_short_inline_strings_as_four_bytes():
    assert_pr_misreads(one_value(1, b"a\x00"), "inline-4-bytes")


def test_python_registry_reads_inline_filetimes_from_the_wrong_place():
    assert_pr_misreads(one_value(0x10, b"\x01\x02\x03\x04"), "filetime-inline")


def test_python_registry_decodes_compressed_names_as_windows_1252():
    image = patched(one_value(3, b"data", name="Ax"),
                    lambda data, vk: data.__setitem__(vk + L.VK_FIXED_SIZE, 0x80))
    value = ours(image)
    assert value.name == "\x80x" and value.flags & L.VALUE_COMP_NAME
    assert python_registry_name_misreading(value.name, True) == "name-cp1252"
    read = python_registry(image)
    assert isinstance(read, Exception) or read[0] != value.name
    shown("python-registry", "name-cp1252")


def test_python_registry_fails_on_unpaired_surrogates_in_names():
    image = one_value(3, b"data", name="a\ud800b")
    assert python_registry_name_misreading(ours(image).name, False) == "name-surrogate"
    assert isinstance(python_registry(image), Exception)
    shown("python-registry", "name-surrogate")


def test_libregf_returns_other_bytes_for_short_inline_data():
    image = one_value(3, b"\xfe\x01")
    value = ours(image)
    assert libregf_value_misreading(value.type, value.raw, value.inline) == "short-inline"
    read = libregf(image)
    assert isinstance(read, Exception) or read[2] != value.raw
    shown("libregf", "short-inline")


def test_libregf_cuts_strings_after_the_first_nul():
    image = one_value(1, "a\0b\0".encode("utf-16-le"))
    value = ours(image)
    assert libregf_value_misreading(value.type, value.raw, value.inline) == "string-nul"
    read = libregf(image)
    assert isinstance(read, Exception) or read[2] != value.raw
    shown("libregf", "string-nul")


def test_libregf_fails_on_unpaired_surrogates_in_names():
    image = one_value(3, b"data", name="a\ud800b")
    assert libregf_name_misreading(ours(image).name) == "name-non-ascii"
    read = libregf(image)
    assert isinstance(read, Exception) or read[0] != ours(image).name
    shown("libregf", "name-non-ascii")


def test_values_the_readers_misread_are_still_verified_and_accepted():
    base = HiveEditor.new(5).to_bytes()
    editor = HiveEditor.from_bytes(base)
    editor.create_key("K")
    for index, (vtype, raw) in enumerate([(0xFFFF0011, b"\x01"), (4, b""), (11, b""),
                                          (5, b"\0\0\0\1"), (7, b"\0\0"), (1, b"a\0"),
                                          (0x10, b"\1\2"), (3, b"\xfe\x01"),
                                          (1, "a\0b\0".encode("utf-16-le"))]):
        editor.set_value("K", f"v{index}", vtype, raw)
    editor.set_value("K", "a\ud800b", 3, b"data")
    report = verify_commit(base, finalize(editor.to_bytes(), base), planned=editor.planned)
    assert "python-registry" in report.readers and "libregf" in report.readers


def test_every_listed_misreading_is_shown_by_a_test():
    SHOWN.clear()
    for name, func in list(globals().items()):
        if name.startswith("test_") and func is not test_every_listed_misreading_is_shown_by_a_test:
            func()
    assert SHOWN == {(m.reader, m.code) for m in MISREADINGS}
