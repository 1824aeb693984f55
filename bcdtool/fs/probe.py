"""Which filesystem a volume holds, from its boot sector or superblock magic alone."""

from __future__ import annotations

from bcdtool.blockdev.base import BlockDevice
from bcdtool.errors import FormatError
from bcdtool.fs import bootsector_layout_packed as L

_FAT_MEDIA = {0xF0, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF}


def probe(dev: BlockDevice) -> str | None:
    """'fat', 'ntfs', 'ext', 'bitlocker' or None, reading at most the first 2 KiB."""
    if dev.size < 512:
        return None
    sector = dev.read_at(0, 512)
    oem = sector[3:11]
    if oem == L.OEM_BITLOCKER:
        return "bitlocker"
    if oem == L.OEM_NTFS and sector[510:512] == L.BOOT_SIGNATURE:
        return "ntfs"
    if is_fat_boot_sector(sector):
        return "fat"
    end = L.EXT_SUPERBLOCK_OFFSET + 58
    if dev.size >= end:
        magic = dev.read_at(end - 2, 2)
        if int.from_bytes(magic, "little") == L.EXT_MAGIC:
            return "ext"
    return None


def is_fat_boot_sector(sector: bytes) -> bool:
    """True when the BPB is self-consistent the way fatgen103 requires of a FAT volume."""
    try:
        bpb = L.BiosParameterBlock.parse(sector, what="BIOS parameter block")
    except FormatError:
        return False
    jump = bpb.bs_jmp_boot
    jump_ok = (jump[0] == 0xEB and jump[2] == 0x90) or jump[0] == 0xE9
    return (jump_ok and sector[510:512] == L.BOOT_SIGNATURE
            and bpb.bpb_byts_per_sec in (512, 1024, 2048, 4096)
            and bpb.bpb_sec_per_clus in (1, 2, 4, 8, 16, 32, 64, 128)
            and bpb.bpb_rsvd_sec_cnt >= 1 and bpb.bpb_num_fats >= 1
            and bpb.bpb_media in _FAT_MEDIA
            and (bpb.bpb_tot_sec16 or bpb.bpb_tot_sec32) > 0)
