"""`bcdtool hive set|rm|new`: edit registry hives through the recipe runner (journaled, verified),
or create one; the reading commands are in cli/hive.py."""

from __future__ import annotations

from pathlib import Path

import click

from bcdtool.cli.hive import json_out, open_target
from bcdtool.cli.options import (backup_option, dry_run_option, json_option, target_options,
                                 write_options)
from bcdtool.cli.output import data, note, notes
from bcdtool.errors import InvalidArgumentError
from bcdtool.ops.newfile import create_file
from bcdtool.ops.recipe import WriteOptions, run_on_hive
from bcdtool.regf import values as V
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.verify import verify_new_hive
from bcdtool.wintext import escape_name

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

    result = run_on_hive(lambda read_only: open_target(file, partition=partition, path=path,
                                                 read_only=read_only),
                         escape_name(operation), recipe, opts)
    notes(result.notices)
    if as_json:
        json_out(result.to_json())
    elif opts.dry_run:
        data(f"dry run: {result.operation}: {len(result.write['plan'])} write(s) planned, "
             "nothing written")
    else:
        data(f"{result.operation}: {result.write['pages_written']} page(s) written, verified")


@click.command("set")
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


@click.command("rm")
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


@click.command("new")
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
    changes = create_file(path, image, WriteOptions(dry_run=dry_run), error=InvalidArgumentError,
                          exists="the file exists; `hive new` never overwrites")
    # a new file has no undo journal: removing it undoes it
    doc = {"target": file, "dry_run": dry_run, "size": len(image), "minor": int(minor),
           "changes": changes, "journal": None}
    if as_json:
        json_out(doc)
    else:
        data(f"{'dry run: would create' if dry_run else 'created'} {file} "
             f"({len(image)} bytes, regf 1.{minor})")
