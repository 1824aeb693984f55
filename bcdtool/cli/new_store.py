"""`bcdtool new-store FILE --firmware uefi|bios`: a new system store, built as bcdboot would."""

from __future__ import annotations

import json

import click

from bcdtool.errors import InvalidArgumentError


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
@click.option("--locale", default="en-US", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print what was created as JSON.")
def new_store(file, firmware, disk, system_partition, windows_partition, description, locale,
              as_json) -> None:
    """Create FILE: {bootmgr}, a Windows loader and its resume object with partition devices,
    {memdiag} and the settings objects ({globalsettings}, {emssettings}, ...)."""
    from bcdtool.bcd.template import StoreLayout
    from bcdtool.ops import new_store as ns

    why: list[str] = []
    system = ns.partition_device(system_partition) if system_partition else None
    windows = ns.partition_device(windows_partition) if windows_partition else None
    if disk:
        found_system, found_windows, why = ns.disk_partitions(disk, firmware)
        system, windows = system or found_system, windows or found_windows
    if system is None or windows is None:
        raise InvalidArgumentError("name the partitions: --disk TARGET, or --system-partition "
                                   "and --windows-partition")
    data = ns.create(file, StoreLayout(firmware, system, windows, description=description,
                                       locale=locale))
    if as_json:
        click.echo(json.dumps({"file": file, "size": len(data), "firmware": firmware,
                               "system": system.to_json(), "windows": windows.to_json(),
                               "chosen": why}, indent=2))
        return
    for line in why:
        click.echo(f"bcdtool: note: {line}", err=True)
    click.echo(f"created {file} ({len(data)} bytes, {firmware}): system {system.identity()}, "
               f"Windows {windows.identity()}")
