"""`bcdtool hive` on what Windows leaves behind: names no encoder can print, Windows' case rules,
dirty hives without logs, damaged hives, files that are not hives."""

from __future__ import annotations

import json
import struct


from tests.helpers.common import run_cli as run, run_process

from bcdtool.regf.checksums import regf_checksum
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.hive import Hive


def hive_with(tmp_path, key: str, value: str):
    editor = HiveEditor.new(5)
    editor.create_key(key)
    editor.set_value(key, value, 1, "x\0".encode("utf-16-le"))
    path = tmp_path / "names.hiv"
    path.write_bytes(editor.to_bytes())
    return path


def test_unprintable_names_print_escaped_in_text_and_json(tmp_path, capsys):
    path = hive_with(tmp_path, "a\ud800b", "line\r\nbreak")
    code, out, _ = run(capsys, "hive", "ls", path)
    assert code == 0 and out == "a\\uD800b\\\n"
    code, out, _ = run(capsys, "hive", "ls", path, "a\ud800b")
    assert code == 0 and out.startswith("line\\u000D\\u000Abreak\tREG_SZ\tx")
    code, out, _ = run(capsys, "hive", "ls", "--json", path, "a\ud800b")
    doc = json.loads(out)
    assert doc["name"] == "a\\uD800b"
    assert doc["name_utf16le"] == "a\ud800b".encode("utf-16-le", "surrogatepass").hex()
    assert doc["values"][0]["name"] == "line\\u000D\\u000Abreak"
    assert "name_utf16le" not in doc["values"][0] or \
        bytes.fromhex(doc["values"][0]["name_utf16le"]).decode("utf-16-le") == "line\r\nbreak"


def test_reg_export_refuses_names_a_reg_file_cannot_hold(tmp_path, capsys):
    path = hive_with(tmp_path, "K", "evil\r\n[HKEY_LOCAL_MACHINE\\injected]")
    code, out, err = run(capsys, "hive", "export", path)
    assert code == 17 and "line break" in err
    assert "[HKEY_LOCAL_MACHINE\\injected]" not in out
    utf16 = run_process("hive", "export", "--utf16", path, text=False)
    assert utf16.returncode == 17
    assert "[HKEY_LOCAL_MACHINE\\injected]".encode("utf-16-le") not in utf16.stdout
    surrogate = hive_with(tmp_path, "a\ud800b", "v")
    code, _, err = run(capsys, "hive", "export", surrogate)
    assert code == 17 and "--utf16" in err
    exact = run_process("hive", "export", "--utf16", surrogate, text=False)
    assert exact.returncode == 0
    assert "[\\a\ud800b]".encode("utf-16-le", "surrogatepass") in exact.stdout


def test_greek_names_windows_sees_as_one_make_one_key(tmp_path, capsys):
    path = tmp_path / "g.hiv"
    assert run(capsys, "hive", "new", path)[0] == 0
    for name in ("\u1f80x", "\u1f88X"):
        code, _, err = run(capsys, "hive", "set", path, name, "v", "--type", "REG_DWORD",
                           "--data", "1")
        assert code == 0, err
    hive = Hive.open(path)
    assert [k.name for k in hive.root.subkeys()] == ["\u1f80x"]
    assert hive.key("\u1f88X").value("v").data == 1


def test_dirty_hive_without_logs(corpus, capsys):
    path = corpus / "hives" / "SECURITY-dirty-nolog"
    code, _, err = run(capsys, "hive", "ls", path)
    assert code == 14 and "--allow-dirty" in err
    assert "BCD" not in err and "undo" not in err and "store" not in err
    code, out, err = run(capsys, "hive", "ls", "--allow-dirty", path)
    assert code == 0 and out and "not included" in err
    assert "BCD" not in err and "undo" not in err


def test_damaged_hive_export_is_never_silently_partial(tmp_path, capsys):
    editor = HiveEditor.new(5)
    for name in ("A", "B", "C"):
        editor.create_key(name)
        editor.set_value(name, "v", 4, b"\1\0\0\0")
    data = bytearray(editor.to_bytes())
    key = Hive.from_bytes(bytes(data)).key("B")
    struct.pack_into("<I", data, 4096 + key.offset + 4 + 0x28, 0x7FFFFFF0)  # value list: nowhere
    struct.pack_into("<I", data, 508, regf_checksum(bytes(data[:508])))
    path = tmp_path / "damaged.hiv"
    path.write_bytes(bytes(data))
    code, out, _ = run(capsys, "hive", "export", path)
    assert code == 13 and out.rstrip().splitlines()[-1].startswith("; bcdtool: EXPORT INCOMPLETE")
    code, out, err = run(capsys, "hive", "export", "--best-effort", path)
    assert code == 3
    assert "; bcdtool: UNREADABLE values of key 'B'" in out and "[\\C]" in out
    assert "unreadable" in err


def test_a_windows_executable_is_not_taken_for_a_disk(tmp_path, capsys):
    head = bytearray(512)
    head[:2] = b"MZ"
    struct.pack_into("<I", head, 0x3C, 0x80)
    head[0x80:0x84] = b"PE\0\0"
    path = tmp_path / "winload.exe"
    path.write_bytes(bytes(head) + bytes(8192))
    code, _, err = run(capsys, "hive", "ls", path)
    assert code == 11 and "executable" in err


def test_edits_under_a_key_with_an_unpaired_surrogate_succeed(tmp_path, capsys):
    path = hive_with(tmp_path, "a\ud800b", "v")
    code, _, err = run(capsys, "hive", "set", path, "a\ud800b\\c\udc00", "w", "--type",
                       "REG_QWORD", "--data", "5")
    assert code == 0, err
    assert Hive.open(path).key("a\ud800b\\c\udc00").value("w").data == 5


def test_check_does_not_warn_on_trailing_free_bins(tmp_path, capsys):
    editor = HiveEditor.new(5)
    editor.create_key("K")
    editor.set_value("K", "big", 3, bytes(20000))     # grows the hive by new bins ...
    editor.delete_value("K", "big")                   # ... which are entirely free again
    path = tmp_path / "free.hiv"
    path.write_bytes(editor.to_bytes())
    hive = Hive.open(path)
    last_start, last_size = hive.cells.bins[-1]
    assert hive.cells.free.get(last_start + 32) == last_size - 32
    code, out, _ = run(capsys, "hive", "check", path)
    assert code == 0 and out.strip().endswith("0 error(s), 0 warning(s)")
