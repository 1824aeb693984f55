"""The one recipe runner: open → stage → changes → size policy → --backup → commit → audit, on a
store file and inside a disk image, read back with python-registry and mtools."""

from __future__ import annotations

import json

import pytest

from bcdtool.bcd.elements import E
from bcdtool.errors import ReadOnlyError
from bcdtool.ops import recipe
from bcdtool.regf.values import REG_DWORD, encode_value
from tests.helpers.common import sha
from tests.ops.ops_helpers import (BOOTMGR, build_windows_disk, element_raw, new_store, registry,
                                   store_bytes)


def _timeout(seconds: int):
    def stage(store, notices):
        store.set_element(store.resolve("{bootmgr}"), E.TIMEOUT, seconds)
        notices.append("staged")
    return stage


@pytest.fixture
def store_file(tmp_path):
    path = tmp_path / "BCD"
    path.write_bytes(new_store("uefi"))
    return path


def test_store_recipe_writes_journals_audits_and_backs_up(store_file, tmp_path, state):
    original = store_file.read_bytes()
    opts = recipe.WriteOptions(backup=str(tmp_path / "orig.bcd"),
                               audit_log=str(tmp_path / "audit.jsonl"))
    result = recipe.run_on_store(str(store_file), "test timeout", _timeout(9), opts)
    assert [(c["element"], c["new"]) for c in result.changes] == [("timeout", "9")]
    assert result.journal and result.write["verified"] and "staged" in result.notices
    assert (tmp_path / "orig.bcd").read_bytes() == original
    raw = element_raw(registry(store_file.read_bytes()), BOOTMGR, "25000004")
    assert raw == (9).to_bytes(8, "little")
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert len(audit) == 1 and audit[0]["journal"] == result.journal
    doc = result.to_json()
    assert doc["operation"] == "test timeout" and doc["location"]["kind"] == "file"


def test_nothing_staged_writes_nothing(store_file, state):
    digest = sha(store_file)
    result = recipe.run_on_store(str(store_file), "noop", lambda store, notes: None,
                                 recipe.WriteOptions())
    assert result.changes == [] and result.journal is None and result.write is None
    assert sha(store_file) == digest


def test_dry_run_and_read_only(store_file, tmp_path, state):
    digest = sha(store_file)
    dry = recipe.run_on_store(str(store_file), "t", _timeout(3),
                              recipe.WriteOptions(dry_run=True, backup=str(tmp_path / "b")))
    assert dry.changes and dry.journal is None and dry.write["dry_run"]
    assert not (tmp_path / "b").exists() and sha(store_file) == digest
    with pytest.raises(ReadOnlyError):
        recipe.run_on_store(str(store_file), "t", _timeout(3), recipe.WriteOptions(read_only=True))
    assert sha(store_file) == digest


def test_hive_recipe(tmp_path, state):
    from bcdtool.regf.editor import HiveEditor

    path = tmp_path / "hive"
    path.write_bytes(HiveEditor.new(5, name="hive").to_bytes())

    def stage(hive, notices):
        editor = HiveEditor(hive)
        editor.create_key("A\\B")
        editor.set_value("A\\B", "N", REG_DWORD, encode_value(REG_DWORD, 7))
        return editor, [{"key": "A\\B", "value": "N", "new": 7}]

    from bcdtool.locate import open_hive

    result = recipe.run_on_hive(
        lambda read_only: open_hive(str(path), read_only=read_only, kind="hive"), "set N", stage,
        recipe.WriteOptions())
    assert result.journal and result.changes == [{"key": "A\\B", "value": "N", "new": 7}]
    value = registry(path.read_bytes()).open("A\\B").value("N")
    assert value.value() == 7


@pytest.mark.parametrize("kind, keeps", [("file", False), ("directory", False),
                                         ("guestfs", False), ("image", True), ("device", True)])
def test_one_size_policy(kind, keeps):
    assert recipe.keeps_size({"kind": kind}) is keeps


def test_inside_an_image_the_store_keeps_its_size(tmp_path, state):
    disk = build_windows_disk("uefi", tmp_path / "disk.img")
    before = store_bytes(disk.path, disk, tmp_path)
    result = recipe.run_on_store(str(disk.path), "t", _timeout(4), recipe.WriteOptions())
    after = store_bytes(disk.path, disk, tmp_path)             # read by mtools
    assert result.journal and len(after) == len(before)
    assert element_raw(registry(after), BOOTMGR, "25000004") == (4).to_bytes(8, "little")
