"""MBR (with extended/logical chains) and GPT (CRC-checked, backup fallback) partition tables."""

from __future__ import annotations

import uuid
import zlib
from typing import NamedTuple

from bcdtool.blockdev import partitions_layout_packed as L
from bcdtool.blockdev.base import BlockDevice, RangeView
from bcdtool.errors import (CorruptionError, FormatError, ImageError, InvalidArgumentError,
                            next_step)
from bcdtool.log import get_logger

log = get_logger(__name__)

#: Bounds that keep hostile tables cheap: logical partitions in an EBR chain, GPT entry bytes.
MAX_LOGICAL = 128
MAX_GPT_ENTRY_BYTES = 1024 * 1024
#: Partitions looked into at most (a hostile table may claim thousands).
MAX_PARTITIONS = 128

GPT_TYPES = {
    "c12a7328-f81f-11d2-ba4b-00a0c93ec93b": "EFI System",
    "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7": "Microsoft basic data",
    "e3c9e316-0b5c-4db8-817d-f92df00215ae": "Microsoft reserved",
    "de94bba4-06d1-4d40-a16a-bfd50179d6ac": "Windows recovery environment",
    "5808c8aa-7e8f-42e0-85d2-e1e90434cfb3": "Microsoft LDM metadata",
    "af9b60a0-1431-4f62-bc68-3311714a69ad": "Microsoft LDM data",
    "e75caf8f-f680-4cee-afa3-b001e56efc2d": "Microsoft storage spaces",
    "21686148-6449-6e6f-744e-656564454649": "BIOS boot",
    "0fc63daf-8483-4772-8e79-3d69d8477de4": "Linux filesystem",
    "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f": "Linux swap",
    "e6d6d379-f507-44c2-a23c-238f2a3df928": "Linux LVM",
    "a19d880f-05fc-4d3b-a006-743f0f84911e": "Linux RAID",
    "4f68bce3-e8cd-4db1-96e7-fbcaf984b709": "Linux root (x86-64)",
    "bc13c2ff-59e6-4262-a352-b275fd6f7172": "Linux extended boot",
}

MBR_TYPES = {
    0x01: "FAT12", 0x04: "FAT16 <32M", 0x05: "Extended", 0x06: "FAT16",
    0x07: "NTFS/exFAT/HPFS", 0x0B: "FAT32", 0x0C: "FAT32 (LBA)", 0x0E: "FAT16 (LBA)",
    0x0F: "Extended (LBA)", 0x11: "Hidden FAT12", 0x17: "Hidden NTFS", 0x1B: "Hidden FAT32",
    0x1C: "Hidden FAT32 (LBA)", 0x27: "Windows recovery environment", 0x42: "Windows LDM",
    0x82: "Linux swap", 0x83: "Linux", 0x85: "Linux extended", 0x8E: "Linux LVM",
    0xEE: "GPT protective", 0xEF: "EFI System", 0xFD: "Linux RAID",
}
EXTENDED_TYPES = {0x05, 0x0F, 0x85}
ESP_TYPE = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
BASIC_DATA_TYPE = "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7"
#: GPT attribute bit 2: legacy BIOS bootable.
GPT_LEGACY_BOOTABLE = 1 << 2


class Partition(NamedTuple):
    """One partition; `start` and `length` are in bytes, `index` is 1-based like Linux (sda5...)."""

    index: int
    start: int
    length: int
    scheme: str            # "mbr" or "gpt"
    type: str              # MBR: "0x07"; GPT: lower-case type GUID
    type_name: str
    name: str = ""         # GPT partition name
    bootable: bool = False  # MBR active flag, GPT legacy-BIOS-bootable attribute
    guid: str = ""         # GPT unique partition GUID
    attributes: int = 0

    @property
    def active(self) -> bool:
        """Alias of `bootable` in MBR words."""
        return self.bootable

    @property
    def is_esp(self) -> bool:
        """An EFI System Partition (GPT type or MBR 0xEF)."""
        return self.type in (ESP_TYPE, "0xef")

    def view(self, dev: BlockDevice) -> RangeView:
        """The partition's bytes as a device (writable only if `dev` is)."""
        return RangeView(dev, self.start, self.length, name=f"{dev.name}#{self.index}")


