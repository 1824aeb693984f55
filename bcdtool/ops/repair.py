"""Recipes layer: `repair boot` — re-point the store's devices at the partitions of this disk.

A restored, copied or migrated disk keeps a store whose devices name the old disk (boot errors
0xc000000e / 0xc0000034).  ops/bootcheck.py finds each wrong device element and the one partition
that holds what it needs: `{bootmgr}`'s device the partition with the store's boot manager
(`bootmgfw.efi` or `bootmgr`), each Windows loader's `device`/`osdevice` and its resume object the
partition holding its systemroot, a ramdisk's parent the partition holding its `.wim`/`.sdi`.
When several partitions qualify the repair refuses and lists them.  The edits go through the
same recipe runner as every other edit (ops/recipe.py: journaled, verified, audited), so `undo`
reverses them.
"""

from __future__ import annotations

import shlex

from bcdtool.errors import (BcdError, BcdToolError, CorruptionError, DirtyHiveError, FormatError,
                            NotFoundError, UnsupportedError)
from bcdtool.ops import bootcheck
from bcdtool.ops.bootdisk import BootDisk
from bcdtool.ops.recipe import EditResult, WriteOptions, run_staged
from bcdtool.ops.store import open_store


def new_store_command(spec: str) -> str:
    """The exact `new-store` command for the disk `spec`, and where the result goes."""
    try:
        with BootDisk(spec) as disk:
            gpt = disk.table.scheme == "gpt"
            system = next((p.index for p in disk.partitions
                           if (p.is_esp if gpt else p.active)), None)
    except BcdToolError:
        gpt, system = True, None
    firmware = "uefi" if gpt else "bios"
    where = r"EFI/Microsoft/Boot/BCD" if gpt else "Boot/BCD"
    on = f" on partition {system}" if system else ""
    return (f"bcdtool new-store BCD --firmware {firmware} --disk {shlex.quote(spec)}, then copy "
            f"BCD to {where}{on} (mcopy for FAT, ntfscp for NTFS)")


def repair_boot(spec: str, *, dry_run: bool = False, backup_dir=None,
                partition: int | None = None, path: str | None = None,
                audit_log=None, backup: str | None = None, read_only: bool = False,
                other_disks: tuple[str, ...] = ()) -> EditResult:
    """Re-point every wrong device element of the store of disk `spec` (see module doc); with
    `other_disks`, a loader may be pointed at a partition of one of them (the machine's other
    disks, opened read-only: only the store on `spec` is written).

    Raises:
        NotFoundError: no store (the message names the `new-store` command for this disk).
        UnsupportedError: the target is not a disk or image.
        BcdError: a wrong element that several partitions could fix (the choices are listed).
    """
    opts = WriteOptions(dry_run=dry_run, backup_dir=backup_dir, audit_log=audit_log,
                        backup=backup, read_only=read_only)
    try:
        handle, store = open_store(spec, read_only=opts.opens_read_only, partition=partition,
                                   path=path)
    except (NotFoundError, BcdError) as exc:
        raise NotFoundError(f"no BCD store ({exc.message}); make one for this disk: "
                            f"{new_store_command(spec)}", path=spec) from None
    except (FormatError, CorruptionError, DirtyHiveError) as exc:
        # Same class (same exit code), with the way out added.
        raise type(exc)(f"the BCD store cannot be read ({exc.message}); make a new one for "
                        f"this disk: {new_store_command(spec)}", path=exc.path,
                        offset=exc.offset) from None
    with handle:
        if handle.location.get("kind") not in ("image", "device"):
            raise UnsupportedError("repair boot needs the whole disk (an image or block "
                                   "device): partitions are named by the disk's identity",
                                   path=spec)
        with BootDisk(spec, other_disks) as disk:
            if disk.layout is None:
                raise UnsupportedError("the disk has no MBR or GPT partition table", path=spec)
            verdicts = bootcheck.check(store, disk, handle.location.get("partition") or None,
                                       shlex.quote(spec))
        ambiguous = [v.refusal for v in verdicts if v.refusal and "several" in v.refusal]
        if ambiguous:
            raise BcdError("repair boot cannot tell which partition is meant: "
                           + " | ".join(ambiguous) + "; set it yourself with bcdtool bcdedit "
                           f"--store {shlex.quote(spec)} /set {{id}} device partition=#N",
                           path=spec)
        return run_staged(handle, store, "repair boot", lambda store, notices: _repoint(
            store, verdicts, shlex.quote(spec)), opts)


def _repoint(store, verdicts: list, target: str) -> dict:
    """Stage every re-pointing; the result's `repoints` and `not_repaired` details (`target`:
    the disk as the next steps name it)."""
    repoints = []
    for verdict in verdicts:
        move = verdict.repoint
        if move is None:
            continue
        store.set_element(move.guid, move.code, move.new)
        repoints.append({"object": move.guid, "label": move.label, "element": move.element,
                         "partition": move.index, "disk": move.disk or None,
                         "old": move.shown(move.old), "new": move.shown(move.new)})
    return {"repoints": repoints, "not_repaired": [v.refusal.replace("TARGET", target)
                                                   for v in verdicts if v.refusal]}
