"""`bcdtool hive ...`: read (ls, get, export, check) registry hives as plain hives; the editing
commands (set, rm, new) are in cli/hive_edit.py, loaded only when run (cli/lazy.py).

Every command opens its target through `open_target`, so hive files, folders, devices and disk
images all work (`--partition`/`--path` pick the hive inside a disk or folder).  Data goes to
stdout; notices (log recovery, forensic fallbacks) go to stderr.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import click

from bcdtool.cli import lazy
from bcdtool.cli.options import allow_dirty_option, json_option, target_options
from bcdtool.cli.output import current_command, data, emit_json, info, notes
from bcdtool.errors import (BcdToolError, CorruptionError, DirtyHiveError, InterruptedWriteError)
from bcdtool.locate import detect, open_hive
from bcdtool.regf.check import ERROR
from bcdtool.regf.check import check as check_hive
from bcdtool.regf.export import iter_export
from bcdtool.regf.hive import Hive, Key, Value
from bcdtool.regf.values import REG_DWORD, REG_DWORD_BIG_ENDIAN, REG_QWORD
from bcdtool.urls import redact
from bcdtool.wintext import escape_name, needs_escape


@dataclass
class _ForensicHandle:
    """A hive file read tolerantly (dirty without logs, or with broken bins) for `hive check`."""

    hive: Hive
    description: str
    location: dict = field(default_factory=dict)

    def close(self) -> None:
        """Nothing to release: the bytes were read whole."""


#: What reading a dirty hive as it is means (said on stderr whenever it happens).
DIRTY_NOTE = ("read as it is (--allow-dirty): the hive is dirty and its transaction logs are "
              "missing or unusable, so the changes held only in them are not included; keys and "
              "values may be missing or out of date; nothing is written")


def open_target(spec: str, *, partition: int | None = None, path: str | None = None,
          read_only: bool = True, tolerant: bool = False, allow_dirty: bool = False):
    """The one place `hive` commands open a target; returns a handle with `.hive`.

    With `tolerant`, a plain hive file that cannot be opened safely (dirty with no usable
    logs, half-written, broken bins) is read as it is instead, so that `hive check` can list
    what is wrong.  With `allow_dirty`, a dirty plain hive file without usable logs is read
    as it is (reads only).
    """
    try:
        return open_hive(spec, partition=partition, path=path, read_only=read_only,
                         kind="hive" if path else "bcd")
    except (CorruptionError, DirtyHiveError, InterruptedWriteError) as exc:
        dirty = allow_dirty and isinstance(exc, (DirtyHiveError, InterruptedWriteError))
        if not (tolerant or dirty) or detect.detect_kind(spec) != detect.HIVE:
            raise
        hive = Hive.open(spec, allow_dirty=True, strict=not tolerant)
        hive.notices[:] = [f"{spec}: {DIRTY_NOTE}"] if dirty and not tolerant else \
            [f"{spec}: {exc}; reading it as it is (nothing is written)"]
        return _ForensicHandle(hive, f"hive file {spec}", {"target": spec, "kind": "file"})


def _echo_notices(hive: Hive) -> None:
    notes(hive.notices)


def json_out(doc) -> None:
    emit_json(current_command(), doc)


def _iso(key: Key) -> str | None:
    stamp = key.timestamp
    return None if stamp is None else stamp.isoformat().replace("+00:00", "Z")


def name_json(name: str) -> dict:
    """`{"name": ...}` in the escaped form (`wintext.escape_name`), plus the exact UTF-16LE bytes
    as `name_utf16le` (hex) when escaping changed it."""
    doc = {"name": escape_name(name)}
    if needs_escape(name):
        doc["name_utf16le"] = name.encode("utf-16-le", "surrogatepass").hex()
    return doc


def _printable(data):
    if isinstance(data, str):
        return escape_name(data)
    if isinstance(data, list):
        return [escape_name(s) for s in data]
    return data


def value_json(value: Value) -> dict:
    """JSON form of a value: name, type, size, decoded data (bytes as hex) and raw hex."""
    data = value.data
    return {**name_json(value.name), "type": value.type_name, "type_code": value.type,
            "size": value.size, "data": data.hex() if isinstance(data, bytes) else _printable(data),
            "raw": value.raw.hex()}


def render_data(value: Value) -> list[str]:
    """Human-readable lines of a value's data."""
    data = _printable(value.data)
    if isinstance(data, list):
        return data or [""]
    if isinstance(data, int):
        if value.type in (REG_DWORD, REG_DWORD_BIG_ENDIAN, REG_QWORD):
            return [f"{data:#x} ({data})"]
        return [str(data)]
    if isinstance(data, bytes):
        return [data.hex(" ")]
    return [data]


def key_json(key: Key) -> dict:
    """JSON form of a key with its direct subkeys and values."""
    return {
        "path": escape_name(key.path), **name_json(key.name), "timestamp": _iso(key),
        "class": None if key.class_name is None else escape_name(key.class_name),
        "subkeys": [{**name_json(sub.name), "timestamp": _iso(sub), "subkeys": sub.subkey_count,
                     "values": sub.value_count} for sub in key.subkeys()],
        "values": [value_json(v) for v in key.values()],
    }


@click.group(cls=lazy.LazyGroup, table=lazy.HIVE)
def hive() -> None:
    """Read, check, export and edit registry hives (a BCD store is one)."""


