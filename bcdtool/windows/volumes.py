"""Windows layer: the volumes of a TARGET and what matters to a repair — BitLocker, hibernation,
dirty flag, which BCD stores and which Windows installations they hold.

A disk or image is read through its partition table (every FAT and NTFS volume is opened
read-only); a folder is one volume; a hive file has no volumes.
"""

from __future__ import annotations

import os
import uuid
from typing import NamedTuple

from bcdtool.blockdev.disk import Disk
from bcdtool.errors import BcdToolError, FormatError, NotFoundError
from bcdtool.fs.probe import probe
from bcdtool.fs.volume import open_volume
from bcdtool.fs.bootsector_layout_packed import BiosParameterBlock
from bcdtool.fs.directory import DirectoryVolume
from bcdtool.locate import detect
from bcdtool.locate.directory import BCD_PATHS
from bcdtool.locate.discover import BIOS_STORE, UEFI_STORE
from bcdtool.windows.facts import SYSTEM_PATH


#: `MountedDevices` data of a GPT partition: this prefix, then the partition's unique GUID.
_GPT_MOUNT_PREFIX = b"DMIO:ID:"


class MountedVolume(NamedTuple):
    """What Windows' `SYSTEM\\MountedDevices` says a drive letter is: an MBR partition by disk
    signature and byte offset, or a GPT partition by its unique GUID (lower case, no braces)."""
    letter: str                     # "C"
    style: str                      # "mbr", "gpt" or "other" (a volume GUID path, a CD, ...)
    disk_signature: int | None = None
    offset: int | None = None
    partition_guid: str | None = None


def drive_letters(system) -> dict[str, MountedVolume]:
    """The drive letters the Windows of SYSTEM hive `system` assigned (`\\DosDevices\\C:`
    values of `MountedDevices`), by upper-case letter; empty when the key is missing."""
    try:
        values = system.root.subkey("MountedDevices").values()
    except NotFoundError:
        return {}
    out: dict[str, MountedVolume] = {}
    for value in values:
        name = value.name
        if not (name.lower().startswith("\\dosdevices\\") and len(name) == 14
                and name[12].isalpha() and name[13] == ":"):
            continue
        letter = name[12].upper()
        data = value.raw
        if len(data) == 12:
            out[letter] = MountedVolume(letter, "mbr",
                                        disk_signature=int.from_bytes(data[:4], "little"),
                                        offset=int.from_bytes(data[4:12], "little"))
        elif len(data) == 24 and data.startswith(_GPT_MOUNT_PREFIX):
            out[letter] = MountedVolume(letter, "gpt",
                                        partition_guid=str(uuid.UUID(bytes_le=data[8:24])))
        else:
            out[letter] = MountedVolume(letter, "other")
    return out


class VolumeInfo:
    """One volume of the target (a plain class, filled in as the volume is read: `enum` and
    every boot check import this module, and a dataclass compiles its methods at import)."""

    def __init__(self, index: int, fs: str | None, *, label: str | None = None,
                 esp: bool = False, active: bool = False, bitlocker: bool = False,
                 hibernated: bool | None = None, dirty: bool | None = None,
                 notes: list[str] | None = None) -> None:
        self.index = index                  # partition number; 0 = the whole device or a folder
        self.fs = fs
        self.label = label
        self.esp = esp
        self.active = active
        self.bitlocker = bitlocker
        self.hibernated = hibernated
        self.dirty = dirty
        self.free_bytes: int | None = None  # None: not asked for, or cannot be told
        self.stores: list[str] = []
        self.windows = False                # holds Windows/System32/config/SYSTEM
        self.notes: list[str] = list(notes or [])

    def to_json(self) -> dict:
        """The JSON object of this volume (its remarks are `notices`, as in every document)."""
        doc = dict(self.__dict__)
        doc["notices"] = doc.pop("notes")
        return doc


def scan(spec: str, *, free_space: bool = False) -> list[VolumeInfo]:
    """Every volume of `spec` with its facts (empty for a hive file); with `free_space`, the
    free bytes of folders and of NTFS volumes holding Windows (their $Bitmap is read)."""
    kind = detect.detect_kind(spec)
    if kind == detect.HIVE:
        return []
    if kind == detect.DIRECTORY:
        return [_directory(spec)]
    return _disk(spec, free_space)


def _directory(spec: str) -> VolumeInfo:

    volume = DirectoryVolume(spec)
    facts = volume.facts()
    info = VolumeInfo(0, "directory", hibernated=facts.hibernated, dirty=facts.dirty,
                      notes=list(facts.notes))
    try:
        stat = os.statvfs(spec)
        info.free_bytes = stat.f_bavail * stat.f_frsize
    except OSError:
        pass
    info.stores = [rel for rel, _ in BCD_PATHS if _has(volume, rel)]
    info.windows = _has(volume, SYSTEM_PATH)
    return info


def _disk(spec: str, free_space: bool) -> list[VolumeInfo]:

    with Disk.open(spec) as disk:
        if not disk.partitions:
            return [_volume(disk.dev, 0, False, False, free_space)]
        return [_volume(p.view(disk.dev), p.index, p.is_esp, p.active, free_space)
                for p in disk.partitions]


def _volume(view, index: int, esp: bool, active: bool, free_space: bool) -> VolumeInfo:

    fs = probe(view)
    info = VolumeInfo(index, fs, esp=esp, active=active, bitlocker=fs == "bitlocker")
    if fs not in ("fat", "ntfs"):
        return info
    try:
        volume = open_volume(view)
        facts = volume.facts()
    except BcdToolError as exc:
        info.notes.append(f"unreadable {fs} volume: {exc}")
        return info
    info.label, info.hibernated, info.dirty = facts.label, facts.hibernated, facts.dirty
    info.notes.extend(facts.notes)
    info.stores = [rel for rel in (UEFI_STORE, BIOS_STORE) if _has(volume, rel)]
    info.windows = fs == "ntfs" and _has(volume, SYSTEM_PATH)
    if free_space and info.windows:
        try:
            info.free_bytes = ntfs_free_bytes(view, volume)
        except BcdToolError as exc:
            info.notes.append(f"free space unknown: {exc}")
    return info


def ntfs_free_bytes(view, volume) -> int:
    """Free bytes of an NTFS volume: clear bits of $Bitmap (one bit per cluster).

    Raises:
        FormatError: when the boot sector's cluster size makes no sense.
    """
    bpb = BiosParameterBlock.parse(view.read_at(0, BiosParameterBlock.sizeof()),
                           what="NTFS boot sector")
    # Sectors per cluster above 0x80 encode 2^(256 - n) (clusters of 64 KiB and more).
    per_cluster = bpb.bpb_sec_per_clus if bpb.bpb_sec_per_clus <= 0x80 else \
        1 << (256 - bpb.bpb_sec_per_clus)
    cluster = bpb.bpb_byts_per_sec * per_cluster
    if cluster <= 0 or cluster > 1 << 21:
        raise FormatError(f"NTFS cluster size {cluster} is not plausible")
    # The boot sector's sector count leaves out the last sector (the backup boot sector).
    clusters = (view.size // bpb.bpb_byts_per_sec - 1) // per_cluster
    bitmap = volume.read(volume.find("$Bitmap"))[:(clusters + 7) // 8]
    # Bits past the last cluster (padding of the final byte) are not clusters.
    used = int.from_bytes(bitmap, "little") & ((1 << clusters) - 1)
    return max(clusters - used.bit_count(), 0) * cluster


def _has(volume, rel: str) -> bool:
    try:
        volume.find(rel)
    except BcdToolError:        # absent, or unreadable: either way not usable
        return False
    return True
