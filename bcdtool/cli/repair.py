"""`bcdtool repair boot TARGET`: re-point the store's devices at the partitions of this disk."""

from __future__ import annotations

import json

import click


@click.group("repair")
def repair() -> None:
    """Repairs of a Windows disk that does not boot."""


@repair.command("boot")
@click.argument("target")
@click.option("--dry-run", is_flag=True, help="Show the changes and the write plan; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--partition", type=int, default=None,
              help="Partition number holding the store (default: the one firmware reads).")
@click.option("--path", "store_path", default=None,
              help="Path of the store inside the partition (default: found automatically).")
@click.option("--backup-dir", default=None, metavar="DIR",
              help="Folder for the undo journal (default: the state folder).")
@click.option("--audit-log", default=None, metavar="FILE",
              help="Audit log (default: $XDG_STATE_HOME/bcdtool/audit.jsonl).")
def boot(target, dry_run, as_json, partition, store_path, backup_dir, audit_log) -> None:
    """Point {bootmgr}, the Windows loaders, their resume and recovery objects at the partitions
    of TARGET that hold their files (boot errors 0xc000000e, 0xc0000034); journaled, verified,
    reversible with `bcdtool undo`."""
    from bcdtool.ops.repair import repair_boot

    result = repair_boot(target, dry_run=dry_run, backup_dir=backup_dir, partition=partition,
                         path=store_path, audit_log=audit_log)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, default=str))
        return
    click.echo(f"store: {result.description}")
    for notice in result.notices:
        click.echo(f"bcdtool: note: {notice}", err=True)
    for left in result.not_repaired:
        click.echo(f"bcdtool: not repaired: {left}", err=True)
    if not result.changes:
        click.echo("nothing to repair: every device names a partition of this disk")
        return
    for move in result.repoints:
        click.echo(f"  {move['label']} {move['element']}: {move['old']} -> {move['new']}")
    if dry_run:
        click.echo(f"dry run: {len(result.write['plan'])} write(s) planned, nothing written")
        return
    click.echo(f"written and verified ({result.write['pages_written']} page(s)); "
               f"undo with: bcdtool undo {result.journal}")
