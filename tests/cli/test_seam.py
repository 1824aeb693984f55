"""The CLI seam: shared options spelled once, one output function (schema key, stdout for
data, stderr for notes).  Fast: no disk images."""

from __future__ import annotations

import ast
import json
from pathlib import Path

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


# -- every option flag is declared once --------------------------------------------------------

CLI_PACKAGE = Path(__file__).resolve().parents[2] / "bcdtool" / "cli"


def option_declarations(source: str, name: str = "<source>") -> dict[str, list[str]]:
    """{flag: ["file:line", ...]} of every `click.option("--flag", ...)` (or `@option(...)`,
    `click.Option([...])`) call in `source`."""
    found: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        callee = func.attr if isinstance(func, ast.Attribute) else \
            func.id if isinstance(func, ast.Name) else ""
        if callee not in ("option", "Option"):
            continue
        texts = []
        for arg in node.args:
            items = arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else [arg]
            texts += [i.value for i in items if isinstance(i, ast.Constant)
                      and isinstance(i.value, str) and i.value.startswith("-")]
        for flag in texts:
            found.setdefault(flag, []).append(f"{name}:{node.lineno}")
    return found


def test_the_declaration_scanner_sees_every_spelling():
    sample = ('import click\n@click.option("--baud", type=int)\ndef a(): ...\n'
              'opt = click.Option(["--baud", "-b"])\nfrom click import option\n'
              '@option("--dry-run", is_flag=True)\ndef b(): ...\n')
    assert option_declarations(sample) == {"--baud": ["<source>:2", "<source>:4"],
                                           "-b": ["<source>:4"],
                                           "--dry-run": ["<source>:6"]}


def test_every_option_flag_is_declared_once():
    """A shared option (`--partition`, `--dry-run`, `--json`, `--baud`, ...) lives in
    cli/options.py and every command takes it from there; a flag only one command has is
    declared in that command's module.  A second `click.option("--flag")` anywhere in the CLI
    is a copy that will drift (help text, type, default)."""
    seen: dict[str, list[str]] = {}
    for path in sorted(CLI_PACKAGE.glob("*.py")):
        for flag, where in option_declarations(path.read_text(encoding="utf-8"),
                                               path.name).items():
            seen.setdefault(flag, []).extend(where)
    copies = {flag: where for flag, where in seen.items() if len(where) > 1}
    assert not copies, ("declare a shared option once in bcdtool/cli/options.py and use its "
                        f"decorator: {copies}")


def test_the_shared_options_are_in_options_py():
    shared = {"--partition", "--path", "--backend", "--json", "--dry-run", "--backup-dir",
              "--backup", "--read-only", "--audit-log", "--strict", "--allow-dirty", "--baud",
              "--device"}
    declared = option_declarations((CLI_PACKAGE / "options.py").read_text(encoding="utf-8"))
    assert shared <= set(declared), shared - set(declared)


# -- all output through cli/output.py ------------------------------------------------------------

#: Where text may be written directly: the output seam itself, the error mapping of the entry
#: point (cli/__init__.py: `bcdtool: error: ...`) and the reference generator's __main__.
WRITERS = {"output.py", "__init__.py", "reference.py"}


def direct_output(source: str, *, json_too: bool = True) -> list[int]:
    """Lines that print without the output seam: print(), click.echo/secho, sys.stdout/stderr
    writes, and (`json_too`) json.dump(s)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "print":
            found.append(node.lineno)
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and (
                (func.value.id == "click" and func.attr in ("echo", "secho"))
                or (json_too and func.value.id == "json" and func.attr in ("dump", "dumps"))):
            found.append(node.lineno)
        elif isinstance(func, ast.Attribute) and func.attr == "write" and \
                isinstance(func.value, ast.Attribute) and func.value.attr in ("stdout", "stderr"):
            found.append(node.lineno)
    return found


def test_the_output_finder_sees_every_spelling():
    sample = ("import click, json, sys\nprint('x')\nclick.echo('y')\njson.dumps({})\n"
              "sys.stdout.write('z')\noutput.data('ok')\n")
    assert direct_output(sample) == [2, 3, 4, 5]


def test_every_command_prints_through_output_py():
    found = []
    for path in sorted(CLI_PACKAGE.glob("*.py")):
        if path.name not in WRITERS:
            found += [f"{path.name}:{line}" for line in
                      direct_output(path.read_text(encoding="utf-8"))]
    # Below the CLI nothing prints (json.dumps there makes journal and audit files), except
    # log.py's stand-in for logging's last-resort handler (a warning while logging is not
    # loaded) and packgen.py, the developers' generator of the packed layouts.
    for path in sorted(CLI_PACKAGE.parent.rglob("*.py")):
        if CLI_PACKAGE not in path.parents and path.relative_to(CLI_PACKAGE.parent).as_posix() \
                not in ("log.py", "packgen.py"):
            found += [f"{path.relative_to(CLI_PACKAGE.parent)}:{line}" for line in
                      direct_output(path.read_text(encoding="utf-8"), json_too=False)]
    assert not found, "print through bcdtool/cli/output.py (emit, data, note, info): " + \
        ", ".join(found)
