"""`bcdtool serial-console enable`: the Windows serial console (EMS/SAC) in one verified step."""

from __future__ import annotations

import click

from bcdtool.cli.options import write_options
from bcdtool.cli.output import data, emit, info, notes
from bcdtool.cli.serial_console import recipe_options, serial_options
from bcdtool.ops import serial_console as sc


@click.command()
@click.argument("target")
@recipe_options
@write_options
def enable(target, port, baud, timeout, no_boot_menu, no_bootems, keep_debug, loaders, partition,
           path, as_json, backend, dry_run, backup_dir, backup, read_only, audit_log) -> None:
    """Set EMS on the loader(s), {emssettings} port and speed, bootems, the boot menu and
    timeout, and kernel debugging off; idempotent, journaled, verified."""
    opts = serial_options(port, baud, timeout, no_boot_menu, no_bootems, keep_debug, loaders)
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
