"""`bcdtool enum`: the better offline `bcdedit /enum`.

Apart from `bcdtool bcdedit` (cli/bcd.py) so that listing a store imports none of bcdedit's
parser, help, argument and write machinery (start-up, issue 12).
"""

from __future__ import annotations

import click

from bcdtool.bcd import enum as render
from bcdtool.cli.options import backend_option, json_option, target_options
from bcdtool.cli.output import data, emit, info, notes
from bcdtool.errors import BcdToolError
from bcdtool.ops.bootdisk import BootDisk
from bcdtool.ops.store import open_store


@click.command("enum")
@click.argument("target")
@target_options
@backend_option()
@click.option("--all", "show_all", is_flag=True, help="Every object, not only the active ones.")
@click.option("-v", "--verbose", is_flag=True, help="Also show setup-template elements.")
@json_option(help="Every element with code, name, format, raw hex and decoded value.")
@click.option("--id", "identifier", default=None, help="Show only this object (GUID or alias).")
def enum(target, partition, path, backend, show_all, verbose, as_json, identifier) -> None:
    """List the BCD store of TARGET like `bcdedit /enum`, with aliases and GUIDs together."""
    handle, store = open_store(target, read_only=True, partition=partition, path=path,
                               backend=backend)
    with handle:
        chosen = render.select(store, identifier or ("all" if show_all else "active"))
        disk = disk_layout(handle.location)
        notes(store.notices)
        if as_json:
            emit("enum", {"target": handle.location, "store": handle.description,
                          **render.to_json(store, chosen, disk)}, as_json=True)
            return
        info(f"store: {handle.description}")
        view = render.View(verbose=verbose, better=True, disk=disk)
        data(render.render(store, chosen, view), nl=False)


def disk_layout(location: dict):
    """For a store read from a disk or image, that disk's identity (MBR signature or GPT disk
    GUID and its partitions), so partition devices on it can be named; else None."""
    if location.get("kind") not in ("image", "device"):
        return None
    try:
        with BootDisk(location["target"]) as disk:
            return disk.layout
    except BcdToolError:
        return None  # naming partitions is a convenience; the listing stands without it
