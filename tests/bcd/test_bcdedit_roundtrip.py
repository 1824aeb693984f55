"""What Windows wrote, bcdtool writes: every element of every corpus store (written by Windows'
bcdedit, bcdboot or Setup) is deleted, set again with `/set {id} NAME VALUE` from the value
`/enum /v` prints for it, and the bytes python-registry reads back from the saved hive must be
the bytes Windows wrote (undecodable values, and devices on disks this machine does not have,
excepted: offline they print `unknown`)."""

from __future__ import annotations

import io

import pytest
from Registry import Registry

from bcdtool.bcd import bcdedit as be
from bcdtool.bcd import enum
from bcdtool.bcd.device import parse_device_text
from bcdtool.bcd.elements import Format, display_name, element_format
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import BcdToolError
from bcdtool.regf.hive import Hive
from tests.bcd._corpus import corpus_stores, registry_elements

_SETTABLE = (Format.STRING, Format.OBJECT, Format.OBJECT_LIST, Format.INTEGER, Format.BOOLEAN,
             Format.INTEGER_LIST, Format.DEVICE)


def _as_bcdedit_writes(code: int, raw: bytes) -> bool:
    """True when Windows wrote this value the way bcdedit encodes it (bcd.md §3). Setup and
    the firmware sync also write shorter integers (`timeout` as the single byte 1e) and strings
    with two NULs; bcdedit never does, so those are not what `/set` must reproduce."""
    fmt = element_format(code)
    if fmt == Format.DEVICE:
        return True
    if fmt == Format.INTEGER:
        return len(raw) == 8
    if fmt == Format.BOOLEAN:
        return raw in (b"\x00", b"\x01")
    if fmt == Format.INTEGER_LIST:
        return len(raw) > 0 and len(raw) % 8 == 0
    text = raw.decode("utf-16-le", "replace") if len(raw) % 2 == 0 else "\ufffd"
    if fmt == Format.OBJECT_LIST:
        items = text.split("\0")
        return text.endswith("\0\0") and all(items[:-2]) and items[-2:] == ["", ""]
    return text.endswith("\0") and "\0" not in text[:-1] and len(text) > 1


def _text_carries(store: BcdStore, obj, code: int, text: str) -> bool:
    """True when the printed device holds all the element does: some tools (the third-party
    WinPE stores of the corpus) fill ramdisk image offsets that bcdedit neither prints nor
    writes from the text."""
    device = parse_device_text(text, lambda t: store.resolve(t, must_exist=False))
    return device == obj.elements[code].value()


def _words(store: BcdStore, obj, code: int) -> list[str] | None:
    """The `/set` value words for an element: what `/enum /v` prints for it."""
    try:
        obj.elements[code].value()
    except BcdToolError:
        return None
    return [v.strip() for v in enum.value_lines(store, obj, obj.elements[code],
                                                enum.View(verbose=True))]


@pytest.mark.parametrize("path", corpus_stores(), ids=lambda p: p.name)
def test_set_from_printed_value_writes_windows_bytes(path):
    original = {(guid, code): (vtype, raw)
                for guid, _, code, vtype, raw in registry_elements(path)}
    store = BcdStore(Hive.open(path))
    redone = []
    for obj in store.objects():
        for code in sorted(obj.elements):
            if element_format(code) not in _SETTABLE or \
                    not _as_bcdedit_writes(code, original[(obj.guid, code)][1]):
                continue
            words = _words(store, obj, code)
            if not words or any(w.startswith("<") or "unknown" in w for w in words):
                continue            # devices on disks this machine does not have print unknown
            if element_format(code) == Format.DEVICE and not _text_carries(store, obj, code,
                                                                           words[0]):
                continue
            name = display_name(code, obj.type)
            store.delete_element(obj.guid, code)
            be.execute(be.parse_args(["/set", obj.guid, name, *words]), store)
            redone.append((obj.guid, code, name, words))
    if not redone:
        pytest.skip("the store has no element bcdedit could have written")
    reg = Registry.Registry(io.BytesIO(store.to_bytes()))
    wrong = []
    for guid, code, name, words in redone:
        value = reg.open(f"Objects\\{guid}\\Elements\\{code:08X}").value("Element")
        if (value.value_type(), value.raw_data()) != original[(guid, code)]:
            wrong.append(f"{guid} {name} {words}: {value.raw_data().hex()} != "
                         f"{original[(guid, code)][1].hex()}")
    assert not wrong, "\n".join(wrong)
