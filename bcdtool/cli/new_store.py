"""`bcdtool new-store FILE --firmware uefi|bios`: a new system store, built as bcdboot would."""

from __future__ import annotations

import click

from bcdtool.bcd.template import StoreLayout
from bcdtool.cli.options import dry_run_option, json_option
from bcdtool.cli.output import data, emit, notes
from bcdtool.errors import InvalidArgumentError
from bcdtool.ops import new_store as ns
from bcdtool.ops.edits import WriteOptions


@click.command("new-store")
@click.argument("file")
@click.option("--firmware", type=click.Choice(["uefi", "bios"]), required=True,
              help="UEFI (store on the ESP) or BIOS (store on the active partition).")
@click.option("--disk", default=None, metavar="TARGET",
              help="Disk or image whose partitions the store names (ESP/active + Windows).")
@click.option("--system-partition", default=None, metavar="ID",
              help="The system partition as gpt:{disk}:{partition} or mbr:SIGNATURE:OFFSET.")
@click.option("--windows-partition", default=None, metavar="ID",
              help="The Windows partition, same syntax.")
@click.option("--description", default="Windows Server", show_default=True,
              help="Name of the Windows loader in the boot menu.")
@click.option("--locale", default="en-US", show_default=True,
              help="The locale element of the new objects (boot menu language).")
@dry_run_option(help="Build the store and show it; create nothing.")
@json_option(help="Print what was created as JSON.")
def new_store(file, firmware, disk, system_partition, windows_partition, description, locale,
              dry_run, as_json) -> None:
    """Create FILE: {bootmgr}, a Windows loader and its resume object with partition devices,
    {memdiag} and the settings objects ({globalsettings}, {emssettings}, ...)."""
    why: list[str] = []
    system = ns.partition_device(system_partition) if system_partition else None
    windows = ns.partition_device(windows_partition) if windows_partition else None
    if disk:
        found_system, found_windows, why = ns.disk_partitions(disk, firmware)
        system, windows = system or found_system, windows or found_windows
    if system is None or windows is None:
        raise InvalidArgumentError("name the partitions: --disk TARGET, or --system-partition "
                                   "and --windows-partition")
    image, changes = ns.create(file, StoreLayout(firmware, system, windows,
                                                 description=description, locale=locale),
                               WriteOptions(dry_run=dry_run))
    if as_json:
        # a new file has no undo journal: removing it undoes it
        emit("new-store", {"file": file, "size": len(image), "firmware": firmware,
                           "system": system.to_json(), "windows": windows.to_json(),
                           "chosen": why, "dry_run": dry_run, "changes": changes,
                           "journal": None}, as_json=True)
        return
    notes(why)
    done = "dry run: would create" if dry_run else "created"
    data(f"{done} {file} ({len(image)} bytes, {firmware}): system {system.identity()}, "
         f"Windows {windows.identity()}")
