"""Recipes layer: `new-store` — a bcdboot-like store whose partition devices name a real disk.

The store template (bcd/template.py) needs the partitions' identities as Windows sees them: the
GPT disk GUID and partition GUIDs, or the MBR disk signature and partition byte offsets.  They are
read here from the disk's partition table; the Windows volume is the NTFS partition that holds
`Windows/System32/config/SYSTEM`.
"""

from __future__ import annotations

import os

from bcdtool import _construct
from bcdtool.bcd.device import PartitionDevice, parse_device_text
from bcdtool.bcd.objects import guid_from_bytes_le, normalize_guid
from bcdtool.bcd.template import StoreLayout, build_store
from bcdtool.blockdev import partitions_layout as PL
from bcdtool.blockdev.detect import open_image
from bcdtool.blockdev.partitions import Partition, read_partition_table
from bcdtool.errors import BcdError, BcdToolError, InvalidArgumentError, NotFoundError

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
    with open_image(spec, writable=False) as dev:
        table = read_partition_table(dev)
        parts = table.partitions
        if table.scheme not in ("gpt", "mbr") or not parts:
            raise NotFoundError("the disk has no partition table", path=spec)
        if table.scheme == "gpt":
            header = _construct.parse(PL.gpt_header, dev.read_at(dev.sector_size, 512),
                                      what="GPT header", path=spec)
            disk_id = guid_from_bytes_le(header.disk_guid)
        else:
            disk_id = _construct.parse(PL.mbr_sector, dev.read_at(0, 512), what="MBR",
                                       path=spec).unique_mbr_disk_signature
        system, why_system = _system_partition(parts, firmware)
        windows, why_windows = _windows_partition(dev, parts, system)
        ident = [_identity(table.scheme, disk_id, p) for p in (system, windows)]
    return ident[0], ident[1], [f"system partition {system.index}: {why_system}",
                                f"Windows partition {windows.index}: {why_windows}"]


def _identity(scheme: str, disk_id, part: Partition) -> PartitionDevice:
    if scheme == "gpt":
        return PartitionDevice(style="gpt", disk_guid=disk_id,
                               partition_guid=normalize_guid("{" + part.guid.strip("{}") + "}"))
    return PartitionDevice(style="mbr", disk_signature=disk_id, partition_offset=part.start)


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


def _windows_partition(dev, parts: list[Partition], system: Partition) -> tuple[Partition, str]:
    from bcdtool.fs import open_volume, probe

    for part in parts:
        view = part.view(dev)
        if probe(view) != "ntfs":
            continue
        try:
            open_volume(view).find(WINDOWS_MARK)
        except BcdToolError:        # absent, or an unreadable volume: not the Windows one
            continue
        return part, f"the NTFS partition holding {WINDOWS_MARK}"
    others = [p for p in parts if p.index != system.index and not p.is_esp]
    if others:
        return others[0], f"the first data partition (no {WINDOWS_MARK} found)"
    return system, "the system partition itself (the disk has no other)"


def create(path: str | os.PathLike, layout: StoreLayout) -> bytes:
    """Write a new store file at `path` (never overwriting) and return its bytes."""
    data = build_store(layout)
    try:
        with open(path, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except FileExistsError:
        raise BcdError("the file exists; bcdtool does not overwrite it", path=str(path)) from None
    except OSError as exc:
        raise BcdError(f"cannot create the file: {exc.strerror}", path=str(path)) from None
    return data
