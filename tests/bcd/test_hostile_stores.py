"""Hostile stores, shown truthfully: objects of unexpected types (a Type that is no REG_DWORD, a
type no Windows writes), element codes outside the element table and values of the wrong
registry type, strings with terminal escapes, inherit chains that loop or run thousands deep,
and lists naming entries that are not there.  `/enum`, `enum --json`, `doctor`, `forensic` and
`/set` finish with their usual exit code, no traceback, and print what is there as bcdedit
prints it (`custom:XXXXXXXX`, `<invalid …>`)."""

from __future__ import annotations

import json
import uuid

import pytest

from bcdtool.bcd import enum
from bcdtool.bcd.store import BcdStore
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.hive import Hive
from bcdtool.regf.values import REG_BINARY, REG_DWORD, REG_MULTI_SZ, REG_SZ
from tests.conftest import CORPUS
from tests.helpers.common import run_cli

# doctor and forensic walk a thousand-object store here: slow for make check's budget
pytestmark = pytest.mark.slow

LOADER = "{99066a2d-6dcc-11eb-9378-f32123128c9c}"
BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
ODD_TYPE = "{11111111-1111-1111-1111-111111111111}"
TEXT_TYPE = "{22222222-2222-2222-2222-222222222222}"
LOOP_A = "{33333333-3333-3333-3333-333333333333}"
LOOP_B = "{44444444-4444-4444-4444-444444444444}"
MISSING = "{deadbeef-0000-0000-0000-000000000000}"
CHAIN = 1000


