"""`bcdtool hive ls/get/export/check` as a user runs them (subprocess), against python-registry."""

from __future__ import annotations

import json
import shutil
import struct
from functools import partial

import pytest

from tests.helpers.common import run_process
from Registry import Registry

from bcdtool.regf import layout as L
from bcdtool.regf.export import export
from bcdtool.regf.hive import Hive

STORE = "bcd/win10-uefi-installed-systemd-boot.bcd"
LOADER = "Objects\\{733b62e5-f608-11eb-825c-c112f60133ab}"


#: `bcdtool ARGS` as a process, output as bytes (exports are compared byte for byte).
bcdtool = partial(run_process, text=False)


def test_ls_json_matches_python_registry(corpus):
    run = bcdtool("hive", "ls", str(corpus / STORE), LOADER + "\\elements", "--json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    pyreg = Registry.Registry(str(corpus / STORE)).open(LOADER + "\\Elements")
    assert [s["name"] for s in doc["subkeys"]] == [k.name() for k in pyreg.subkeys()]
    assert doc["path"] == LOADER + "\\Elements" and doc["values"] == []


def test_ls_text(corpus):
    run = bcdtool("hive", "ls", str(corpus / STORE))
    assert run.returncode == 0 and run.stdout.decode().splitlines() == ["Description\\",
                                                                        "Objects\\"]
    run = bcdtool("hive", "ls", str(corpus / STORE), "Description")
    assert run.stdout.decode().splitlines()[0].startswith("KeyName\tREG_SZ\tBCD0000000")


def test_get_value(corpus):
    key = LOADER + "\\Elements\\12000004"
    run = bcdtool("hive", "get", str(corpus / STORE), key, "Element", "--json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    pyreg = Registry.Registry(str(corpus / STORE)).open(key).value("Element")
    assert bytes.fromhex(doc["raw"]) == pyreg.raw_data()
    assert doc["type"] == "REG_SZ" and doc["data"] == "Windows 10"
    text = bcdtool("hive", "get", str(corpus / STORE), key, "element")
    assert text.stdout.decode().splitlines() == ["REG_SZ", "Windows 10"]
    dword = bcdtool("hive", "get", str(corpus / STORE), "Objects\\{733b62e5-f608-11eb-825c-"
                    "c112f60133ab}\\Description", "Type")
    assert dword.stdout.decode().splitlines() == ["REG_DWORD", "0x10200003 (270532611)"]


def test_missing_key_is_one_line_and_exit_15(corpus):
    run = bcdtool("hive", "get", str(corpus / STORE), "Objects\\nope", "x")
    assert run.returncode == 15 and run.stdout == b""
    assert run.stderr.decode().count("\n") == 1 and "no such key" in run.stderr.decode()


def test_export_equals_library_export(corpus):
    run = bcdtool("hive", "export", str(corpus / STORE), "Objects")
    assert run.returncode == 0, run.stderr
    hive = Hive.open(corpus / STORE)
    assert run.stdout.decode() == export(hive, hive.key("Objects"))
    utf16 = bcdtool("hive", "export", str(corpus / STORE), "--utf16")
    assert utf16.stdout[:2] == b"\xff\xfe"
    assert utf16.stdout[2:].decode("utf-16-le") == export(hive)


def test_check_clean_dirty_and_broken(corpus, tmp_path):
    clean = bcdtool("hive", "check", str(corpus / STORE))
    assert clean.returncode == 0 and clean.stdout.decode().endswith("0 error(s), 0 warning(s)\n")
    dirty = bcdtool("hive", "check", str(corpus / "hives" / "SECURITY-dirty-nolog"), "--json")
    assert dirty.returncode == 3
    doc = json.loads(dirty.stdout)
    assert doc["errors"] == 1 and doc["findings"][0]["code"] == "dirty"
    assert "dirty" in dirty.stderr.decode()
    # Broken tiling: the reader refuses the hive, check still lists what is wrong.
    broken = tmp_path / "broken.bcd"
    shutil.copy(corpus / STORE, broken)
    hive = Hive.open(broken)
    cell = hive.key("Description").value("KeyName").offset
    with open(broken, "r+b") as handle:
        handle.seek(L.BASE_BLOCK_SIZE + cell)
        handle.write(struct.pack("<i", 0))
    assert bcdtool("hive", "ls", str(broken)).returncode == 13
    run = bcdtool("hive", "check", str(broken), "--json")
    assert run.returncode == 3
    codes = {f["code"] for f in json.loads(run.stdout)["findings"]}
    assert "tiling" in codes


def test_recovery_notice_goes_to_stderr(corpus):
    run = bcdtool("hive", "ls", str(corpus / "hives" / "yarp-NewDirtyHive"), "--json")
    assert run.returncode == 0
    assert "recovered" in run.stderr.decode()
    assert "Key3" in [s["name"] for s in json.loads(run.stdout)["subkeys"]]


def test_not_a_hive(tmp_path):
    target = tmp_path / "x.bcd"
    target.write_bytes(b"regf" + bytes(100))
    run = bcdtool("hive", "check", str(target))
    assert run.returncode in (11, 13, 14) and run.stderr.decode().startswith("bcdtool: error:")


@pytest.mark.parametrize("command", ["ls", "get", "export", "check"])
def test_every_read_command_has_help(command):
    run = bcdtool("hive", command, "--help")
    assert run.returncode == 0 and b"Usage:" in run.stdout