@click.command("ls")
@click.argument("file")
@click.argument("keypath", default="")
@json_option()
@allow_dirty_option()
@target_options
def ls(file: str, keypath: str, as_json: bool, allow_dirty: bool, partition: int | None,
       path: str | None) -> None:
    """List the subkeys and values of KEYPATH (default: the root).

    Names holding control characters or unpaired UTF-16 surrogates print as \\uXXXX."""
    handle = open_target(file, partition=partition, path=path, allow_dirty=allow_dirty)
    try:
        _echo_notices(handle.hive)
        key = handle.hive.key(keypath)
        if as_json:
            json_out(key_json(key))
            return
        for sub in key.subkeys():
            data(f"{escape_name(sub.name)}\\")
        for value in key.values():
            lines = render_data(value)
            data(f"{escape_name(value.name) or '(default)'}\t{value.type_name}\t{lines[0]}")
            for line in lines[1:]:
                data(f"\t\t{line}")
    finally:
        handle.close()


@click.command("get")
@click.argument("file")
@click.argument("keypath")
@click.argument("name", default="")
@json_option()
@allow_dirty_option()
@target_options
def get(file: str, keypath: str, name: str, as_json: bool, allow_dirty: bool,
        partition: int | None, path: str | None) -> None:
    """Print the type and data of value NAME of KEYPATH (no NAME: the default value)."""
    handle = open_target(file, partition=partition, path=path, allow_dirty=allow_dirty)
    try:
        _echo_notices(handle.hive)
        value = handle.hive.key(keypath).value(name)
        if as_json:
            json_out(value_json(value))
            return
        data(value.type_name)
        for line in render_data(value):
            data(line)
    finally:
        handle.close()


@click.command("export")
@click.argument("file")
@click.argument("keypath", default="")
@click.option("--prefix", default="", help="Text put before every key path, e.g. "
              "'HKEY_LOCAL_MACHINE\\BCD00000000' (default: paths start with '\\').")
@click.option("--utf16", is_flag=True, help="Write UTF-16LE with a BOM, as regedit does.")
@click.option("--best-effort", is_flag=True, help="Damaged hive: export what can be read; every "
              "unreadable key becomes a '; bcdtool: UNREADABLE' line and a message on stderr, "
              "and the exit code is 3.")
@allow_dirty_option()
@target_options
@click.pass_context
def export(ctx: click.Context, file: str, keypath: str, prefix: str, utf16: bool,
           best_effort: bool, allow_dirty: bool, partition: int | None,
           path: str | None) -> None:
    """Print KEYPATH's subtree (default: the whole hive) as a regedit .reg file.

    Names a .reg file cannot hold (line breaks, control characters; unpaired surrogates
    without --utf16) are refused.  If reading fails part way, the output ends with a
    '; bcdtool: EXPORT INCOMPLETE' line, so it never looks complete."""
    handle = open_target(file, partition=partition, path=path, tolerant=best_effort,
                   allow_dirty=allow_dirty)
    problems: list[str] = []
    out = sys.stdout.buffer
    encoding = "utf-16-le" if utf16 else "utf-8"
    try:
        _echo_notices(handle.hive)
        hive_ = handle.hive
        lines = iter_export(hive_, hive_.key(keypath), prefix=prefix.rstrip("\\"), utf16=utf16,
                            best_effort=best_effort, problems=problems)
        if utf16:
            out.write(b"\xff\xfe")
        try:
            for line in lines:
                out.write((line + "\r\n").encode(encoding, "surrogatepass"))
        except BcdToolError as exc:
            out.write((f"; bcdtool: EXPORT INCOMPLETE: {escape_name(str(exc))}\r\n")
                      .encode(encoding, "surrogatepass"))
            raise
        finally:
            out.flush()
    finally:
        handle.close()
    for problem in problems:
        info(f"bcdtool: unreadable: {escape_name(problem)}")
    if problems:
        info(f"bcdtool: {len(problems)} part(s) of the hive could not be read; the export "
             "is incomplete")
        ctx.exit(3)


@click.command("check")
@click.argument("file")
@json_option()
@target_options
@click.pass_context
def check(ctx: click.Context, file: str, as_json: bool, partition: int | None,
          path: str | None) -> None:
    """Validate a hive against the format's rules; exit 3 when errors are found.

    Each finding shows its severity, a stable code, the file offset of the structure concerned
    and what is wrong.  A dirty hive is checked after log recovery; one that cannot be opened
    safely is checked as it is.
    """
    handle = open_target(file, partition=partition, path=path, tolerant=True)
    try:
        _echo_notices(handle.hive)
        findings = check_hive(handle.hive)
    finally:
        handle.close()
    errors = sum(1 for f in findings if f.severity == ERROR)
    warnings = len(findings) - errors
    if as_json:
        json_out({"target": redact(file), "recovered": handle.hive.recovered, "errors": errors,
                   "warnings": warnings, "findings": [f.as_dict() for f in findings]})
    else:
        for f in findings:
            where = f"{f.offset:#x}" if f.offset is not None else "-"
            data(f"{f.severity:7} {f.code:14} {where:>10}  {f.message}")
        data(f"{errors} error(s), {warnings} warning(s)")
    if errors:
        ctx.exit(3)
