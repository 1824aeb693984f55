"""Recipes layer: `new-store` — a bcdboot-like store whose partition devices name a real disk.

The store template (bcd/template.py) needs the partitions' identities as Windows sees them: the
GPT disk GUID and partition GUIDs, or the MBR disk signature and partition byte offsets.  They are
read here from the disk's partition table; the Windows volume is the NTFS partition that holds
`Windows/System32/config/SYSTEM`.
"""

from __future__ import annotations

import os

from bcdtool.bcd.device import PartitionDevice, parse_device_text
from bcdtool.bcd.objects import normalize_guid
from bcdtool.bcd.template import StoreLayout, build_store
from bcdtool.blockdev.partitions import Partition
from bcdtool.errors import BcdError, InvalidArgumentError, NotFoundError
from bcdtool.ops.bootdisk import BootDisk
from bcdtool.ops.edits import WriteOptions
from bcdtool.ops.newfile import create_file

#: The file that marks the Windows volume (folders cannot be looked up on every filesystem).
WINDOWS_MARK = "Windows/System32/config/SYSTEM"


def partition_device(spec: str) -> PartitionDevice:
    """A partition named as `gpt:{disk}:{partition}` or `mbr:SIGNATURE:OFFSET`."""
    dev = parse_device_text("partition=" + spec, normalize_guid)
    if not isinstance(dev, PartitionDevice):
        raise InvalidArgumentError(f"not a partition: {spec!r}")
    return dev


def disk_partitions(spec: str, firmware: str) -> tuple[PartitionDevice, PartitionDevice, list[str]]:
    """(system partition, Windows partition, why each was chosen) read from disk `spec`."""
    with BootDisk(spec) as disk:
        parts = disk.partitions
        if disk.layout is None or not parts:
            raise NotFoundError("the disk has no partition table", path=spec)
        system, why_system = _system_partition(parts, firmware)
        windows, why_windows = _windows_partition(disk, parts, system)
        ident = [disk.device(p.index) for p in (system, windows)]
    return ident[0], ident[1], [f"system partition {system.index}: {why_system}",
                                f"Windows partition {windows.index}: {why_windows}"]


def _system_partition(parts: list[Partition], firmware: str) -> tuple[Partition, str]:
    if firmware == "uefi":
        esp = [p for p in parts if p.is_esp]
        if not esp:
            raise NotFoundError("a UEFI store needs an EFI system partition; the disk has none")
        return esp[0], "the EFI system partition"
    active = [p for p in parts if p.active]
    if active:
        return active[0], "the active partition"
    return parts[0], "the first partition (none is active)"


def _windows_partition(disk: BootDisk, parts: list[Partition],
                       system: Partition) -> tuple[Partition, str]:
    for part in parts:
        if disk.filesystem(part.index) == "ntfs" and disk.has_file(part.index, WINDOWS_MARK):
            return part, f"the NTFS partition holding {WINDOWS_MARK}"
    others = [p for p in parts if p.index != system.index and not p.is_esp]
    if others:
        return others[0], f"the first data partition (no {WINDOWS_MARK} found)"
    return system, "the system partition itself (the disk has no other)"


def create(path: str | os.PathLike, layout: StoreLayout,
           opts: WriteOptions | None = None) -> tuple[bytes, list[dict]]:
    """Write a new store file at `path` (never overwriting; nothing for a dry run); its bytes
    and the change."""
    data = build_store(layout)
    return data, create_file(path, data, opts or WriteOptions(), error=BcdError, failed=BcdError,
                             exists="the file exists; bcdtool does not overwrite it")
