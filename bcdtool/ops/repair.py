"""Recipes layer: `repair boot` — re-point the store's devices at the partitions of this disk.

A restored, copied or migrated disk keeps a store whose devices name the old disk (boot errors
0xc000000e / 0xc0000034).  ops/bootcheck.py finds each wrong device element and the one partition
that holds what it needs: `{bootmgr}`'s device the partition with the store's boot manager
(`bootmgfw.efi` or `bootmgr`), each Windows loader's `device`/`osdevice` and its resume object the
partition holding its systemroot, a ramdisk's parent the partition holding its `.wim`/`.sdi`.
When several partitions qualify the repair refuses and lists them.  The edits go through the
same journaled, verified commit as every other edit (HiveHandle.commit), so `undo` reverses them.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from bcdtool.errors import (BcdError, BcdToolError, CorruptionError, DirtyHiveError, FormatError,
                            NotFoundError, UnsupportedError)
from bcdtool.ops import bootcheck
from bcdtool.ops import serial_console as sc
from bcdtool.ops.bootdisk import BootDisk
from bcdtool.ops.store import open_store


@dataclass
class RepairResult:
    """What `repair boot` changed (or would, on a dry run), and what it left alone and why."""

    store: dict
    description: str
    dry_run: bool
    changes: list[dict] = field(default_factory=list)
    repoints: list[dict] = field(default_factory=list)
    not_repaired: list[str] = field(default_factory=list)
    journal: str | None = None
    write: dict | None = None
    audit: dict | None = None
    notices: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """The JSON object of this result."""
        return dict(self.__dict__)


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
                audit_log=None) -> RepairResult:
    """Re-point every wrong device element of the store of disk `spec` (see module doc).

    Raises:
        NotFoundError: no store (the message names the `new-store` command for this disk).
        UnsupportedError: the target is not a disk or image.
        BcdError: a wrong element that several partitions could fix (the choices are listed).
    """
    try:
        handle, store = open_store(spec, read_only=dry_run, partition=partition, path=path)
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
        with BootDisk(spec) as disk:
            if disk.layout is None:
                raise UnsupportedError("the disk has no MBR or GPT partition table", path=spec)
            verdicts = bootcheck.check(store, disk, handle.location.get("partition") or None,
                                       shlex.quote(spec))
        result = RepairResult(store=handle.location, description=handle.description,
                              dry_run=dry_run, notices=list(store.notices))
        ambiguous = [v.refusal for v in verdicts if v.refusal and "several" in v.refusal]
        if ambiguous:
            raise BcdError("repair boot cannot tell which partition is meant: "
                           + " | ".join(ambiguous) + "; set it yourself with bcdtool bcdedit "
                           f"--store {shlex.quote(spec)} /set {{id}} device partition=#N",
                           path=spec)
        result.not_repaired = [v.refusal for v in verdicts if v.refusal]
        for verdict in verdicts:
            move = verdict.repoint
            if move is None:
                continue
            store.set_element(move.guid, move.code, move.new)
            result.repoints.append({"object": move.guid, "label": move.label,
                                    "element": move.element, "partition": move.index,
                                    "old": move.old.text(detailed=True),
                                    "new": move.new.text(detailed=True)})
        result.changes = sc.changes_json(store)
        if not result.changes:
            return result
        written = handle.commit(sc.new_image(store), dry_run=dry_run, backup_dir=backup_dir,
                                operation="repair boot", diff=result.changes,
                                audit_log=audit_log, planned=store.planned)
        result.write = written.to_dict()
        result.journal = written.journal
        result.notices.extend(written.notices)
        result.audit = written.audit
        return result
