"""Every command that changes something answers `--json` with `changes` and `journal` (one
document per command, with its schema), for a dry run and a real run alike.

The table below must name every changing command of the command tree (a command that takes
`--dry-run`, and `undo`, `new-store`, `batch`): a new one fails here until it reports the same
two keys.
"""

from __future__ import annotations

import json

import pytest

from bcdtool.cli import cli, reference
from bcdtool.cli.output import SCHEMAS, schema
from fixtures.windows_hives import system_hive
from tests.helpers.common import BCD_CORPUS, assert_documented, run_cli, run_process
from tests.ops.ops_helpers import build_windows_disk, new_store

#: Changing commands without a --dry-run (they create or restore a file, or run others).
NO_DRY_RUN = {"undo", "new-store", "batch"}
DISK = "{11111111-1111-1111-1111-111111111111}"


def changing_commands() -> set[str]:
    return {" ".join(path) for path, command in reference.walk(cli)
            if any("--dry-run" in getattr(p, "opts", ()) for p in command.params)} | NO_DRY_RUN


@pytest.fixture
def store(tmp_path, isolated_state):
    path = tmp_path / "BCD"
    path.write_bytes(new_store("uefi"))
    return path


@pytest.fixture
def windows_root(tmp_path):
    config = tmp_path / "win" / "Windows" / "System32" / "config"
    config.mkdir(parents=True)
    (config / "SYSTEM").write_bytes(system_hive(sacsvr_start=4))
    return tmp_path / "win"


def _journal_of_a_write(capsys, store) -> str:
    code, out, err = run_cli(capsys, "bcdedit", "--json", "/store", store, "/timeout", "9")
    assert code == 0, err
    return json.loads(out)["journal"]


def _argv(command: str, tmp_path, store, windows_root, capsys) -> list:
    part = f"gpt:{DISK}:{{22222222-2222-2222-2222-222222222222}}"
    win = f"gpt:{DISK}:{{33333333-3333-3333-3333-333333333333}}"
    return {
        "bcdedit": ["bcdedit", "--json", "/store", store, "/ems", "{default}", "on"],
        "serial-console enable": ["serial-console", "enable", "--json", store],
        "hive set": ["hive", "set", "--json", store, "Description", "X", "--type", "REG_SZ",
                     "--data", "y"],
        "hive rm": ["hive", "rm", "--json", store, "Description"],
        "hive new": ["hive", "new", "--json", tmp_path / "new.hive"],
        "new-store": ["new-store", "--json", tmp_path / "new.bcd", "--firmware", "uefi",
                      "--system-partition", part, "--windows-partition", win],
        "windows sac enable": ["windows", "sac", "enable", "--json", windows_root],
        "windows crashdump enable": ["windows", "crashdump", "enable", "--json", windows_root],
        "undo": ["undo", "--json", _journal_of_a_write(capsys, store)]
        if command == "undo" else None,
    }.get(command)


def _linux_root(tmp_path):
    from fixtures import linux_roots

    return linux_roots.build("ubuntu-22.04", "broken", tmp_path / "root")


def test_the_table_names_every_changing_command():
    covered = {"bcdedit", "serial-console enable", "hive set", "hive rm", "hive new",
               "new-store", "windows sac enable", "windows crashdump enable", "undo",
               "linux fix", "repair boot", "batch"}
    assert changing_commands() == covered
    assert covered <= set(SCHEMAS)


@pytest.mark.parametrize("command", sorted(changing_commands() - {"linux fix", "repair boot",
                                                                   "batch"}))
def test_changes_and_journal(command, tmp_path, store, windows_root, capsys):
    argv = _argv(command, tmp_path, store, windows_root, capsys)
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == schema(command)
    assert_documented(doc)
    assert doc["changes"], doc
    assert "journal" in doc
    if command not in ("hive new", "new-store"):   # a new file: removing it undoes it
        assert doc["journal"] and doc["journal"].endswith("journal.json"), doc


