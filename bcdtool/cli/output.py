"""CLI layer: the one output seam — JSON documents and data on stdout, notes on stderr.

Every command prints through these functions, so that every `--json` document has the same
shape (a `"schema"` key naming the command and the version of its layout, then the data) and
the same encoding, and so that only data ever reaches stdout: what was opened, notes, progress
and hints go to stderr, where a pipeline into `jq` does not see them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import click

from bcdtool.urls import conceal

#: The JSON layout version of each command's `--json` document.  Raise a command's number when
#: a key is removed or changes meaning (adding keys keeps it); docs/cli.md lists this table.
SCHEMAS: dict[str, int] = {
    "batch": 1,
    "batch summary": 1,
    "bcdedit": 1,
    "doctor": 1,
    "elements": 1,
    "enum": 1,
    "forensic": 1,
    "hive check": 1,
    "hive get": 1,
    "hive ls": 1,
    "hive new": 1,
    "hive rm": 1,
    "hive set": 1,
    "linux check": 1,
    "linux fix": 2,             # 2: "notes" became "notices", as everywhere else
    "linux status": 1,          # an alias of `linux check` (same document)
    "new-store": 1,
    "repair boot": 1,
    "serial-console enable": 1,
    "serial-console status": 1,
    "undo": 1,
    "windows crashdump enable": 1,
    "windows info": 2,          # 2: "notes" became "notices", as everywhere else
    "windows sac enable": 1,
}


_EDIT = "operation, location, description, dry_run, changes, journal, write, audit, notices"
#: The top-level keys of each command's document after `schema` (docs/cli.md lists them; the
#: CLI tests check every document they see against this table).
KEYS: dict[str, str] = {
    "batch": "target, status, line, ops, changes, journal, notices, error, exit_code, seconds, "
             "cpu_seconds",
    "batch summary": "summary",
    "bcdedit": _EDIT + ", command, lines",
    "doctor": "ok, distro, findings, system, store",
    "elements": "elements",
    "enum": "target, store, default, objects, notices",
    "forensic": "generated_at, integrity, hive, worst_severity, findings, notices, timeline, "
                "history, deleted",
    "hive check": "target, recovered, errors, warnings, findings",
    "hive get": "name, name_utf16le, type, type_code, size, data, raw",
    "hive ls": "path, name, name_utf16le, timestamp, class, subkeys, values",
    "hive new": "target, dry_run, size, minor, changes, journal",
    "hive rm": _EDIT,
    "hive set": _EDIT,
    "linux check": "ok, distro, findings, target, device, device_reason, baud, baud_reason, "
                   "boot_loaders, init, fixable",
    "linux fix": "target, device, baud, dry_run, changes, notices, journal, remaining",
    "linux status": "ok, distro, findings, target, device, device_reason, baud, baud_reason, "
                    "boot_loaders, init, fixable",
    "new-store": "file, size, firmware, system, windows, chosen, dry_run, changes, journal",
    "repair boot": _EDIT + ", repoints, not_repaired",
    "serial-console enable": _EDIT,
    "serial-console status": "store, description, ok, settings, notices",
    "undo": "journal, target, operation, entries, sha256, notices, changes",
    "windows crashdump enable": _EDIT,
    "windows info": "system, software, edition, control_sets, crash_control, services, "
                    "fast_startup, system_dirty, volumes, notices",
    "windows sac enable": _EDIT,
}


def schema(command: str) -> str:
    """The `"schema"` value of `command`'s JSON document, e.g. `bcdtool.enum/1`.

    Raises:
        KeyError: for a command missing from SCHEMAS (a programming error a test catches).
    """
    return f"bcdtool.{command.replace(' ', '.')}/{SCHEMAS[command]}"


def current_command() -> str:
    """The running subcommand's name below `bcdtool` (e.g. `hive ls`), from click's context."""
    names = []
    ctx = click.get_current_context()
    while ctx.parent is not None:
        names.append(ctx.info_name)
        ctx = ctx.parent
    return " ".join(reversed(names))


def json_document(command: str, doc: Mapping) -> dict:
    """`doc` with the schema key first (a `schema` key inside `doc` is replaced)."""
    return {"schema": schema(command), **{k: v for k, v in doc.items() if k != "schema"}}


def json_line(command: str, doc: Mapping) -> str:
    """`command`'s JSON document as one line (keys sorted), for JSON-lines streams and files."""
    return json.dumps(json_document(command, doc), sort_keys=True, ensure_ascii=False,
                      default=str)


def emit_json(command: str, doc: Mapping, *, line: bool = False) -> None:
    """Print `command`'s JSON document on stdout: indented, or as one line (`line=True`, for
    JSON-lines streams such as `batch --json`).  Values JSON cannot hold are printed as text."""
    # conceal: a URL given with its signature never reaches stdout, whichever field holds it
    if line:
        click.echo(conceal(json_line(command, doc)))
    else:
        click.echo(conceal(json.dumps(json_document(command, doc), indent=2,
                                      ensure_ascii=False, default=str)))


def emit(command: str, doc: Mapping, *, as_json: bool, lines: Iterable[str] = ()) -> None:
    """Print a command's result: its JSON document with `--json`, else its text `lines`."""
    if as_json:
        emit_json(command, doc)
        return
    for text in lines:
        click.echo(text)


def data(text: str = "", *, nl: bool = True) -> None:
    """One line (or chunk) of a command's data on stdout."""
    click.echo(text, nl=nl)


def note(text: str) -> None:
    """A note for the user on stderr: `bcdtool: note: TEXT`."""
    click.echo(f"bcdtool: note: {text}", err=True)


def notes(texts: Iterable[str]) -> None:
    """Each of `texts` as a note on stderr."""
    for text in texts:
        note(text)


def info(text: str) -> None:
    """Context that is not data (which store was opened, what was written) on stderr."""
    click.echo(text, err=True)
