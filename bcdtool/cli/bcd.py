"""`bcdtool bcdedit` (paste-compatible bcdedit) and `bcdtool enum` (the better offline /enum)."""

from __future__ import annotations

import json
import os

import click

from bcdtool.errors import BcdError, HiveSpaceError, InvalidArgumentError
from bcdtool.ops.store import open_store


def commit_store(handle, image: bytes, *, operation: str, diff: list, dry_run: bool,
                 backup_dir: str | None):
    """The one place BCD commands write a store back (plan, back up, write, verify)."""
    return handle.commit(image, dry_run=dry_run, backup_dir=backup_dir, operation=operation,
                         diff=diff)


def _new_image(store) -> bytes:
    # Same size keeps filesystem metadata untouched (required inside images); a plain file may
    # grow when the edit does not fit, and the target layer refuses where that is impossible.
    try:
        return store.to_bytes(same_size=True)
    except HiveSpaceError:
        return store.to_bytes()


def _echo_notices(notices: list[str]) -> None:
    for notice in notices:
        click.echo(f"bcdtool: note: {notice}", err=True)


_TARGET_OPTIONS = [
    click.option("--partition", type=int, default=None,
                 help="Partition number holding the store (disks and images)."),
    click.option("--path", "store_path", default=None,
                 help="Path of the store inside the target (default: found automatically)."),
    click.option("--backend", type=click.Choice(["native", "guestfs"]), default="native",
                 help="guestfs: reach the store through libguestfs (LVM, other file systems; "
                      "needs python3-guestfs)."),
]


def _target_options(func):
    for option in reversed(_TARGET_OPTIONS):
        func = option(func)
    return func


@click.command("bcdedit", context_settings={"ignore_unknown_options": True,
                                             "allow_interspersed_args": False})
@click.option("--store", "store_spec", default=None,
              help="TARGET: a BCD file, folder, block device or disk image (or use /store).")
@_target_options
@click.option("--dry-run", is_flag=True, help="Show the changes without writing anything.")
@click.option("--backup-dir", default=None, help="Folder for the undo journal and backups.")
@click.option("--read-only", is_flag=True,
              help="Forensic: open every file and device without write access; writes fail.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bcdedit(store_spec, partition, store_path, backend, dry_run, backup_dir, read_only,
            args) -> None:
    """Run a bcdedit command line offline, e.g. `bcdedit /store BCD /ems {default} on`.

    Commands: /enum /set /deletevalue /ems /bootems /debug /bootdebug /emssettings
    /dbgsettings /timeout /default /displayorder /toolsdisplayorder /bootsequence /create
    /copy /delete /createstore /export /import.  {current} means {default} offline.
    """
    from bcdtool.bcd import bcdedit as be
    from bcdtool.bcd.enum import change_json, describe_change

    cmd = be.parse_args(list(args))
    if cmd.name == "createstore":
        _createstore(cmd.args)
        return
    spec = _store_spec(store_spec, cmd.store)
    handle, store = open_store(spec, read_only=read_only or not cmd.writes or dry_run,
                               partition=partition, path=store_path, backend=backend)
    with handle:
        if cmd.name == "import":
            outcome = be.import_store(store, _read_store(cmd.args))
        else:
            outcome = be.execute(cmd, store)
        image = _new_image(store) if store.diff() else None
        _echo_notices(outcome.notices)
        if image is not None:
            diff = store.diff()
            result = commit_store(handle, image, operation="bcdedit " + " ".join(args),
                                  diff=[change_json(store, c) for c in diff], dry_run=dry_run,
                                  backup_dir=backup_dir)
            _echo_notices(result.notices)
            if dry_run:
                for change in diff:
                    click.echo(describe_change(store, change))
                click.echo(f"dry run: {len(result.plan)} write(s) planned, nothing written")
                return
        if outcome.new_file is not None:
            _write_new_file(*outcome.new_file)
    for line in outcome.lines:
        click.echo(line)


def _store_spec(option: str | None, inline: str | None) -> str:
    if option and inline and os.path.abspath(option) != os.path.abspath(inline):
        raise InvalidArgumentError("--store and /store name different stores")
    spec = option or inline
    if not spec:
        raise InvalidArgumentError("offline there is no system store: name one with /store "
                                   "TARGET or --store TARGET")
    return spec


def _createstore(args: list[str]) -> None:
    from bcdtool.bcd.bcdedit import SUCCESS, new_store_image

    if len(args) != 1:
        raise InvalidArgumentError("/createstore takes one file name")
    _write_new_file(args[0], new_store_image())
    click.echo(SUCCESS)


def _write_new_file(path: str, data: bytes) -> None:
    try:
        with open(path, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except FileExistsError:
        raise BcdError("The file exists; bcdtool does not overwrite it.", path=path) from None
    except OSError as exc:
        raise BcdError(f"cannot create the file: {exc.strerror}", path=path) from None


def _read_store(args: list[str]):
    from bcdtool.bcd.store import BcdStore
    from bcdtool.regf.hive import Hive

    if len(args) != 1:
        raise InvalidArgumentError("/import takes one file name")
    return BcdStore(Hive.open(args[0]))


@click.command("enum")
@click.argument("target")
@_target_options
@click.option("--all", "show_all", is_flag=True, help="Every object, not only the active ones.")
@click.option("-v", "--verbose", is_flag=True, help="Also show setup-template elements.")
@click.option("--json", "as_json", is_flag=True,
              help="Every element with code, name, format, raw hex and decoded value.")
@click.option("--id", "identifier", default=None, help="Show only this object (GUID or alias).")
def enum(target, partition, store_path, backend, show_all, verbose, as_json, identifier) -> None:
    """List the BCD store of TARGET like `bcdedit /enum`, with aliases and GUIDs together."""
    from bcdtool.bcd import enum as render

    handle, store = open_store(target, read_only=True, partition=partition, path=store_path,
                               backend=backend)
    with handle:
        chosen = render.select(store, identifier or ("all" if show_all else "active"))
        disk = disk_layout(handle.location)
        if as_json:
            doc = {"target": handle.location, "store": handle.description,
                   **render.to_json(store, chosen, disk)}
            click.echo(json.dumps(doc, indent=2))
            return
        _echo_notices(store.notices)
        click.echo(f"store: {handle.description}", err=True)
        view = render.View(verbose=verbose, better=True, disk=disk)
        click.echo(render.render(store, chosen, view), nl=False)


def disk_layout(location: dict):
    """For a store read from a disk or image, that disk's identity (MBR signature or GPT disk
    GUID and its partitions), so partition devices on it can be named; else None."""
    if location.get("kind") not in ("image", "device"):
        return None
    from bcdtool.errors import BcdToolError
    from bcdtool.ops.bootdisk import BootDisk

    try:
        with BootDisk(location["target"]) as disk:
            return disk.layout
    except BcdToolError:
        return None  # naming partitions is a convenience; the listing stands without it
