"""CLI layer: the command reference (docs/cli.md) generated from click's command tree.

`python -m bcdtool.cli.reference > docs/cli.md` rewrites the file; a test fails when it is
stale, so every command, option and JSON schema is documented as it is.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from bcdtool.cli import cli
from bcdtool.cli.output import KEYS, SCHEMAS, schema

_INTRO = """\
# Command reference

Generated from the command tree by `python -m bcdtool.cli.reference > docs/cli.md`; a test
keeps this file current. README.md explains what the commands are for.

## Conventions

- Data goes to stdout; notes (`bcdtool: note: ...`), which store was opened, progress and
  hints go to stderr. Exit codes: README, "Exit codes".
- `--partition`, `--path`, `--backend`, `--dry-run`, `--backup-dir`, `--backup`,
  `--read-only`, `--audit-log` and `--json` mean the same in every command that takes them
  (they are declared once, in `bcdtool/cli/options.py`).
- `--json` prints one JSON document whose first key, `"schema"`, names the command and the
  version of its layout (`bcdtool.<command>/<version>`, below). The version rises when a key
  is removed or changes meaning; new keys keep it. `batch --json` prints JSON lines, one per
  target, then a summary line. Commands that change something report `changes` and
  `journal` (the undo journal, `null` when nothing was written).
"""


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...],
                                                                               click.Command]]:
    """Every command below `command` (groups too), depth first, subcommands sorted by name."""
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command, info_name=path[-1] if path else "bcdtool")
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, path + (name,))


def _option_line(param: click.Parameter) -> str:
    if isinstance(param, click.Argument):
        return f"- `{param.human_readable_name}` (argument)"
    assert isinstance(param, click.Option)
    names = ", ".join(f"`{opt}`" for opt in param.opts + param.secondary_opts)
    metavar = "" if param.is_flag else f" {param.make_metavar(click.Context(cli))}"
    help_text = " ".join((param.help or "").split())
    if param.show_default and param.default not in (None, False):
        help_text += f" (default: {param.default})"
    return f"- {names}{metavar}: {help_text}".rstrip(": ")


def _section(path: tuple[str, ...], command: click.Command) -> list[str]:
    # a fixed width: the usage line must not depend on the terminal that generates the file
    ctx = click.Context(command, info_name=" ".join(("bcdtool",) + path), terminal_width=100,
                        max_content_width=100)
    lines = [f"## `bcdtool {' '.join(path)}`", "", f"```\n{command.get_usage(ctx)}\n```", ""]
    for paragraph in (command.help or "").strip().split("\n\n"):
        if paragraph.strip():
            lines += [" ".join(paragraph.split()), ""]
    params = [p for p in command.get_params(ctx) if "--help" not in getattr(p, "opts", ())]
    lines += [_option_line(p) for p in params]
    name = " ".join(path)
    if name in SCHEMAS:
        lines += ["", f"JSON schema: `{schema(name)}`"]
    return lines + [""]


def markdown() -> str:
    """docs/cli.md: conventions, the JSON schema table, then one section per command."""
    out = [_INTRO, "## JSON schemas", "", "| command | schema | keys after `schema` |",
           "|---|---|---|"]
    out += [f"| `{name}` | `{schema(name)}` | {KEYS[name]} |" for name in sorted(SCHEMAS)]
    out.append("")
    for path, command in walk(cli):
        if path:
            out += _section(path, command)
    return "\n".join(out).rstrip("\n") + "\n"


if __name__ == "__main__":
    click.echo(markdown(), nl=False)