class PartitionTable(NamedTuple):
    """A disk's partitions, the scheme found and what was noticed while reading (backup GPT used).

    The disk's identity is what Windows names its partitions by (BCD devices, MountedDevices):
    the GPT disk GUID (lower case, no braces, like `Partition.guid`) or the MBR disk signature.
    """

    scheme: str | None
    partitions: list[Partition]
    notices: tuple[str, ...] = ()
    disk_guid: str | None = None
    disk_signature: int | None = None

    def partition(self, index: int) -> Partition | None:
        """The partition numbered `index` (1-based, as Linux numbers them), else None."""
        return next((p for p in self.partitions if p.index == index), None)

    @property
    def looked_at(self) -> list[Partition]:
        """The partitions bcdtool looks into: the first MAX_PARTITIONS."""
        return self.partitions[:MAX_PARTITIONS]

    def select(self, index: int, *, path: str) -> Partition | None:
        """The partition a user chose with `--partition index`; None for 0 on a disk without a
        partition table (its one file system).  Anything else that is not there is refused,
        naming the partitions that are (the one message every command gives)."""
        if index == 0 and not self.partitions:
            return None
        chosen = next((p for p in self.looked_at if p.index == index), None)
        if chosen is None:
            have = ", ".join(str(p.index) for p in self.looked_at) or "none"
            raise InvalidArgumentError(f"no partition {index} on this disk (partitions: {have})",
                                       path=path)
        return chosen


@next_step("inspect the table with `sfdisk -d` or `gdisk -l` (read-only); gdisk can rebuild a "
           "GPT from its backup copy (on a copy of the image)", CorruptionError, FormatError,
           ImageError)
def read_partition_table(dev: BlockDevice) -> PartitionTable:
    """Read MBR and, when a protective MBR or a GPT header says so, the GPT."""
    if dev.size < 512:
        return PartitionTable(None, [])
    sector = dev.read_at(0, 512)
    mbr = L.mbr_sector.parse(sector, what="MBR", path=dev.name)
    mbr_ok = mbr.signature == L.MBR_SIGNATURE and _plausible_mbr(sector, mbr)
    protective = mbr_ok and any(e.os_type == 0xEE for e in mbr.partition_record)
    if protective or not mbr_ok:
        table = _read_gpt(dev, required=protective)
        if table is not None:
            return table
    if not mbr_ok:
        return PartitionTable(None, [])
    return PartitionTable("mbr", _read_mbr(dev, mbr),
                          disk_signature=mbr.unique_mbr_disk_signature)


def _plausible_mbr(sector: bytes, mbr) -> bool:
    # A FAT or NTFS boot sector also ends in 55 AA; its "entries" are boot code.
    if sector[3:11] in (b"NTFS    ", b"EXFAT   ") or sector[0x36:0x39] == b"FAT" \
            or sector[0x52:0x57] == b"FAT32":
        return False
    return all(e.boot_indicator in (0, 0x80) for e in mbr.partition_record)


# -- MBR ----------------------------------------------------------------------------------------
def _read_mbr(dev: BlockDevice, mbr) -> list[Partition]:
    ss = dev.sector_size  # MBR LBAs count logical sectors (4096 on 4Kn disks and VHDX)
    parts: list[Partition] = []
    extended = None
    for slot, entry in enumerate(mbr.partition_record, 1):
        if entry.os_type == 0 or entry.size_in_lba == 0:
            continue
        if entry.os_type in EXTENDED_TYPES:
            if extended is not None:
                raise CorruptionError("MBR has two extended partitions", path=dev.name)
            extended = entry
            continue
        parts.append(_mbr_partition(dev, slot, entry.starting_lba * ss, entry, ss))
    if extended is not None:
        parts.extend(_read_logical(dev, extended.starting_lba, extended.size_in_lba, ss))
    return parts


def _mbr_partition(dev: BlockDevice, index: int, start: int, entry, ss: int) -> Partition:
    length = entry.size_in_lba * ss
    if start + length > dev.size:
        raise ImageError(f"partition {index} ends beyond the end of the {dev.size}-byte disk",
                         path=dev.name, offset=start)
    return Partition(index=index, start=start, length=length, scheme="mbr",
                     type=f"0x{entry.os_type:02x}",
                     type_name=MBR_TYPES.get(entry.os_type, "unknown"),
                     bootable=entry.boot_indicator == 0x80)


def _read_logical(dev: BlockDevice, ext_lba: int, ext_sectors: int, ss: int) -> list[Partition]:
    parts: list[Partition] = []
    seen: set[int] = set()
    ebr_rel = 0
    while True:
        if ebr_rel in seen:
            raise CorruptionError("extended partition chain loops", path=dev.name,
                                  offset=(ext_lba + ebr_rel) * ss)
        if len(seen) >= MAX_LOGICAL:
            raise CorruptionError(f"more than {MAX_LOGICAL} logical partitions", path=dev.name)
        seen.add(ebr_rel)
        if ebr_rel >= ext_sectors or (ext_lba + ebr_rel + 1) * ss > dev.size:
            raise ImageError("extended boot record outside the extended partition",
                             path=dev.name, offset=(ext_lba + ebr_rel) * ss)
        ebr_lba = ext_lba + ebr_rel
        ebr = L.mbr_sector.parse(dev.read_at(ebr_lba * ss, 512), what="EBR",
                               path=dev.name)
        if ebr.signature != L.MBR_SIGNATURE:
            raise FormatError("extended boot record lacks its 55 AA signature", path=dev.name,
                              offset=ebr_lba * ss)
        logical, link = ebr.partition_record[0], ebr.partition_record[1]
        if logical.os_type != 0 and logical.size_in_lba:
            start_lba = ebr_lba + logical.starting_lba
            if start_lba + logical.size_in_lba > ext_lba + ext_sectors:
                raise ImageError("logical partition extends beyond its extended partition",
                                 path=dev.name, offset=start_lba * ss)
            parts.append(_mbr_partition(dev, 5 + len(parts), start_lba * ss, logical, ss))
        if link.os_type not in EXTENDED_TYPES or link.size_in_lba == 0:
            return parts
        ebr_rel = link.starting_lba


