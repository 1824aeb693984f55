"""`bcdtool windows crashdump enable|sac enable`: SYSTEM-hive repairs through the recipe runner
(journaled, verified); `windows info` is in cli/windows.py."""

from __future__ import annotations

import click

from bcdtool.cli.options import json_option, partition_option, write_options
from bcdtool.cli.output import data, emit, info as context, notes
from bcdtool.errors import InvalidArgumentError
from bcdtool.ops import windows as ops

_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


def _size(text: str | None) -> int | None:
    if text is None:
        return None
    raw = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = raw[-1:] if raw[-1:] in _UNITS and raw[-1:] else ""
    number = raw[:-1] if unit else raw
    try:
        size = int(float(number) * _UNITS[unit])
    except (ValueError, OverflowError):
        size = 0
    if size <= 0:
        raise InvalidArgumentError(f"not a size: {text!r} (e.g. 16G, 8192M)")
    return size


def _write_options(func):
    for decorator in (json_option(), write_options,
                      partition_option(help="Partition holding Windows (default: found "
                                            "automatically).")):
        func = decorator(func)
    return func


def _show(command: str, result, as_json: bool) -> None:
    if as_json:
        emit(command, result.to_json(), as_json=True)
        return
    context(f"hive: {result.location.get('path')} in {result.location.get('target')}")
    notes(result.notices)
    if not result.changes:
        data("nothing to change")
        return
    for change in result.changes:
        old = "(absent)" if change["old"] is None else change["old"]
        data(f"  {change['key']}\\{change['value']}: {old} -> {change['new']}")
    if result.dry_run:
        data("dry run: nothing written")
    else:
        data(f"written and verified; undo with: bcdtool undo {result.journal}")


@click.group()
def crashdump() -> None:
    """Crash dump on NMI (CrashControl)."""


@crashdump.command("enable")
@click.argument("target")
@click.option("--dump-file", default=None, metavar="PATH",
              help=r"DumpFile (default: kept, else %SystemRoot%\MEMORY.DMP).")
@click.option("--ram", default=None, metavar="SIZE",
              help="The VM's memory (e.g. 16G), to check the dump fits.")
@_write_options
def crashdump_enable(target, dump_file, ram, partition, dry_run, backup_dir, backup, read_only,
                     audit_log, as_json) -> None:
    """Set CrashDumpEnabled, NMICrashDump=1 and DumpFile in the active control set(s)."""
    result = ops.crashdump_enable(target, dump_file=dump_file, ram_bytes=_size(ram),
                                  dry_run=dry_run, backup_dir=backup_dir, backup=backup,
                                  read_only=read_only, partition=partition, audit_log=audit_log)
    _show("windows crashdump enable", result, as_json)


@click.group()
def sac() -> None:
    """The Special Administration Console services."""


@sac.command("enable")
@click.argument("target")
@_write_options
def sac_enable(target, partition, dry_run, backup_dir, backup, read_only, audit_log,
               as_json) -> None:
    """Set a disabled sacsvr (Special Administration Console Helper) back to manual start."""
    result = ops.sac_enable(target, dry_run=dry_run, backup_dir=backup_dir, backup=backup,
                            read_only=read_only, partition=partition, audit_log=audit_log)
    _show("windows sac enable", result, as_json)
