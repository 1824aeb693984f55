"""`forensic --deleted`: keys and values carved from free cells and slack, on hives where the truth
is known (objects created with bcdtool's editor or hivex and deleted with hivex; deleted with
bcdtool's editor, which zeroes what it frees) and on the corpus."""

from __future__ import annotations

import json
import struct
import subprocess

from bcdtool.bcd.store import BcdStore
from bcdtool.ops.forensic import investigate
from bcdtool.regf.hive import Hive
from tests.helpers.common import need_tool
from tests.forensic.forensic_helpers import LOADER, bcdtool, edit, new_store

EVIL = "{deadbeef-0000-4000-8000-00000000abcd}"
ELEMENTS = {"description": "Evil loader", "path": "\\EFI\\evil\\evil.efi", "testsigning": "Yes",
            "loadoptions": "DISABLE_INTEGRITY_CHECKS"}


def _with_evil_object() -> bytes:
    store = BcdStore(Hive.from_bytes(new_store()))
    store.create_object(EVIL, 0x10200003)
    for name, value in ELEMENTS.items():
        store.set_element(EVIL, store.element_def(EVIL, name).code,
                          True if value == "Yes" else value)
    return store.to_bytes()


def _hivexsh(path, script: str) -> None:
    need_tool("hivexsh")
    run = subprocess.run(["hivexsh", "-w", str(path)], input=script, text=True,
                         capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr


def _recovered(report) -> dict[str, list]:
    out: dict[str, list] = {}
    for r in report.deleted:
        out.setdefault(r.kind, []).append(r)
    return out


def test_object_deleted_by_hivex_is_recovered_with_its_elements(tmp_path):
    path = tmp_path / "BCD"
    path.write_bytes(_with_evil_object())
    _hivexsh(path, f"cd \\Objects\\{EVIL}\ndel\ncommit\n")
    report = investigate(str(path), deleted=True, generated_at="T")
    assert not BcdStore(Hive.open(path)).has(EVIL)
    found = _recovered(report)
    keys = {r.path for r in found["key"]}
    assert f"Objects\\{EVIL}" in keys and f"Objects\\{EVIL}\\Elements" in keys
    values = {(r.label.split(" element ")[-1].split(" (")[0], r.value) for r in found["value"]
              if r.path.startswith(f"Objects\\{EVIL}\\Elements\\")}
    assert values == set(ELEMENTS.items())
    types = [r.value for r in found["value"] if r.name == "Type" and EVIL in r.path]
    assert types == ["REG_DWORD 270532611"]        # 0x10200003, an OS loader
    for r in report.deleted:
        assert r.to_json()["recovered"] is True
    # deleted data never becomes a live finding; it gets findings of its own, marked recovered
    about_evil = [f for f in report.findings if EVIL in [e.guid for e in f.evidence]]
    assert sorted((f.id, f.severity, f.evidence[0].element) for f in about_evil) == [
        ("bcd.deleted-setting", "medium", "loadoptions"),
        ("bcd.deleted-setting", "medium", "testsigning")]
    assert all(f.message.startswith("RECOVERED from free space") for f in about_evil)
    assert not [f for f in investigate(str(path)).findings if f.id == "bcd.deleted-setting"]


def test_key_added_and_deleted_by_hivex(tmp_path):
    path = tmp_path / "BCD"
    path.write_bytes(new_store())
    guid = "{0badc0de-1111-4222-8333-444455556666}"
    _hivexsh(path, f"cd \\Objects\nadd {guid}\ncd {guid}\nadd Elements\ncd Elements\n"
                   "add 12000004\ncd 12000004\nsetval 1\nElement\nstring:Backdoor\ncommit\n")
    assert Hive.open(path).key(f"Objects\\{guid}\\Elements\\12000004").value("Element").data \
        == "Backdoor"
    _hivexsh(path, f"cd \\Objects\\{guid}\ndel\ncommit\n")
    report = investigate(str(path), deleted=True)
    rows = [(r.kind, r.path, r.name, r.value) for r in report.deleted if guid in r.path]
    assert ("value", f"Objects\\{guid}\\Elements\\12000004", "Element", "Backdoor") in rows
    assert ("key", f"Objects\\{guid}", None, None) in rows


def test_bcdtool_editor_zeroes_what_it_deletes(tmp_path):
    image = _with_evil_object()
    store = BcdStore(Hive.from_bytes(image))
    store.delete_object(EVIL)
    path = tmp_path / "BCD"
    path.write_bytes(store.to_bytes())
    report = investigate(str(path), deleted=True)
    assert [r for r in report.deleted if EVIL in r.path or "Evil" in (r.value or "")] == []
    raw = path.read_bytes()
    assert b"E\0v\0i\0l\0" not in raw and EVIL[1:9].encode("utf-16-le") not in raw


def test_slack_after_a_shortened_value(tmp_path):
    """Windows reuses a value's data cell when the new data fits (regf.md §11.3): the tail of the
    old data stays.  Reproduce that by shortening the vk's data size in place."""
    image = bytearray(edit(new_store(), (LOADER, "description", "Windows Server backdoor")))
    hive = Hive.from_bytes(bytes(image))
    key = hive.key(f"Objects\\{LOADER}\\Elements\\12000004")
    value = key.value("Element")
    short = "Windows".encode("utf-16-le") + b"\0\0"
    at = 4096 + value.data_offset + 4
    image[at:at + len(short)] = short
    struct.pack_into("<I", image, 4096 + value.offset + 4 + 4, len(short))
    path = tmp_path / "BCD"
    path.write_bytes(bytes(image))
    report = investigate(str(path), deleted=True)
    assert BcdStore(Hive.open(path)).get(LOADER).description == "Windows"
    (slack,) = _recovered(report)["slack"]
    assert slack.path == f"Objects\\{LOADER}\\Elements\\12000004" and "backdoor" in slack.value
    assert "description" in slack.label


def test_corpus_deleted_firmware_entries(corpus):
    report = investigate(str(corpus / "bcd" / "win11-uefi-installed-2025.bcd"), deleted=True)
    values = [r.value for r in report.deleted if r.kind == "value"]
    assert "REG_SZ 'Mac OS X'" in values      # the entries --history also shows, from LOG1
    keys = [r.label for r in report.deleted if r.kind == "key"]
    assert any("hiberboot" in label for label in keys)


def test_deleted_json_is_apart_from_live_data(corpus):
    run = bcdtool("forensic", corpus / "bcd" / "win10-uefi-installed-crufty-2016.bcd",
                  "--deleted", "--json")
    doc = json.loads(run.stdout)
    assert doc["deleted"] and all(r["recovered"] is True for r in doc["deleted"])
    assert all("recovered" not in f for f in doc["findings"])
