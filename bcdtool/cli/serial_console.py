"""`bcdtool serial-console enable|status`: the Windows serial console (EMS/SAC) in one step."""

from __future__ import annotations

import json

import click

from bcdtool.errors import EXIT_PROBLEMS
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
        click.option("--partition", type=int, default=None,
                     help="Partition number holding the store (disks and images)."),
        click.option("--path", "store_path", default=None,
                     help="Path of the store inside the target (default: found automatically)."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object."),
        click.option("--backend", type=click.Choice(["native", "guestfs"]), default="native",
                     help="guestfs: reach the store through libguestfs (LVM, other file systems)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _options(port, baud, timeout, no_boot_menu, no_bootems, keep_debug, loaders):
    from bcdtool.ops.serial_console import SerialOptions

    return SerialOptions(port=port, baud=baud, timeout=timeout, boot_menu=not no_boot_menu,
                         bootems=not no_bootems, keep_debug=keep_debug, loaders=loaders)


@click.group("serial-console")
def serial_console() -> None:
    """Turn on and inspect the Windows serial console (EMS/SAC) of a store, disk or image."""


@serial_console.command()
@click.argument("target")
@_recipe_options
@click.option("--dry-run", is_flag=True, help="Show the changes and the write plan; write nothing.")
@click.option("--backup-dir", default=None, metavar="DIR",
              help="Folder for the undo journal and backups (default: the state folder).")
@click.option("--backup", default=None, metavar="PATH",
              help="Also copy the store's original bytes to PATH before writing.")
@click.option("--read-only", is_flag=True,
              help="Forensic: open everything without write access (a needed write fails).")
@click.option("--audit-log", default=None, metavar="FILE",
              help="Audit log (default: $XDG_STATE_HOME/bcdtool/audit.jsonl).")
def enable(target, port, baud, timeout, no_boot_menu, no_bootems, keep_debug, loaders, partition,
           store_path, as_json, backend, dry_run, backup_dir, backup, read_only, audit_log) -> None:
    """Set EMS on the loader(s), {emssettings} port and speed, bootems, the boot menu and
    timeout, and kernel debugging off; idempotent, journaled, verified."""
    from bcdtool.ops import serial_console as sc

    opts = _options(port, baud, timeout, no_boot_menu, no_bootems, keep_debug, loaders)
    result = sc.enable(target, opts, dry_run=dry_run, backup_dir=backup_dir, backup=backup,
                       read_only=read_only, partition=partition, path=store_path,
                       audit_log=audit_log, backend=backend)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    click.echo(f"store: {result.description}")
    for notice in result.notices:
        click.echo(f"bcdtool: note: {notice}", err=True)
    if not result.changes:
        click.echo("nothing to change: the serial console is already set up")
        return
    for change in result.changes:
        click.echo(f"  {change['text']}")
    if dry_run:
        click.echo(f"dry run: {len(result.write['plan'])} write(s) planned, nothing written")
        return
    click.echo(f"written and verified ({result.write['pages_written']} page(s)); "
               f"undo with: bcdtool undo {result.journal}")


@serial_console.command()
@click.argument("target")
@_recipe_options
@click.pass_context
def status(ctx, target, port, baud, timeout, no_boot_menu, no_bootems, keep_debug, loaders,
           partition, store_path, as_json, backend) -> None:
    """Each setting: expected, the object's own value, the effective value (exit 3 if any is
    wrong)."""
    from bcdtool.bcd.objects import alias_of
    from bcdtool.ops import serial_console as sc

    opts = _options(port, baud, timeout, no_boot_menu, no_bootems, keep_debug, loaders)
    doc = sc.status(target, opts, partition=partition, path=store_path, backend=backend)
    if as_json:
        click.echo(json.dumps(doc, indent=2, default=str))
    else:
        click.echo(f"store: {doc['description']}")
        for row in doc["settings"]:
            mark = "ok " if row["ok"] else "BAD"
            via = "" if row["source"] in (None, row["object"]) else \
                f" (from {alias_of(row['source']) or row['source']})"
            click.echo(f"  [{mark}] {row['label']:10} {row['element']:16} expected "
                       f"{_show(row['expected'])}, set {_show(row['actual'])}, effective "
                       f"{_show(row['effective'])}{via}")
        click.echo("result: " + ("ok" if doc["ok"] else "the serial console is not fully set up"
                                 " (fix: bcdtool serial-console enable " + redact(target) + ")"))
    if not doc["ok"]:
        ctx.exit(EXIT_PROBLEMS)


def _show(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)
