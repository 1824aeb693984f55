"""The CLI seam: shared options spelled once, one output function (schema key, stdout for
data, stderr for notes).  Fast: no disk images."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from bcdtool.cli import options, output


@click.command()
@options.target_options
@options.write_options
@options.json_option()
def probe(**kwargs) -> None:
    """Echo what the shared options parsed."""
    output.emit("elements", {"got": kwargs}, as_json=kwargs["as_json"],
                lines=[f"{k}={v}" for k, v in sorted(kwargs.items())])
    output.note("a note")


def test_shared_options_parse_to_the_same_names():
    run = CliRunner().invoke(probe, ["--partition", "2", "--path", "EFI/BCD", "--dry-run",
                                     "--backup-dir", "d", "--backup", "b", "--read-only",
                                     "--audit-log", "a", "--json"])
    assert run.exit_code == 0, run.output
    doc = json.loads(run.stdout)
    assert doc["got"] == {"partition": 2, "path": "EFI/BCD", "dry_run": True, "backup_dir": "d",
                          "backup": "b", "read_only": True, "audit_log": "a", "as_json": True}
    assert run.stderr == "bcdtool: note: a note\n"


def test_defaults_and_text_output():
    run = CliRunner().invoke(probe, [])
    assert run.exit_code == 0
    assert "partition=None" in run.stdout and "dry_run=False" in run.stdout
    assert "note" not in run.stdout


def test_partition_must_be_a_number():
    run = CliRunner().invoke(probe, ["--partition", "two"])
    assert run.exit_code == 2
    assert "--partition" in run.stderr


def test_json_document_puts_the_schema_first():
    doc = output.json_document("enum", {"b": 1, "schema": "ignored", "a": 2})
    assert list(doc) == ["schema", "b", "a"]
    assert doc["schema"] == "bcdtool.enum/1"
    assert output.schema("serial-console enable") == "bcdtool.serial-console.enable/1"


def test_an_unknown_schema_is_a_programming_error():
    with pytest.raises(KeyError):
        output.schema("no-such-command")


def test_json_lines_are_one_line_and_keep_non_ascii():
    @click.command()
    def lines() -> None:
        output.emit_json("batch", {"target": "dïsk.vhd", "n": 1}, line=True)

    run = CliRunner().invoke(lines, [])
    assert run.stdout.count("\n") == 1
    assert json.loads(run.stdout) == {"schema": "bcdtool.batch/1", "n": 1, "target": "dïsk.vhd"}
    assert "dïsk" in run.stdout


def test_current_command_names_the_subcommand_below_the_root():
    @click.group()
    def root() -> None:
        """Root."""

    @root.group()
    def hive() -> None:
        """Group."""

    @hive.command("ls")
    def ls() -> None:
        output.emit_json(output.current_command(), {})

    run = CliRunner().invoke(root, ["hive", "ls"])
    assert json.loads(run.stdout) == {"schema": "bcdtool.hive.ls/1"}
