"""`bcdtool bcdedit` (paste-compatible bcdedit); `bcdtool enum` is in cli/bcd_enum.py."""

from __future__ import annotations

import os

import click

from bcdtool.bcd import bcdedit as be
from bcdtool.bcd import bcdedit_help
from bcdtool.cli import lazy
from bcdtool.cli.options import backend_option, json_option, target_options, write_options
from bcdtool.cli.output import data, emit, note, notes
from bcdtool.errors import BcdError, InvalidArgumentError, LiveSystemError
from bcdtool.locate import detect
from bcdtool.ops import bcdedit_read
from bcdtool.ops.edits import EditResult, WriteOptions
from bcdtool.ops.newfile import create_file


@click.command("bcdedit", context_settings={"ignore_unknown_options": True,
                                             "allow_interspersed_args": False})
@click.option("--store", "store_spec", default=None,
              help="TARGET: a BCD file, folder, block device or disk image (or use /store).")
@target_options
@backend_option()
@write_options
@json_option(help="Print {schema, operation, location, description, command, changes, journal, "
                  "write, lines, ...} instead of bcdedit's text (options go before the bcdedit "
                  "arguments).")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bcdedit(store_spec, partition, path, backend, dry_run, backup_dir, backup, read_only,
            audit_log, as_json, args) -> None:
    """Run a bcdedit command line offline, e.g. `bcdedit /store BCD /ems {default} on`.

    Commands: /enum /set /deletevalue /ems /bootems /debug /bootdebug /event /emssettings
    /dbgsettings /eventsettings /hypervisorsettings /timeout /default /displayorder
    /toolsdisplayorder /bootsequence /create /copy /mirror /delete /createstore /export
    /import [/clean] /? [topic]; switches with - or /, a pasted leading `bcdedit` ignored.
    {current} means {default} offline; /sysstore and a missing /store need a running Windows
    (exit 37).
    """
    cmd = be.parse_args(list(args))
    if cmd.name == "help":
        lines = bcdedit_help.render(cmd.args)
        emit("bcdedit", {"command": "help", "lines": lines}, as_json=as_json, lines=lines)
        return
    if cmd.name == "sysstore":
        be.sysstore()
    opts = WriteOptions(dry_run=dry_run, backup_dir=backup_dir, backup=backup,
                        read_only=read_only, audit_log=audit_log)
    if cmd.name == "createstore":
        _createstore(cmd.args, opts, as_json)
        return
    spec = _store_spec(store_spec, cmd.store)
    if spec != cmd.store and _windows_path(cmd.store) and detect.detect_kind(spec) == detect.HIVE:
        # `/store F:\boot\bcd` pasted with the store file itself as --store: the same store
        notes([f"/store {cmd.store}: the store is {spec}"])
    elif path is None and spec != cmd.store and _windows_path(cmd.store):
        # `/store F:\boot\bcd` pasted from a Windows procedure, with the disk as --store: the
        # letter is the rescue machine's, the path is the store's path on the disk.
        path = cmd.store[2:].replace("\\", "/").strip("/")
        notes([f"/store {cmd.store}: looking for {path} on {spec} (the drive "
               "letter is the machine's that ran bcdedit)"])
    # A command that only reads never loads the write path (cli/lazy.py).
    run = lazy.load(lazy.BCDEDIT_RUN) if cmd.writes else bcdedit_read.show
    result, outcome = run(spec, cmd, list(args), opts, partition=partition, path=path,
                          backend=backend)
    notes(result.notices)
    if dry_run and result.changes and not as_json:
        for change in result.changes:
            data(change["text"])
        data(f"dry run: {len(result.write['plan'])} write(s) planned, nothing written")
        return
    if outcome.new_file is not None:        # /export: the store's bytes into a new file
        result.changes += _new_file(*outcome.new_file, opts)
        if dry_run:
            note(f"dry run: {outcome.new_file[0]} not written")
    emit("bcdedit", {**result.to_json(), "command": cmd.name, "lines": outcome.lines},
         as_json=as_json, lines=outcome.lines)


def _windows_path(text: str | None) -> bool:
    """`F:\\boot\\bcd`: a store path as Windows procedures write it."""
    return bool(text) and len(text) > 3 and text[0].isalpha() and text[1:3] in (":\\", ":/")


def _store_spec(option: str | None, inline: str | None) -> str:
    if option and _windows_path(inline):
        return option
    if option and inline and os.path.abspath(option) != os.path.abspath(inline):
        raise InvalidArgumentError("--store and /store name different stores")
    spec = option or inline
    if not spec:
        raise LiveSystemError("without /store, bcdedit edits the running Windows' system store; "
                              "offline there is none: name the store with /store TARGET or "
                              "--store TARGET (a BCD file, the mounted ESP or System Reserved "
                              "folder, a block device or a disk image)")
    if _windows_path(spec) and not os.path.lexists(spec):
        raise InvalidArgumentError(f"{spec} is a Windows path: name the store as this machine "
                                   "sees it (the BCD file or the mounted partition), or the disk "
                                   f"with --store DISK and keep /store {spec} for the path on it")
    return spec


def _createstore(args: list[str], opts: WriteOptions, as_json: bool) -> None:
    if len(args) != 1:
        raise InvalidArgumentError("/createstore takes one file name")
    path = be.local_file(args[0], "/createstore")
    # the same document as every other bcdedit command's (a new file has no undo journal)
    result = EditResult(f"bcdedit /createstore {args[0]}", {"target": path, "kind": "file"},
                        f"new store file {path}", opts.dry_run,
                        _new_file(path, be.new_store_image(), opts))
    lines = [f"dry run: {args[0]} not written"] if opts.dry_run else [be.SUCCESS]
    emit("bcdedit", {**result.to_json(), "command": "createstore", "lines": lines},
         as_json=as_json, lines=lines)


def _new_file(path: str, data: bytes, opts: WriteOptions) -> list[dict]:
    return create_file(path, data, opts, error=BcdError, failed=BcdError,
                       exists="The file exists; bcdtool does not overwrite it.")
