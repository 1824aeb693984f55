"""regedit export: format details, and every corpus hive's export equals hivexregedit's."""

from __future__ import annotations

import re
import subprocess

import pytest

from bcdtool.regf.export import HEADER, export, value_lines
from bcdtool.regf.hive import Hive
from bcdtool.regf.values import REG_BINARY, REG_DWORD, REG_EXPAND_SZ, REG_MULTI_SZ, REG_SZ
from tests.helpers.common import corpus_hives, need_tool

HIVES = corpus_hives()
NO_LOGS = {"SECURITY-dirty-nolog"}
HIVEX_REFUSES = {"yarp-System_Delta"}
_VALUE = re.compile(r'^(@|"(?:[^"\\]|\\.)*")=(.*)$')


def parse_reg(text: str) -> dict[str, dict[str, tuple[int, bytes]]]:
    """A minimal .reg reader (both our forms and hivexregedit's): path -> name -> (type, raw)."""
    text = re.sub(r"\\\r?\n\s*", "", text)
    model: dict[str, dict[str, tuple[int, bytes]]] = {}
    current: dict[str, tuple[int, bytes]] = {}
    lines = text.splitlines()
    assert lines[0] == HEADER
    for line in lines[1:]:
        if line.startswith("[") and line.endswith("]"):
            current = model.setdefault(line[2:-1], {})
            continue
        match = _VALUE.match(line)
        if not match:
            assert line == "", line
            continue
        name = "" if match.group(1) == "@" else re.sub(r"\\(.)", r"\1", match.group(1)[1:-1])
        data = match.group(2)
        if data.startswith("dword:"):
            current[name] = (REG_DWORD, int(data[6:], 16).to_bytes(4, "little"))
        elif data.startswith('"'):
            text_value = re.sub(r"\\(.)", r"\1", data[1:-1])
            current[name] = (REG_SZ, (text_value + "\0").encode("utf-16-le"))
        else:
            head, _, hexdata = data.partition(":")
            vtype = int(head[4:-1], 16) if head.startswith("hex(") else REG_BINARY
            current[name] = (vtype, bytes.fromhex(hexdata.replace(",", "")))
    return model


def _perl_text(output: bytes) -> str:
    lines = []
    for line in output.split(b"\n"):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(line.decode("latin-1"))
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("path", HIVES, ids=[p.name for p in HIVES])
def test_export_equals_hivexregedit_and_the_reader(path, tmp_path):
    hive = Hive.open(path, allow_dirty=path.name in NO_LOGS)
    ours = parse_reg(export(hive))
    model = {key.path: {v.name: (v.type, v.raw) for v in key.values()} for key in hive.walk()}
    assert ours == model
    if path.name in HIVEX_REFUSES:
        return
    tool = need_tool("hivexregedit")
    image = tmp_path / "hive"
    image.write_bytes(hive.data)
    run = subprocess.run([tool, "--export", str(image), "\\"], capture_output=True, timeout=120,
                         check=True)
    assert parse_reg(_perl_text(run.stdout)) == ours


def test_value_forms():
    assert value_lines("", REG_SZ, "a\"b\\c\0".encode("utf-16-le")) == ['@="a\\"b\\\\c"']
    assert value_lines("n", REG_DWORD, b"\x01\0\0\x80") == ['"n"=dword:80000001']
    assert value_lines("n", REG_DWORD, b"\x01") == ['"n"=hex(4):01']
    assert value_lines("n", REG_SZ, "x".encode("utf-16-le")) == ['"n"=hex(1):78,00']
    assert value_lines("n", REG_SZ, "a\nb\0".encode("utf-16-le"))[0].startswith('"n"=hex(1):')
    assert value_lines("n", REG_BINARY, b"") == ['"n"=hex:']
    assert value_lines("n", 0x10000001, b"\xab") == ['"n"=hex(10000001):ab']
    assert value_lines("n", REG_MULTI_SZ, b"a\0\0\0\0\0") == ['"n"=hex(7):61,00,00,00,00,00']


def test_long_hex_wraps_like_regedit():
    lines = value_lines("Path", REG_EXPAND_SZ, bytes(range(100)))
    assert all(len(line) <= 80 for line in lines)
    assert all(line.endswith(",\\") for line in lines[:-1])
    assert all(line.startswith("  ") for line in lines[1:])
    joined = "".join(line.rstrip("\\").strip() for line in lines)
    assert joined == '"Path"=hex(2):' + ",".join(f"{b:02x}" for b in range(100))


def test_subtree_export_and_prefix(corpus):
    hive = Hive.open(corpus / "bcd" / "empty-createstore.bcd")
    text = export(hive, hive.key("Description"), prefix="HKEY_LOCAL_MACHINE\\BCD00000000")
    assert text.splitlines() == [HEADER, "", "[HKEY_LOCAL_MACHINE\\BCD00000000\\Description]",
                                 '"KeyName"="BCD00000001"', ""]
    assert text.endswith("\r\n")