# -- GPT ----------------------------------------------------------------------------------------
def _read_gpt(dev: BlockDevice, *, required: bool) -> PartitionTable | None:
    problems: list[str] = []
    for ss in _sector_sizes(dev):
        if dev.size < 3 * ss:
            continue
        primary = _gpt_at(dev, 1, ss, problems)
        if primary is not None:
            return PartitionTable("gpt", primary[0], disk_guid=primary[1])
        if dev.read_at(ss, 8) != L.GPT_SIGNATURE and not required:
            continue
        backup = _gpt_at(dev, dev.size // ss - 1, ss, problems)
        if backup is not None:
            notice = f"primary GPT unusable ({problems[0]}); used the backup GPT"
            log.warning("%s: %s", dev.name, notice)
            return PartitionTable("gpt", backup[0], (notice,), disk_guid=backup[1])
    if required:
        raise ImageError("protective MBR but no valid GPT: " + "; ".join(problems or ["no header"]),
                         path=dev.name)
    return None


def _sector_sizes(dev: BlockDevice) -> list[int]:
    return [dev.sector_size] + [s for s in (512, 4096) if s != dev.sector_size]


def _gpt_at(dev: BlockDevice, lba: int, ss: int,
            problems: list[str]) -> tuple[list[Partition], str] | None:
    """(partitions, disk GUID) of the GPT whose header is at `lba`, or None (problem noted)."""
    where = "primary" if lba == 1 else "backup"
    raw = dev.read_at(lba * ss, ss)
    if raw[:8] != L.GPT_SIGNATURE:
        problems.append(f"{where} GPT header signature missing")
        return None
    hdr = L.gpt_header.parse(raw, what="GPT header", path=dev.name)
    if not 92 <= hdr.header_size <= ss:
        problems.append(f"{where} GPT header size {hdr.header_size} invalid")
        return None
    body = bytearray(raw[:hdr.header_size])
    body[L.GPT_HEADER_CRC_OFFSET:L.GPT_HEADER_CRC_OFFSET + 4] = bytes(4)
    if zlib.crc32(body) != hdr.header_crc32:
        problems.append(f"{where} GPT header CRC mismatch")
        return None
    if hdr.my_lba != lba:
        problems.append(f"{where} GPT header names LBA {hdr.my_lba}, found at {lba}")
        return None
    esize, count = hdr.size_of_partition_entry, hdr.number_of_partition_entries
    table_bytes = esize * count
    if esize < 128 or esize % 8 or table_bytes > MAX_GPT_ENTRY_BYTES:
        problems.append(f"{where} GPT entry array size {count}x{esize} invalid")
        return None
    table_start = hdr.partition_entry_lba * ss
    if table_start + table_bytes > dev.size or hdr.partition_entry_lba < 2 and lba == 1:
        problems.append(f"{where} GPT entry array outside the disk")
        return None
    table = dev.read_at(table_start, table_bytes)
    if zlib.crc32(table) != hdr.partition_entry_array_crc32:
        problems.append(f"{where} GPT entry array CRC mismatch")
        return None
    parts = []
    for i in range(count):
        # An unused entry has an all-zero type GUID (its first 16 bytes): most of the 128
        # entries, skipped before construct parses them (a parse each costs start-up time).
        if table[i * esize:i * esize + 16] == bytes(16):
            continue
        e = L.gpt_entry.parse(table, offset=i * esize, what="GPT entry", path=dev.name)
        if e.ending_lba < e.starting_lba or (e.ending_lba + 1) * ss > dev.size:
            raise ImageError(f"GPT partition {i + 1} lies outside the disk", path=dev.name,
                             offset=e.starting_lba * ss)
        type_guid = str(uuid.UUID(bytes_le=e.partition_type_guid))
        name = e.partition_name.decode("utf-16-le", "replace").split("\0", 1)[0]
        parts.append(Partition(
            index=i + 1, start=e.starting_lba * ss, length=(e.ending_lba - e.starting_lba + 1) * ss,
            scheme="gpt", type=type_guid, type_name=GPT_TYPES.get(type_guid, "unknown"), name=name,
            bootable=bool(e.attributes & GPT_LEGACY_BOOTABLE),
            guid=str(uuid.UUID(bytes_le=e.unique_partition_guid)), attributes=e.attributes))
    return parts, str(uuid.UUID(bytes_le=hdr.disk_guid))