def _u(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def _object(ed: HiveEditor, guid: str, vtype: int, type_raw: bytes) -> None:
    ed.create_key(f"Objects\\{guid}")
    ed.create_key(f"Objects\\{guid}\\Description")
    ed.set_value(f"Objects\\{guid}\\Description", "Type", vtype, type_raw)
    ed.create_key(f"Objects\\{guid}\\Elements")


def _element(ed: HiveEditor, guid: str, code: str, vtype: int, raw: bytes) -> None:
    ed.create_key(f"Objects\\{guid}\\Elements\\{code}")
    ed.set_value(f"Objects\\{guid}\\Elements\\{code}", "Element", vtype, raw)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A Windows-written store with every hostile shape added (written by our editor; the
    reader under test only ever sees the bytes)."""
    source = CORPUS / "bcd" / "win10-bios-installed-sysreserved.bcd"
    if not source.is_file():
        pytest.skip("../shared/corpus is absent")
    ed = HiveEditor.from_bytes(source.read_bytes())
    for code, vtype, raw in [
            ("21abcdef", REG_BINARY, b"\1\2\3"),               # a device of no known layout
            ("1f000001", REG_BINARY, b"zz"),                    # format 0xF: no format at all
            ("250000f8", REG_SZ, _u("notanint")),               # an integer as text
            ("260000f9", REG_BINARY, b"\1"),                    # unknown to the table
            ("250001ff", REG_BINARY, (5).to_bytes(8, "little")),
            ("26000010", REG_SZ, _u("yes")),                    # a boolean as text
            ("12000004", REG_SZ, _u("Windows\x1b[2J\x07\nrm -rf")),  # terminal escapes
    ]:
        _element(ed, LOADER, code, vtype, raw)
    _object(ed, ODD_TYPE, REG_DWORD, (0x7777777).to_bytes(4, "little"))
    _element(ed, ODD_TYPE, "12000004", REG_SZ, _u("odd type"))
    _object(ed, TEXT_TYPE, REG_SZ, _u("10200003"))
    _object(ed, LOOP_A, REG_DWORD, (0x10200003).to_bytes(4, "little"))
    _object(ed, LOOP_B, REG_DWORD, (0x20200003).to_bytes(4, "little"))
    _element(ed, LOOP_A, "14000006", REG_MULTI_SZ, _u(LOOP_B) + b"\0\0")
    _element(ed, LOOP_B, "14000006", REG_MULTI_SZ, _u(LOOP_A) + _u(LOOP_B) + b"\0\0")
    previous = LOOP_A
    for i in range(CHAIN):
        guid = "{" + str(uuid.UUID(int=0x5000 + i)) + "}"
        _object(ed, guid, REG_DWORD, (0x20200003).to_bytes(4, "little"))
        _element(ed, guid, "14000006", REG_MULTI_SZ, _u(previous) + b"\0\0")
        previous = guid
    _element(ed, LOADER, "14000006", REG_MULTI_SZ, _u(previous) + _u(LOADER) + b"\0\0")
    _element(ed, BOOTMGR, "24000001", REG_MULTI_SZ,
             _u(LOADER) + _u(ODD_TYPE) + _u(MISSING) + _u("garbage") + b"\0\0")
    path = tmp_path_factory.mktemp("hostile") / "BCD"
    path.write_bytes(ed.to_bytes())
    return path


def test_enum_shows_what_is_there_as_bcdedit_prints_it(hostile):
    store = BcdStore(Hive.open(hostile))
    text = enum.render(store, store.objects())
    lines = text.splitlines()
    for line in ("custom:21abcdef         <invalid device: 010203>",
                 "custom:1f000001         <invalid data: 7a7a>",
                 "custom:260000f9         Yes",
                 "custom:250001ff         5",
                 "detecthal               <invalid boolean: 7900650073000000>",
                 "Object Type (07777777)",
                 "                        garbage",
                 f"                        {MISSING}"):
        assert line in lines, line
    # the description's escape sequence and line break cannot reach the terminal
    assert "description             Windows\\u001B[2J\\u0007\\u000Arm -rf" in lines
    assert "\x1b" not in text and "\x07" not in text
    assert any("Type value is REG_SZ, not REG_DWORD" in n for n in store.notices)


def test_inherit_loops_and_deep_chains_end(hostile):
    store = BcdStore(Hive.open(hostile))
    # an element no object in the chain has: the whole chain is walked once, loops cut
    assert store.effective(LOADER, 0x260000b0) is None
    assert store.effective(LOOP_A, 0x260000b0) is None
    source, _ = store.effective(LOADER, 0x14000006)
    assert source == LOADER


@pytest.mark.parametrize("args, code", [
    (["enum", "{store}", "--all"], 0),
    (["enum", "{store}", "--all", "-v"], 0),
    (["bcdedit", "/store", "{store}", "/enum", "all", "/v"], 0),
    (["bcdedit", "/store", "{store}", "/enum", ODD_TYPE], 0),
    (["doctor", "{store}"], 3),
    (["forensic", "{store}"], 3),
    (["serial-console", "status", "{store}"], 3),
    (["bcdedit", "--dry-run", "/store", "{store}", "/set", "{default}", "nx", "OptIn"], 0),
    (["bcdedit", "--dry-run", "/store", "{store}", "/displayorder", "{default}", "/addlast"], 0),
    (["bcdedit", "--dry-run", "/store", "{store}", "/delete", "{default}", "/cleanup"], 0),
    (["bcdedit", "/store", "{store}", "/set", ODD_TYPE, "nx", "OptIn"], 22),
])
def test_commands_finish_on_a_hostile_store(hostile, capsys, isolated_state, args, code):
    got, out, err = run_cli(capsys, *[str(hostile) if a == "{store}" else a for a in args])
    assert got == code, err
    assert "Traceback" not in err and "\x1b" not in out + err


def test_doctor_text_caps_evidence_json_keeps_it(hostile, capsys, isolated_state):
    """Thousands of tampered inherit lists: the text shows 20 lines a finding and says how
    many more; --json carries every one."""
    _, out, _ = run_cli(capsys, "doctor", hostile)
    assert "more (--json lists them all)" in out
    assert len(out.splitlines()) < 400
    _, out, _ = run_cli(capsys, "doctor", hostile, "--json")
    doc = json.loads(out)
    assert max(len(f["evidence"]) for f in doc["findings"]) > CHAIN


def test_enum_json_keeps_every_value(hostile, capsys, isolated_state):
    _, out, _ = run_cli(capsys, "enum", hostile, "--json")
    doc = json.loads(out)
    loader = next(o for o in doc["objects"] if o["guid"] == LOADER)
    by_code = {e["code"]: e for e in loader["elements"]}
    assert by_code["0x21abcdef"]["raw"] == "010203" and by_code["0x21abcdef"]["value"] is None
    assert by_code["0x12000004"]["value"] == "Windows\x1b[2J\x07\nrm -rf"
