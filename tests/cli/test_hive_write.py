"""`bcdtool hive set/rm/new` as a user runs them, checked with python-registry and hivexregedit."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from functools import partial

import pytest

from tests.helpers.common import need_tool, run_process, sha
from tests.regf.editor_oracles import ExpectedHive, assert_all_readers, ours

from bcdtool.regf.editor import HiveEditor


@pytest.fixture(autouse=True)
def _hivex():
    need_tool("hivexregedit")   # the independent reader of every write here


#: `bcdtool ARGS` as a process, output as bytes (hive export writes exact encodings).
bcdtool = partial(run_process, text=False)


def _seq(data: bytes) -> tuple[int, int]:
    return struct.unpack_from("<II", data, 4)


def test_new_then_set_every_type_then_rm(tmp_path):
    hive = tmp_path / "new.hiv"
    run = bcdtool("hive", "new", hive)
    assert run.returncode == 0, run.stderr
    expected = ExpectedHive({(): []})
    cases = [("REG_SZ", ["hello wörld"], 1, "hello wörld\0".encode("utf-16-le")),
             ("REG_EXPAND_SZ", ["%SystemRoot%\\x"], 2, "%SystemRoot%\\x\0".encode("utf-16-le")),
             ("REG_BINARY", ["01 02,ff"], 3, b"\x01\x02\xff"),
             ("reg_dword", ["0x10"], 4, b"\x10\0\0\0"),
             ("REG_DWORD", ["4294967295"], 4, b"\xff\xff\xff\xff"),
             ("REG_QWORD", ["123456789012"], 11, (123456789012).to_bytes(8, "little")),
             ("REG_MULTI_SZ", ["a", "bc"], 7, "a\0bc\0\0".encode("utf-16-le")),
             ("REG_NONE", [], 0, b"")]
    for i, (type_name, data, code, raw) in enumerate(cases):
        key = "Soft\\Ware" if i % 2 else "Soft"
        name = f"v{i}" if i else ""
        args = [a for d in data for a in ("--data", d)]
        run = bcdtool("hive", "set", hive, key, name, "--type", type_name, *args)
        assert run.returncode == 0, run.stderr
        expected.create_key(tuple(key.split("\\")))
        expected.set_value(tuple(key.split("\\")), name, code, raw)
    image = hive.read_bytes()
    assert _seq(image)[0] == _seq(image)[1] > 1
    assert_all_readers(image, expected.model(), tmp_path)
    assert bcdtool("hive", "rm", hive, "Soft", "v2").returncode == 0
    expected.delete_value(("Soft",), "v2")
    assert bcdtool("hive", "rm", hive, "soft\\WARE").returncode == 0
    expected.delete_key(("Soft", "Ware"))
    assert_all_readers(hive.read_bytes(), expected.model(), tmp_path)
    run = bcdtool("hive", "check", hive)
    assert run.returncode == 0 and b"0 error(s)" in run.stdout


def test_new_refuses_an_existing_file_and_dry_run_creates_nothing(tmp_path):
    hive = tmp_path / "x.hiv"
    run = bcdtool("hive", "new", hive, "--dry-run")
    assert run.returncode == 0 and not hive.exists()
    assert bcdtool("hive", "new", hive, "--minor", "3").returncode == 0
    before = hive.read_bytes()
    assert struct.unpack_from("<I", before, 24)[0] == 3
    run = bcdtool("hive", "new", hive)
    assert run.returncode == 24 and len(run.stderr.splitlines()) == 1
    assert hive.read_bytes() == before


def test_dry_run_and_backup_on_a_corpus_store(corpus, tmp_path):
    store = tmp_path / "BCD"
    shutil.copyfile(corpus / "bcd" / "win10-uefi-installed-systemd-boot.bcd", store)
    original = store.read_bytes()
    digest = sha(original)
    key = "Objects\\{733b62e5-f608-11eb-825c-c112f60133ab}\\Elements\\16000020"
    run = bcdtool("hive", "set", store, key, "Element", "--type", "REG_BINARY", "--data", "01",
                  "--dry-run", "--backup", tmp_path / "never")
    assert run.returncode == 0, run.stderr
    assert b"nothing written" in run.stdout and not (tmp_path / "never").exists()
    assert sha(store) == digest
    run = bcdtool("hive", "rm", store, key.rsplit("\\", 1)[0], "--dry-run", "--json")
    doc = json.loads(run.stdout)
    plan = doc["write"]
    assert doc["changes"] == [{"action": "delete", "key": key.rsplit("\\", 1)[0], "value": None}]
    assert run.returncode == 0 and doc["dry_run"] and plan["sha256_before"] == digest
    assert plan["plan"] and plan["plan"][0]["offset"] == 0 and plan["size"] == len(original)
    assert sha(store) == digest
    run = bcdtool("hive", "set", store, key, "Element", "--type", "REG_BINARY", "--data", "01",
                  "--backup", tmp_path / "BCD.bak")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "BCD.bak").read_bytes() == original
    written = store.read_bytes()
    assert len(written) == len(original)      # the edit fits the store's own slack
    assert _seq(written) == (_seq(original)[0] + 1,) * 2
    expected = ExpectedHive(ours(original))
    expected.create_key(tuple(key.split("\\")))
    expected.set_value(tuple(key.split("\\")), "Element", 3, b"\x01")
    assert_all_readers(written, expected.model(), tmp_path, original=original)


@pytest.mark.parametrize("args,code", [
    (["set", "K", "v", "--type", "REG_DWORD", "--data", "zz"], 24),
    (["set", "K", "v", "--type", "REG_DWORD", "--data", "1", "--data", "2"], 24),
    (["set", "K", "v", "--type", "REG_QWORD", "--data", "-1"], 24),
    (["set", "K", "v", "--type", "REG_BINARY", "--data", "0g"], 24),
    (["set", "K", "v", "--type", "REG_SZ"], 24),
    (["set", "K\\\\x", "v", "--type", "REG_SZ", "--data", "s"], 24),
    (["rm", "Missing"], 15),
    (["rm", "Present", "missing-value"], 15),
    (["rm", ""], 24),
])
def test_bad_requests_change_nothing(tmp_path, args, code):
    hive = tmp_path / "h.hiv"
    editor = HiveEditor.new()
    editor.create_key("Present")
    editor.set_value("Present", "x", 4, b"\1\0\0\0")
    hive.write_bytes(editor.to_bytes())
    before = hive.read_bytes()
    run = bcdtool("hive", args[0], hive, *args[1:])
    assert run.returncode == code, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and b"Traceback" not in run.stderr
    assert hive.read_bytes() == before


def _mcopy_bcd(disk) -> bytes:
    """The ESP's BCD as mtools (an independent FAT reader) reads it from the raw image."""
    part = disk.bcd_part
    return subprocess.run(["mcopy", "-n", "-i", f"{disk.path}@@{part.start}",
                           "::/" + disk.bcd_path, "-"], capture_output=True, check=True).stdout


