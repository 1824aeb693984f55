"""`bcdtool hive ...`: read (ls, get, export, check) and edit registry hives as plain hives.

Every command opens its target through `_open`, so hive files, folders, devices and disk images
all work (`--partition`/`--path` pick the hive inside a disk or folder).  Data goes to stdout;
notices (log recovery, forensic fallbacks) go to stderr.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from bcdtool.cli.options import (backup_option, dry_run_option, json_option, target_options,
                                 write_options)
from bcdtool.cli.output import current_command, data, emit_json, info, note, notes
from bcdtool.errors import (BcdToolError, CorruptionError, DirtyHiveError, InterruptedWriteError,
                            InvalidArgumentError, WriteError)
from bcdtool.locate import detect, open_hive
from bcdtool.ops.recipe import WriteOptions, run_on_hive
from bcdtool.regf import values as V
from bcdtool.regf.check import ERROR
from bcdtool.regf.check import check as check_hive
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.export import iter_export
from bcdtool.regf.hive import Hive, Key, Value
from bcdtool.regf.values import REG_DWORD, REG_DWORD_BIG_ENDIAN, REG_QWORD
from bcdtool.regf.verify import verify_new_hive
from bcdtool.wintext import escape_name, needs_escape
from bcdtool.write.fileio import create_new


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


def _open(spec: str, *, partition: int | None = None, path: str | None = None,
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


def _allow_dirty_option(func):
    return click.option("--allow-dirty", is_flag=True,
                        help="Read a dirty hive file whose transaction logs are missing as it is "
                        "(reads only; changes held only in the logs are not included).")(func)


def _json_out(doc) -> None:
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


@click.group()
def hive() -> None:
    """Read, check, export and edit registry hives (a BCD store is one)."""


@hive.command("ls")
@click.argument("file")
@click.argument("keypath", default="")
@json_option()
@_allow_dirty_option
@target_options
def ls(file: str, keypath: str, as_json: bool, allow_dirty: bool, partition: int | None,
       path: str | None) -> None:
    """List the subkeys and values of KEYPATH (default: the root).

    Names holding control characters or unpaired UTF-16 surrogates print as \\uXXXX."""
    handle = _open(file, partition=partition, path=path, allow_dirty=allow_dirty)
    try:
        _echo_notices(handle.hive)
        key = handle.hive.key(keypath)
        if as_json:
            _json_out(key_json(key))
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


@hive.command("get")
@click.argument("file")
@click.argument("keypath")
@click.argument("name", default="")
@json_option()
@_allow_dirty_option
@target_options
def get(file: str, keypath: str, name: str, as_json: bool, allow_dirty: bool,
        partition: int | None, path: str | None) -> None:
    """Print the type and data of value NAME of KEYPATH (no NAME: the default value)."""
    handle = _open(file, partition=partition, path=path, allow_dirty=allow_dirty)
    try:
        _echo_notices(handle.hive)
        value = handle.hive.key(keypath).value(name)
        if as_json:
            _json_out(value_json(value))
            return
        data(value.type_name)
        for line in render_data(value):
            data(line)
    finally:
        handle.close()


@hive.command("export")
@click.argument("file")
@click.argument("keypath", default="")
@click.option("--prefix", default="", help="Text put before every key path, e.g. "
              "'HKEY_LOCAL_MACHINE\\BCD00000000' (default: paths start with '\\').")
@click.option("--utf16", is_flag=True, help="Write UTF-16LE with a BOM, as regedit does.")
@click.option("--best-effort", is_flag=True, help="Damaged hive: export what can be read; every "
              "unreadable key becomes a '; bcdtool: UNREADABLE' line and a message on stderr, "
              "and the exit code is 3.")
@_allow_dirty_option
@target_options
@click.pass_context
def export(ctx: click.Context, file: str, keypath: str, prefix: str, utf16: bool,
           best_effort: bool, allow_dirty: bool, partition: int | None,
           path: str | None) -> None:
    """Print KEYPATH's subtree (default: the whole hive) as a regedit .reg file.

    Names a .reg file cannot hold (line breaks, control characters; unpaired surrogates
    without --utf16) are refused.  If reading fails part way, the output ends with a
    '; bcdtool: EXPORT INCOMPLETE' line, so it never looks complete."""
    handle = _open(file, partition=partition, path=path, tolerant=best_effort,
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


@hive.command("check")
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
    handle = _open(file, partition=partition, path=path, tolerant=True)
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
            data(f"{f.severity:7} {f.code:14} {where:>10}  {f.message}")
        data(f"{errors} error(s), {warnings} warning(s)")
    if errors:
        ctx.exit(3)


# --- writing commands: set, rm, new ------------------------------------------------------------
_WRITE_TYPES = ("REG_SZ", "REG_EXPAND_SZ", "REG_BINARY", "REG_DWORD", "REG_QWORD", "REG_MULTI_SZ",
                "REG_NONE")


def parse_data(type_name: str, items: tuple[str, ...]) -> tuple[int, bytes]:
    """(type code, raw bytes) from `--type` and the `--data` arguments (issue 2's contract)."""
    code = V.TYPES_BY_NAME[type_name]
    if code == V.REG_MULTI_SZ:
        return code, V.encode_value(code, list(items))
    if code in (V.REG_BINARY, V.REG_NONE) and len(items) <= 1:
        text = "".join(items[0].replace(",", " ").replace(":", " ").split()) if items else ""
        try:
            return code, bytes.fromhex(text)
        except ValueError:
            raise InvalidArgumentError(f"{type_name} data must be hex bytes, not {items[0]!r}") \
                from None
    if len(items) != 1:
        raise InvalidArgumentError(f"{type_name} takes exactly one --data")
    if code in (V.REG_DWORD, V.REG_QWORD):
        text = items[0].strip()
        try:
            number = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
        except ValueError:
            raise InvalidArgumentError(f"{type_name} data must be decimal or 0x-hex, "
                                       f"not {text!r}") from None
        return code, V.encode_value(code, number)
    return code, V.encode_value(code, items[0])


def _edit(file: str, partition: int | None, path: str | None, *, operation: str, edit,
          change: dict, opts: WriteOptions, as_json: bool) -> None:
    """Run `edit(editor)` on the hive of `file` through the recipe runner and print the result."""
    def recipe(hive, notices):
        editor = HiveEditor(hive)
        edit(editor)
        return editor, [change]

    result = run_on_hive(lambda read_only: _open(file, partition=partition, path=path,
                                                 read_only=read_only),
                         escape_name(operation), recipe, opts)
    notes(result.notices)
    if as_json:
        _json_out(result.to_json())
    elif opts.dry_run:
        data(f"dry run: {result.operation}: {len(result.write['plan'])} write(s) planned, "
             "nothing written")
    else:
        data(f"{result.operation}: {result.write['pages_written']} page(s) written, verified")


@hive.command("set")
@click.argument("file")
@click.argument("keypath")
@click.argument("name")
@click.option("--type", "type_name", required=True,
              type=click.Choice(_WRITE_TYPES, case_sensitive=False),
              help="Value type.")
@click.option("--data", "data", multiple=True, help="Data: REG_BINARY as hex, DWORD/QWORD "
              "decimal or 0x-hex, REG_MULTI_SZ one --data per string.")
@write_options
@json_option(help="Print the result (changes, journal, the write plan) as JSON.")
@target_options
def set_(file: str, keypath: str, name: str, type_name: str, data: tuple[str, ...],
         dry_run: bool, backup_dir: str | None, backup: str | None, read_only: bool,
         audit_log: str | None, as_json: bool, partition: int | None, path: str | None) -> None:
    """Set value NAME of KEYPATH ("" = default value), creating missing keys."""
    code, raw = parse_data(type_name, data)

    def edit(editor) -> None:
        editor.create_key(keypath)
        editor.set_value(keypath, name, code, raw)

    _edit(file, partition, path, operation=f"set {keypath}\\{name or '(default)'} {type_name}",
          edit=edit, change={"action": "set", "key": escape_name(keypath),
                             "value": escape_name(name), "type": type_name.upper()},
          opts=WriteOptions(dry_run=dry_run, backup_dir=backup_dir, backup=backup,
                            read_only=read_only, audit_log=audit_log), as_json=as_json)


@hive.command("rm")
@click.argument("file")
@click.argument("keypath")
@click.argument("name", required=False, default=None)
@write_options
@json_option(help="Print the result (changes, journal, the write plan) as JSON.")
@target_options
def rm(file: str, keypath: str, name: str | None, dry_run: bool, backup_dir: str | None,
       backup: str | None, read_only: bool, audit_log: str | None, as_json: bool,
       partition: int | None, path: str | None) -> None:
    """Delete value NAME of KEYPATH, or (no NAME) the key KEYPATH with its whole subtree."""
    def edit(editor) -> None:
        if name is None:
            editor.delete_key(keypath)
        else:
            editor.delete_value(keypath, name)

    what = f"value {keypath}\\{name or '(default)'}" if name is not None else f"key {keypath}"
    _edit(file, partition, path, operation=f"rm {what}", edit=edit,
          change={"action": "delete", "key": escape_name(keypath),
                  "value": None if name is None else escape_name(name)},
          opts=WriteOptions(dry_run=dry_run, backup_dir=backup_dir, backup=backup,
                            read_only=read_only, audit_log=audit_log), as_json=as_json)


@hive.command("new")
@click.argument("file")
@click.option("--minor", type=click.Choice(["3", "4", "5", "6"]), default="5", show_default=True,
              help="Format version 1.x (3 for BCD-style stores).")
@click.option("--root-name", default="ROOT", show_default=True, help="Name of the root key.")
@dry_run_option(help="Build and verify the hive; create nothing.")
@json_option()
@backup_option()
def new(file: str, minor: str, root_name: str, dry_run: bool, as_json: bool,
        backup: str | None) -> None:
    """Create FILE as a new, empty hive (refuses to overwrite an existing file)."""
    path = Path(file)
    if path.exists() or path.is_symlink():
        raise InvalidArgumentError("the file exists; `hive new` never overwrites", path=file)
    image = HiveEditor.new(int(minor), name=path.name, root_name=root_name).to_bytes()
    verify_new_hive(image)
    if backup:
        note("--backup has nothing to save for a new file")
    if not dry_run:
        _create_exclusive(path, image)
    doc = {"target": file, "dry_run": dry_run, "size": len(image), "minor": int(minor)}
    if as_json:
        _json_out(doc)
    else:
        data(f"{'dry run: would create' if dry_run else 'created'} {file} "
             f"({len(image)} bytes, regf 1.{minor})")


def _create_exclusive(path, image: bytes) -> None:
    """Create the new hive file; never over an existing name."""
    try:
        create_new(path, image)
    except FileExistsError:
        raise InvalidArgumentError("the file exists; `hive new` never overwrites",
                                   path=str(path)) from None
    except OSError as exc:
        raise WriteError(f"cannot create the hive: {exc.strerror}", path=str(path)) from None
