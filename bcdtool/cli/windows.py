"""`bcdtool windows info|crashdump enable|sac enable`: offline facts and SYSTEM-hive repairs."""

from __future__ import annotations

import json

import click

from bcdtool.cli.options import strict_option
from bcdtool.errors import InvalidArgumentError

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
    options = [
        click.option("--partition", type=int, default=None,
                     help="Partition holding Windows (default: found automatically)."),
        click.option("--dry-run", is_flag=True, help="Show the changes; write nothing."),
        strict_option(),
        click.option("--backup-dir", default=None, metavar="DIR",
                     help="Folder for the undo journal and backups."),
        click.option("--backup", default=None, metavar="PATH",
                     help="Also copy the hive's original bytes to PATH before writing."),
        click.option("--read-only", is_flag=True,
                     help="Forensic: open everything without write access."),
        click.option("--audit-log", default=None, metavar="FILE",
                     help="Audit log (default: $XDG_STATE_HOME/bcdtool/audit.jsonl)."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _show(result, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, default=str))
        return
    click.echo(f"hive: {result.hive.get('path')} in {result.hive.get('target')}")
    for note in result.notices:
        click.echo(f"bcdtool: note: {note}", err=True)
    if not result.changes:
        click.echo("nothing to change")
        return
    for change in result.changes:
        old = "(absent)" if change["old"] is None else change["old"]
        click.echo(f"  {change['key']}\\{change['value']}: {old} -> {change['new']}")
    if result.dry_run:
        click.echo("dry run: nothing written")
    else:
        click.echo(f"written and verified; undo with: bcdtool undo {result.journal}")


@click.group()
def windows() -> None:
    """Offline facts and repairs of the installed Windows (SYSTEM and SOFTWARE hives)."""


@windows.command()
@click.argument("target")
@click.option("--partition", type=int, default=None, help="Partition holding Windows.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(target, partition, as_json) -> None:
    """Edition, control set, crash-dump settings, SAC services, volumes (BitLocker, hibernation)."""
    from bcdtool.ops.windows import gather

    found = gather(target, partition=partition)
    if as_json:
        click.echo(json.dumps(found.to_json(), indent=2, default=str))
        return
    ed = found.edition
    if ed:
        click.echo(f"edition: {ed.product_name} ({ed.edition_id}, {ed.installation_type}, build "
                   f"{ed.build}, {ed.product_type}); "
                   + {True: "Server: SAC available", False: "client: no SAC",
                      None: "SAC availability unknown"}[ed.is_server])
    if found.control_sets:
        click.echo(f"control set: {found.control_sets.current} (SYSTEM\\Select Current)")
    for crash in found.crash:
        click.echo(f"{crash.key}: CrashDumpEnabled={crash.crash_dump_enabled} "
                   f"NMICrashDump={crash.nmi_crash_dump} DumpFile={crash.dump_file}")
    for svc in found.services:
        state = f"Start={svc.start}" if svc.present else "not installed"
        click.echo(f"{svc.key}: {state}")
    click.echo(f"fast startup: {found.fast_startup}")
    for vol in found.volumes:
        click.echo(f"volume {vol.index}: {vol.fs} label={vol.label} bitlocker={vol.bitlocker} "
                   f"hibernated={vol.hibernated} dirty={vol.dirty} stores={vol.stores} "
                   f"windows={vol.windows}")
    for note in found.notes:
        click.echo(f"note: {note}")


@windows.group()
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
    from bcdtool.ops.windows import crashdump_enable as run

    _show(run(target, dump_file=dump_file, ram_bytes=_size(ram), dry_run=dry_run,
              backup_dir=backup_dir, backup=backup, read_only=read_only, partition=partition,
              audit_log=audit_log), as_json)


@windows.group()
def sac() -> None:
    """The Special Administration Console services."""


@sac.command("enable")
@click.argument("target")
@_write_options
def sac_enable(target, partition, dry_run, backup_dir, backup, read_only, audit_log,
               as_json) -> None:
    """Set a disabled sacsvr (Special Administration Console Helper) back to manual start."""
    from bcdtool.ops.windows import sac_enable as run

    _show(run(target, dry_run=dry_run, backup_dir=backup_dir, backup=backup,
              read_only=read_only, partition=partition, audit_log=audit_log), as_json)