@pytest.mark.parametrize("filler", [0, 20000])
def test_set_inside_a_disk_image_keeps_the_file_size(corpus, tmp_path, filler):
    """In place inside a FAT32 ESP: the same file size always, compactly rebuilt if needed."""
    need_tool("mcopy")
    from fixtures import images

    store = corpus / "bcd" / "win10-uefi-installed-crufty-2016.bcd"
    original = store.read_bytes()
    disk = images.build_esp_disk(tmp_path / "esp.img", original)
    size = disk.path.stat().st_size
    key = "Objects\\{9dea862c-5cdd-4e70-acc1-f32b344d4795}\\Elements\\16000020"
    data = "01" * max(filler, 1)
    run = bcdtool("hive", "set", disk.path, key, "Element", "--type", "REG_BINARY",
                  "--data", data)
    assert run.returncode == 0, run.stderr
    assert disk.path.stat().st_size == size
    written = _mcopy_bcd(disk)
    assert len(written) == len(original)
    editor = HiveEditor.from_bytes(original)
    editor.create_key(key)
    editor.set_value(key, "Element", 3, bytes.fromhex(data))
    assert (len(editor.to_bytes()) > len(original)) == bool(filler)   # filler: rebuilt
    expected = ExpectedHive(ours(original))
    expected.create_key(tuple(key.split("\\")))
    expected.set_value(tuple(key.split("\\")), "Element", 3, bytes.fromhex(data))
    assert_all_readers(written, expected.model(), tmp_path, original=original)


def test_set_on_a_dirty_hive_replays_its_logs_first(corpus, tmp_path):
    """The edit lands on Windows' recovered state; the logs are made harmless."""
    for suffix in ("", ".LOG1", ".LOG2"):
        shutil.copyfile(corpus / "hives" / f"yarp-NewDirtyHive{suffix}",
                        tmp_path / f"NewDirtyHive{suffix}")
    hive = tmp_path / "NewDirtyHive"
    run = bcdtool("hive", "set", hive, "Key3\\Added", "v", "--type", "REG_SZ", "--data", "x")
    assert run.returncode == 0, run.stderr
    assert b"note" in run.stderr                      # recovery is announced
    recovered = (corpus / "hives" / "yarp-NewDirtyHive-recovered-by-win10").read_bytes()
    expected = ExpectedHive(ours(recovered))
    expected.create_key(("Key3", "Added"))
    expected.set_value(("Key3", "Added"), "v", 1, "x\0".encode("utf-16-le"))
    written = hive.read_bytes()
    assert _seq(written)[0] == _seq(written)[1]
    assert_all_readers(written, expected.model(), tmp_path, original=recovered)
    for log in ("NewDirtyHive.LOG1", "NewDirtyHive.LOG2"):
        assert not any((tmp_path / log).read_bytes()[:512])
