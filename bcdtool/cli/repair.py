"""`bcdtool repair boot TARGET`: re-point the store's devices at the partitions of this disk."""

from __future__ import annotations

import click

from bcdtool.cli.options import (json_option, other_disk_option, partition_option, path_option,
                                 write_options)
from bcdtool.cli.output import data, emit, info, notes
from bcdtool.errors import EXIT_PROBLEMS
from bcdtool.ops.repair import repair_boot


@click.group("repair")
def repair() -> None:
    """Repairs of a Windows disk that does not boot."""


@repair.command("boot")
@click.argument("target")
@write_options
@json_option()
@partition_option(help="Partition number holding the store (default: the one firmware reads).")
@path_option()
@other_disk_option()
@click.pass_context
def boot(ctx, target, dry_run, backup_dir, backup, read_only, audit_log, as_json, partition,
         path, other_disks) -> None:
    """Point {bootmgr}, the Windows loaders, their resume and recovery objects at the partitions
    of TARGET that hold their files (boot errors 0xc000000e, 0xc0000034); journaled, verified,
    reversible with `bcdtool undo`.  Exit 3 when something could not be repaired."""
    result = repair_boot(target, dry_run=dry_run, backup_dir=backup_dir, partition=partition,
                         path=path, audit_log=audit_log, backup=backup, read_only=read_only,
                         other_disks=other_disks)
    if as_json:
        emit("repair boot", result.to_json(), as_json=True)
    else:
        _show(result, dry_run)
    if result.details["not_repaired"]:
        ctx.exit(EXIT_PROBLEMS)


def _show(result, dry_run: bool) -> None:
    info(f"store: {result.description}")
    notes(result.notices)
    for left in result.details["not_repaired"]:
        info(f"bcdtool: not repaired: {left}")
    if not result.changes:
        data("nothing repaired" if result.details["not_repaired"] else
             "nothing to repair: every device names a partition of this disk")
        return
    for move in result.details["repoints"]:
        on = f" (on {move['disk']})" if move["disk"] else ""
        data(f"  {move['label']} {move['element']}: {move['old']} -> {move['new']}{on}")
    if dry_run:
        data(f"dry run: {len(result.write['plan'])} write(s) planned, nothing written")
        return
    data(f"written and verified ({result.write['pages_written']} page(s)); "
         f"undo with: bcdtool undo {result.journal}")
