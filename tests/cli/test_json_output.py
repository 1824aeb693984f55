"""One output seam, as a user sees it: every --json document names its schema, changes and
journal come back from commands that write, data on stdout and context on stderr."""

from __future__ import annotations

import json

import pytest
from Registry import Registry

from bcdtool.cli import output
from tests.helpers.common import assert_documented, run_cli, sha
from tests.ops.ops_helpers import new_store


@pytest.fixture
def store(tmp_path, isolated_state):
    path = tmp_path / "BCD"
    path.write_bytes(new_store("uefi"))
    return path


def test_bcdedit_json_has_changes_and_journal(store, capsys):
    code, out, err = run_cli(capsys, "bcdedit", "--json", "/store", store, "/timeout", "7")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "bcdtool.bcdedit/1" and doc["command"] == "timeout"
    assert [(c["element"], c["new"]) for c in doc["changes"]] == [("timeout", "7")]
    assert doc["journal"].endswith("journal.json") and doc["write"]["verified"] is True
    assert doc["lines"] == ["The operation completed successfully."]
    # an independent reader sees the write
    reg = Registry.Registry(str(store))
    bootmgr = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
    raw = reg.open(f"Objects\\{bootmgr}\\Elements\\25000004").value("Element").raw_data()
    assert raw == (7).to_bytes(8, "little")
    code, out, _ = run_cli(capsys, "undo", "--json", doc["journal"])
    assert code == 0 and json.loads(out)["schema"] == "bcdtool.undo/1"


def test_bcdedit_json_dry_run_writes_nothing(store, capsys):
    digest = sha(store)
    code, out, err = run_cli(capsys, "bcdedit", "--json", "--dry-run", "/store", store,
                             "/ems", "{default}", "on")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["dry_run"] is True and doc["journal"] is None
    assert [c["element"] for c in doc["changes"]] == ["ems"]
    assert sha(store) == digest


def test_bcdedit_json_of_a_read_only_command(store, capsys):
    code, out, _ = run_cli(capsys, "bcdedit", "--json", "/store", store, "/enum")
    doc = json.loads(out)
    assert code == 0 and doc["changes"] == [] and doc["journal"] is None
    assert any(line.startswith("Windows Boot Manager") for line in doc["lines"])


@pytest.mark.parametrize("argv", [
    ("serial-console", "status"), ("serial-console", "enable", "--dry-run"), ("enum",)])
def test_the_store_line_is_on_stderr(store, capsys, argv):
    code, out, err = run_cli(capsys, *argv, store)
    assert "store: " in err and "store: " not in out


@pytest.mark.parametrize("argv, schema", [
    (("serial-console", "status", "--json"), "bcdtool.serial-console.status/1"),
    (("serial-console", "enable", "--json", "--dry-run"), "bcdtool.serial-console.enable/1"),
    (("enum", "--json"), "bcdtool.enum/1"),
    (("hive", "ls", "--json"), "bcdtool.hive.ls/1"),
    (("hive", "check", "--json"), "bcdtool.hive.check/1"),
    (("doctor", "--json"), "bcdtool.doctor/1"),
])
def test_every_json_document_names_its_schema(store, capsys, argv, schema):
    code, out, err = run_cli(capsys, *argv, store)
    assert code in (0, 3), err
    assert json.loads(out)["schema"] == schema
    assert_documented(json.loads(out))


def test_linux_fix_json_has_changes_and_journal(tmp_path, capsys, isolated_state):
    from fixtures import linux_roots

    root = linux_roots.build("ubuntu-22.04", "broken", tmp_path / "root")
    code, out, err = run_cli(capsys, "linux", "fix", "--json", "--dry-run", root)
    assert code == 0, err
    dry = json.loads(out)
    assert dry["schema"] == "bcdtool.linux.fix/2" and dry["journal"] is None
    paths = {c["path"] for c in dry["changes"]}
    assert "/boot/grub/grub.cfg" in paths
    code, out, err = run_cli(capsys, "linux", "fix", "--json", root)
    assert code == 0, err
    doc = json.loads(out)
    assert {c["path"] for c in doc["changes"]} == paths and doc["remaining"] == []
    assert doc["journal"].endswith("journal.json")
    assert "console=ttyS0" in (root / "boot/grub/grub.cfg").read_text()
    code, out, _ = run_cli(capsys, "linux", "check", "--json", root)
    assert code == 0 and json.loads(out)["schema"] == "bcdtool.linux.check/1"


def test_every_schema_calls_its_remarks_notices():
    """One word for the remarks a command makes about its input, in every JSON document."""
    for command, keys in output.KEYS.items():
        assert "notes" not in [k.strip() for k in keys.split(",")], command
