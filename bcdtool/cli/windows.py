"""`bcdtool windows info`: offline facts of the installed Windows; the SYSTEM-hive repairs
(`crashdump enable`, `sac enable`) are in cli/windows_repair.py, loaded only when run."""

from __future__ import annotations

import click

from bcdtool.cli import lazy
from bcdtool.cli.options import json_option, partition_option
from bcdtool.cli.output import data, emit, notes
from bcdtool.ops.windows_facts import gather


@click.group(cls=lazy.LazyGroup, table=lazy.WINDOWS)
def windows() -> None:
    """Offline facts and repairs of the installed Windows (SYSTEM and SOFTWARE hives)."""


@click.command()
@click.argument("target")
@partition_option(help="Partition holding Windows (default: found automatically).")
@json_option()
def info(target, partition, as_json) -> None:
    """Edition, control set, crash-dump settings, SAC services, volumes (BitLocker, hibernation)."""
    found = gather(target, partition=partition)
    if as_json:
        emit("windows info", found.to_json(), as_json=True)
        return
    ed = found.edition
    if ed:
        data(f"edition: {ed.product_name} ({ed.edition_id}, {ed.installation_type}, build "
                   f"{ed.build}, {ed.product_type}); "
                   + {True: "Server: SAC available", False: "client: no SAC",
                      None: "SAC availability unknown"}[ed.is_server])
    if found.control_sets:
        data(f"control set: {found.control_sets.current} (SYSTEM\\Select Current)")
    for crash in found.crash:
        data(f"{crash.key}: CrashDumpEnabled={crash.crash_dump_enabled} "
                   f"NMICrashDump={crash.nmi_crash_dump} DumpFile={crash.dump_file}")
    for svc in found.services:
        state = f"Start={svc.start}" if svc.present else "not installed"
        data(f"{svc.key}: {state}")
    data(f"fast startup: {found.fast_startup}")
    for vol in found.volumes:
        data(f"volume {vol.index}: {vol.fs} label={vol.label} bitlocker={vol.bitlocker} "
                   f"hibernated={vol.hibernated} dirty={vol.dirty} stores={vol.stores} "
                   f"windows={vol.windows}")
    notes(found.notes)
