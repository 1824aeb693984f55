"""`bcdtool hive ...`: read (ls, get, export, check) and edit registry hives as plain hives.

Every command opens its target through `_open`, so hive files, folders, devices and disk images
all work (`--partition`/`--path` pick the hive inside a disk or folder).  Data goes to stdout;
notices (log recovery, forensic fallbacks) go to stderr.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field

import click

from bcdtool.errors import CorruptionError, DirtyHiveError, InterruptedWriteError
from bcdtool.regf.hive import Hive, Key, Value
from bcdtool.regf.values import REG_DWORD, REG_DWORD_BIG_ENDIAN, REG_QWORD


@dataclass
class _ForensicHandle:
    """A hive file read tolerantly (dirty without logs, or with broken bins) for `hive check`."""

    hive: Hive
    description: str
    location: dict = field(default_factory=dict)

    def close(self) -> None:
        """Nothing to release: the bytes were read whole."""


def _open(spec: str, *, partition: int | None = None, path: str | None = None,
          read_only: bool = True, tolerant: bool = False):
    """The one place `hive` commands open a target; returns a handle with `.hive`.

    With `tolerant`, a plain hive file that cannot be opened safely (dirty with no usable
    logs, half-written, broken bins) is read as it is instead, so that `hive check` can list
    what is wrong.
    """
    from bcdtool.target import detect, open_hive

    try:
        return open_hive(spec, partition=partition, path=path, read_only=read_only,
                         kind="hive" if path else "bcd")
    except (CorruptionError, DirtyHiveError, InterruptedWriteError) as exc:
        if not tolerant or detect.detect_kind(spec) != detect.HIVE:
            raise
        hive = Hive.open(spec, allow_dirty=True, strict=False)
        hive.notices.insert(0, f"{spec}: {exc}; reading it as it is to check it")
        return _ForensicHandle(hive, f"hive file {spec}", {"target": spec, "kind": "file"})


def _echo_notices(hive: Hive) -> None:
    for notice in hive.notices:
        click.echo(f"bcdtool: note: {notice}", err=True)


def _target_options(func):
    func = click.option("--path", "hive_path", default=None,
                        help="Path of the hive inside a disk or folder "
                             "(default: the BCD store).")(func)
    return click.option("--partition", type=int, default=None,
                        help="Partition holding the hive (disks and images).")(func)


def _json_out(doc) -> None:
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False))


def _iso(key: Key) -> str | None:
    stamp = key.timestamp
    return None if stamp is None else stamp.isoformat().replace("+00:00", "Z")


def value_json(value: Value) -> dict:
    """JSON form of a value: name, type, size, decoded data (bytes as hex) and raw hex."""
    data = value.data
    return {"name": value.name, "type": value.type_name, "type_code": value.type,
            "size": value.size, "data": data.hex() if isinstance(data, bytes) else data,
            "raw": value.raw.hex()}


def render_data(value: Value) -> list[str]:
    """Human-readable lines of a value's data."""
    data = value.data
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
        "path": key.path, "name": key.name, "timestamp": _iso(key), "class": key.class_name,
        "subkeys": [{"name": sub.name, "timestamp": _iso(sub), "subkeys": sub.subkey_count,
                     "values": sub.value_count} for sub in key.subkeys()],
        "values": [value_json(v) for v in key.values()],
    }


@click.group()
def hive() -> None:
    """Read, check, export and edit registry hives (a BCD store is one)."""


@hive.command("ls")
@click.argument("file")
@click.argument("keypath", default="")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_target_options
def ls(file: str, keypath: str, as_json: bool, partition: int | None,
       hive_path: str | None) -> None:
    """List the subkeys and values of KEYPATH (default: the root)."""
    handle = _open(file, partition=partition, path=hive_path)
    try:
        _echo_notices(handle.hive)
        key = handle.hive.key(keypath)
        if as_json:
            _json_out(key_json(key))
            return
        for sub in key.subkeys():
            click.echo(f"{sub.name}\\")
        for value in key.values():
            lines = render_data(value)
            click.echo(f"{value.name or '(default)'}\t{value.type_name}\t{lines[0]}")
            for line in lines[1:]:
                click.echo(f"\t\t{line}")
    finally:
        handle.close()


@hive.command("get")
@click.argument("file")
@click.argument("keypath")
@click.argument("name", default="")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_target_options
def get(file: str, keypath: str, name: str, as_json: bool, partition: int | None,
        hive_path: str | None) -> None:
    """Print the type and data of value NAME of KEYPATH (no NAME: the default value)."""
    handle = _open(file, partition=partition, path=hive_path)
    try:
        _echo_notices(handle.hive)
        value = handle.hive.key(keypath).value(name)
        if as_json:
            _json_out(value_json(value))
            return
        click.echo(value.type_name)
        for line in render_data(value):
            click.echo(line)
    finally:
        handle.close()


@hive.command("export")
@click.argument("file")
@click.argument("keypath", default="")
@click.option("--prefix", default="", help="Text put before every key path, e.g. "
              "'HKEY_LOCAL_MACHINE\\BCD00000000' (default: paths start with '\\').")
@click.option("--utf16", is_flag=True, help="Write UTF-16LE with a BOM, as regedit does.")
@_target_options
def export(file: str, keypath: str, prefix: str, utf16: bool, partition: int | None,
           hive_path: str | None) -> None:
    """Print KEYPATH's subtree (default: the whole hive) as a regedit .reg file."""
    from bcdtool.regf.export import iter_export

    handle = _open(file, partition=partition, path=hive_path)
    try:
        _echo_notices(handle.hive)
        hive_ = handle.hive
        lines = iter_export(hive_, hive_.key(keypath), prefix=prefix.rstrip("\\"))
        out = sys.stdout.buffer
        if utf16:
            out.write(b"\xff\xfe")
        for line in lines:
            out.write((line + "\r\n").encode("utf-16-le" if utf16 else "utf-8",
                                             "surrogatepass"))
        out.flush()
    finally:
        handle.close()


@hive.command("check")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_target_options
@click.pass_context
def check(ctx: click.Context, file: str, as_json: bool, partition: int | None,
          hive_path: str | None) -> None:
    """Validate a hive against the format's rules; exit 3 when errors are found."""
    from bcdtool.regf.check import ERROR, check as check_hive

    handle = _open(file, partition=partition, path=hive_path, tolerant=True)
    try:
        _echo_notices(handle.hive)
        findings = check_hive(handle.hive)
    finally:
        handle.close()
    errors = sum(1 for f in findings if f.severity == ERROR)
    warnings = len(findings) - errors
    if as_json:
        _json_out({"target": file, "recovered": handle.hive.recovered, "errors": errors,
                   "warnings": warnings, "findings": [f.as_dict() for f in findings]})
    else:
        for f in findings:
            where = f"{f.offset:#x}" if f.offset is not None else "-"
            click.echo(f"{f.severity:7} {f.code:14} {where:>10}  {f.message}")
        click.echo(f"{errors} error(s), {warnings} warning(s)")
    if errors:
        ctx.exit(3)
