"""`bcdtool serial-console enable|status`: the Windows serial console (EMS/SAC) in one step."""

from __future__ import annotations

import click

from bcdtool.bcd.objects import alias_of
from bcdtool.cli.options import (backend_option, json_option, partition_option, path_option,
                                 write_options)
from bcdtool.cli.output import data, emit, info, notes
from bcdtool.errors import EXIT_PROBLEMS
from bcdtool.ops import serial_console as sc
from bcdtool.urls import redact


def _recipe_options(func):
    options = [
        click.option("--port", type=int, default=1, show_default=True, help="EMS port (COMn)."),
        click.option("--baud", type=int, default=115200, show_default=True, help="EMS speed."),
        click.option("--timeout", type=int, default=5, show_default=True,
                     help="Seconds the boot menu waits."),
        click.option("--no-boot-menu", is_flag=True,
                     help="Leave displaybootmenu and timeout of {bootmgr} alone."),
        click.option("--no-bootems", is_flag=True, help="Leave EMS of {bootmgr} alone."),
        click.option("--keep-debug", is_flag=True, help="Leave kernel debugging as it is."),
        click.option("--loaders", type=click.Choice(["default", "all"]), default="default",
                     show_default=True, help="Which Windows loaders get EMS."),
        partition_option(),
        path_option(),
        json_option(),
        backend_option(),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _options(port, baud, timeout, no_boot_menu, no_bootems, keep_debug, loaders):
    return sc.SerialOptions(port=port, baud=baud, timeout=timeout, boot_menu=not no_boot_menu,
                         bootems=not no_bootems, keep_debug=keep_debug, loaders=loaders)


@click.group("serial-console")
def serial_console() -> None:
    """Turn on and inspect the Windows serial console (EMS/SAC) of a store, disk or image."""


@serial_console.command()
@click.argument("target")
@_recipe_options
@write_options
def enable(target, port, baud, timeout, no_boot_menu, no_bootems, keep_debug, loaders, partition,
           path, as_json, backend, dry_run, backup_dir, backup, read_only, audit_log) -> None:
    """Set EMS on the loader(s), {emssettings} port and speed, bootems, the boot menu and
    timeout, and kernel debugging off; idempotent, journaled, verified."""
    opts = _options(port, baud, timeout, no_boot_menu, no_bootems, keep_debug, loaders)
    result = sc.enable(target, opts, dry_run=dry_run, backup_dir=backup_dir, backup=backup,
                       read_only=read_only, partition=partition, path=path,
                       audit_log=audit_log, backend=backend)
    if as_json:
        emit("serial-console enable", result.to_json(), as_json=True)
        return
    info(f"store: {result.description}")
    notes(result.notices)
    if not result.changes:
        data("nothing to change: the serial console is already set up")
        return
    for change in result.changes:
        data(f"  {change['text']}")
    if dry_run:
        data(f"dry run: {len(result.write['plan'])} write(s) planned, nothing written")
        return
    data(f"written and verified ({result.write['pages_written']} page(s)); "
         f"undo with: bcdtool undo {result.journal}")


@serial_console.command()
@click.argument("target")
@_recipe_options
@click.pass_context
def status(ctx, target, port, baud, timeout, no_boot_menu, no_bootems, keep_debug, loaders,
           partition, path, as_json, backend) -> None:
    """Each setting: expected, the object's own value, the effective value (exit 3 if any is
    wrong)."""
    opts = _options(port, baud, timeout, no_boot_menu, no_bootems, keep_debug, loaders)
    doc = sc.status(target, opts, partition=partition, path=path, backend=backend)
    if as_json:
        emit("serial-console status", doc, as_json=True)
    else:
        info(f"store: {doc['description']}")
        for row in doc["settings"]:
            mark = "ok " if row["ok"] else "BAD"
            via = "" if row["source"] in (None, row["object"]) else \
                f" (from {alias_of(row['source']) or row['source']})"
            data(f"  [{mark}] {row['label']:10} {row['element']:16} expected "
                 f"{_show(row['expected'])}, set {_show(row['actual'])}, effective "
                 f"{_show(row['effective'])}{via}")
        data("result: " + ("ok" if doc["ok"] else "the serial console is not fully set up"
                           " (fix: bcdtool serial-console enable " + redact(target) + ")"))
    if not doc["ok"]:
        ctx.exit(EXIT_PROBLEMS)


def _show(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)
