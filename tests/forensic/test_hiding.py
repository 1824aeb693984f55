"""Stores crafted to hide a setting from a strict reader: elements in registry types or sizes
bcdedit never writes, keys named with NULs, control or lookalike characters, duplicates that
differ only in case, and timestamps set by a tool.  Each must raise a finding that names the
key, and the report's text and CSV must show such names escaped, never raw."""

from __future__ import annotations

import datetime as _dt
import json
import struct

import pytest

from bcdtool.bcd.store import BcdStore
from bcdtool.ops.forensic import investigate, render_text
from bcdtool.ops.forensic_keys import key_findings
from bcdtool.ops.forensic_model import NOINTEGRITYCHECKS, RECOVERYENABLED, TESTSIGNING, StoreView
from bcdtool.ops.forensic_rules import findings
from bcdtool.ops.forensic_timeline import to_csv
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.hive import Hive
from tests.forensic.forensic_helpers import LOADER, new_store

BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
REG_SZ, REG_BINARY, REG_DWORD, REG_QWORD = 1, 3, 4, 11
#: The run's time as the report gives it: an hour ahead of the keys the tests write now.
NOW = (_dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def ids(image: bytes) -> dict[str, str]:
    """{finding id: worst severity} of every finding on the store, key findings included."""
    store = BcdStore(Hive.from_bytes(image))
    view = StoreView(store, store.hive)
    out: dict[str, str] = {}
    for f in findings(view, extra=key_findings(view, NOW)):
        if out.get(f.id) not in ("high",):
            out[f.id] = f.severity
    return out


def with_element(obj: str, name: str, reg_type: int, raw: bytes, image: bytes | None = None
                 ) -> bytes:
    editor = HiveEditor.from_bytes(image or new_store())
    editor.create_key(f"Objects\\{obj}\\Elements\\{name}")
    editor.set_value(f"Objects\\{obj}\\Elements\\{name}", "Element", reg_type, raw)
    return editor.to_bytes()


def renamed(image: bytes, placeholder: str, name: str) -> bytes:
    """`image` with a key name's bytes replaced in place (a name no editor would write)."""
    out = bytearray(image)
    old, new = placeholder.encode("latin-1"), name.encode("latin-1")
    assert len(old) == len(new) and out.count(old) == 1
    pos = out.find(old)
    out[pos:pos + len(old)] = new
    return bytes(out)


@pytest.mark.parametrize("code, reg_type, raw, fid", [
    (TESTSIGNING, REG_DWORD, b"\x01\0\0\0", "bcd.test-signing"),
    (TESTSIGNING, REG_QWORD, b"\x01" + bytes(7), "bcd.test-signing"),
    (TESTSIGNING, REG_BINARY, b"\x01" + bytes(7), "bcd.test-signing"),
    (TESTSIGNING, REG_BINARY, b"\x02", "bcd.test-signing"),
    (TESTSIGNING, REG_SZ, "1\0".encode("utf-16-le"), "bcd.test-signing"),
    (NOINTEGRITYCHECKS, REG_DWORD, b"\xff\xff\xff\xff", "bcd.integrity-checks-disabled"),
    (RECOVERYENABLED, REG_DWORD, b"\0\0\0\0", "bcd.recovery-disabled"),
])
def test_a_setting_in_a_type_or_size_bcdedit_never_writes_is_still_found(code, reg_type, raw,
                                                                          fid):
    found = ids(with_element(LOADER, f"{code:08x}", reg_type, raw))
    assert found.get(fid) == "high"
    assert found.get("bcd.malformed-element") == "medium"


def test_an_element_with_no_bytes_is_malformed_but_claims_nothing():
    found = ids(with_element(LOADER, f"{TESTSIGNING:08x}", REG_BINARY, b""))
    assert found.get("bcd.malformed-element") == "medium" and "bcd.test-signing" not in found


@pytest.mark.parametrize("name", ["１６000049", "16000049 ", "0x16000049", "\u200b16000049"])
def test_an_element_key_not_named_in_hex_is_hidden_and_its_setting_read(name):
    found = ids(with_element(LOADER, name, REG_BINARY, b"\x01"))
    assert found.get("bcd.hidden-key") == "high"      # it holds testsigning Yes


@pytest.mark.parametrize("name", [
    LOADER.replace("1", "l", 1),                       # a lookalike letter
    LOADER[:-1] + "\u0435}",                           # Cyrillic "e" inside the braces
    BOOTMGR + "\u200b",                                # a zero-width space after it
])
def test_an_object_key_that_only_looks_like_a_guid_is_hidden(name):
    image = with_element(name, f"{TESTSIGNING:08x}", REG_BINARY, b"\x01")
    found = ids(image)
    assert found.get("bcd.hidden-key") == "high" and "bcd.test-signing" not in found


def test_object_and_element_keys_differing_only_in_case_are_both_examined():
    # {BOOTMGR} in capitals beside {bootmgr}, holding nointegritychecks: a strict reader
    # keeps the first copy it meets and never sees the second.
    placeholder = BOOTMGR.upper()[:-2] + "Q}"
    image = with_element(placeholder, f"{NOINTEGRITYCHECKS:08x}", REG_BINARY, b"\x01")
    image = renamed(image, placeholder, BOOTMGR.upper())
    store = BcdStore(Hive.from_bytes(image))
    assert [o.guid for o in store.objects()].count(BOOTMGR) == 1
    found = ids(image)
    assert found.get("bcd.hidden-key") == "high"
    assert "bcd.integrity-checks-disabled" not in found          # not the live object's
    # an element key twice, differing in case: the second copy holds the setting
    image = with_element(LOADER, f"{TESTSIGNING:08x}", REG_BINARY, b"\x00")
    image = with_element(LOADER, "1600004Q", REG_BINARY, b"\x01", image)
    image = renamed(image, "1600004Q", f"{TESTSIGNING:08X}")
    assert ids(image).get("bcd.hidden-key") == "high"


def _stamp_all(image: bytes, filetime: int, only: str | None = None) -> bytes:
    hive = Hive.from_bytes(image)
    out = bytearray(image)
    for key in hive.walk():
        if only is None or key.path.endswith(only):
            struct.pack_into("<Q", out, 4096 + key.offset + 8, filetime)
    return bytes(out)


@pytest.mark.parametrize("filetime, what", [
    (0, "zero"),
    (116444736000000000, "before 2000"),                # 1970-01-01
    (157766400000000000, "after this run's time"),      # 2100-12-30
    (0x7FFFFFFFFFFFFFFF, "after this run's time"),      # beyond year 9999
])
def test_timestamps_set_by_a_tool_are_an_anomaly(filetime, what):
    image = _stamp_all(new_store(), filetime, only=f"{TESTSIGNING:08x}"[:0] or "Elements")
    store = BcdStore(Hive.from_bytes(image))
    view = StoreView(store, store.hive)
    found = [f for f in key_findings(view, NOW) if f.id == "bcd.timestamp-anomaly"]
    assert len(found) == 1 and what in found[0].message and found[0].severity == "low"
    assert all(e.key.endswith("Elements") for e in found[0].evidence)


def test_no_real_store_has_key_findings(corpus):
    """Every store of the corpus (Microsoft's, bootice's, the tampered ones): these findings
    are about crafted keys, and none of them was crafted that way."""
    stores = [p for p in sorted((corpus / "bcd").iterdir()) if ".LOG" not in p.name.upper()]
    assert len(stores) > 20
    for path in stores:
        store = BcdStore(Hive.from_bytes(path.read_bytes(), strict=False))
        assert key_findings(StoreView(store, store.hive), NOW) == [], path.name


def test_crafted_names_are_escaped_in_text_and_csv_and_exact_in_json(tmp_path):
    marks = {"ZQZQ1": "\0\0\0\0\0", "ZQZQ2": "\r\r\r\r\r", "ZQZQ3": "\x1b[2Ke",
             "ZQZQ4": "\u202e".encode("utf-8").decode("latin-1") + "xx"}
    image = new_store()
    for mark in marks:
        image = with_element(LOADER[:-1] + mark + "}", f"{TESTSIGNING:08x}", REG_BINARY,
                             b"\x01", image)
    for mark, name in marks.items():
        image = renamed(image, mark, name)
    (tmp_path / "BCD").write_bytes(image)
    report = investigate(str(tmp_path / "BCD"), timeline=True, generated_at=NOW)
    text, csv = render_text(report), to_csv(report.timeline)
    for out in (text, csv):
        assert not any(c in out for c in "\0\r\x1b"), repr(out[:200])
    assert "\\x00\\x00" in text and "\\r\\r" in text and "\\x1b[2K" in text
    hidden = [f for f in report.findings if f.id == "bcd.hidden-key"]
    assert len(hidden) == 4 and all(f.severity == "high" for f in hidden)
    doc = json.loads(json.dumps(report.to_json()))
    keys = {e["key"] for f in doc["findings"] if f["id"] == "bcd.hidden-key"
            for e in f["evidence"]}
    assert f"Objects\\{LOADER[:-1]}\0\0\0\0\0}}" in keys        # JSON keeps the exact name