def test_linux_fix_reports_changes_and_journal(tmp_path, capsys, isolated_state):
    root = _linux_root(tmp_path)
    code, out, err = run_cli(capsys, "linux", "fix", "--json", root)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == schema("linux fix") and doc["changes"]
    assert_documented(doc)
    assert doc["journal"].endswith("journal.json")


def test_batch_reports_changes_and_journal_per_target(tmp_path, store):
    manifest = tmp_path / "targets.txt"
    manifest.write_text(f"{store}\n")
    run = run_process("batch", "--json", "--jobs", "1", manifest, state=tmp_path / "state")
    assert run.returncode == 0, run.stderr
    first, summary = [json.loads(line) for line in run.stdout.splitlines()]
    assert first["schema"] == schema("batch") and summary["schema"] == schema("batch summary")
    assert first["changes"] and first["journal"][0].endswith("journal.json")
    assert_documented(first)
    assert_documented(summary)


def test_repair_boot_reports_changes_and_journal(tmp_path, isolated_state, capsys):
    raw = tmp_path / "disk.img"
    build_windows_disk("bios", raw,
                       bcd=(BCD_CORPUS / "win7-bios-installed-winre.bcd").read_bytes())
    code, out, err = run_cli(capsys, "repair", "boot", "--json", raw)
    assert code in (0, 3), err
    doc = json.loads(out)
    assert doc["schema"] == schema("repair boot") and doc["changes"]
    assert_documented(doc)
    assert doc["journal"].endswith("journal.json")


def _creator(how: str, flags: list[str], tmp_path, store) -> list:
    """The command line that creates tmp_path/created, with `flags` (--dry-run, --json, ...)."""
    part = f"gpt:{DISK}:{{22222222-2222-2222-2222-222222222222}}"
    win = f"gpt:{DISK}:{{33333333-3333-3333-3333-333333333333}}"
    new = tmp_path / "created"
    return {
        "new-store": ["new-store", *flags, new, "--firmware", "uefi", "--system-partition",
                      part, "--windows-partition", win],
        "hive new": ["hive", "new", *flags, new],
        "bcdedit /createstore": ["bcdedit", *flags, "/createstore", new],
        "bcdedit /export": ["bcdedit", *flags, "/store", store, "/export", new],
    }[how]


@pytest.mark.parametrize("how", ["new-store", "hive new", "bcdedit /createstore",
                                 "bcdedit /export"])
def test_every_new_file_honours_dry_run(how, tmp_path, store, capsys):
    """ops/newfile.py is the one way a file is created: a dry run reports the change and
    creates nothing (bcdedit --dry-run /createstore used to create the store)."""
    code, out, err = run_cli(capsys, *_creator(how, ["--dry-run", "--json"], tmp_path, store))
    assert code == 0, err
    doc = json.loads(out)
    assert [c for c in doc["changes"] if c.get("action") == "create"] == [
        {"action": "create", "path": str(tmp_path / "created"), "size": ANY_SIZE}]
    assert not (tmp_path / "created").exists()


@pytest.mark.parametrize("how", ["bcdedit /createstore", "bcdedit /export"])
def test_read_only_creates_nothing(how, tmp_path, store, capsys):
    code, _, err = run_cli(capsys, *_creator(how, ["--read-only"], tmp_path, store))
    assert code == 16, err
    assert not (tmp_path / "created").exists()


class _AnySize(int):
    def __eq__(self, other) -> bool:
        return isinstance(other, int) and other > 0

    __hash__ = int.__hash__


ANY_SIZE = _AnySize()


def test_every_bcdedit_document_has_the_same_keys(tmp_path, store, capsys):
    """/createstore (which has no store to open) reports in the shape of every other line."""
    keys = []
    for argv in (["/store", store, "/timeout", "4"], ["/createstore", tmp_path / "made"],
                 ["/store", store, "/enum"]):
        code, out, err = run_cli(capsys, "bcdedit", "--json", *argv)
        assert code == 0, err
        keys.append(set(json.loads(out)))
        assert_documented(json.loads(out))
    assert keys[0] == keys[1] == keys[2]
