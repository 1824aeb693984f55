"""Boot-sector declarations for filesystem probing and FAT facts (no logic here).

References: Microsoft "FAT: General Overview of On-Disk Format" (fatgen103, section 3 "Boot Sector
and BPB"); NTFS boot sector (OEM id "NTFS    "); BitLocker volumes replace the OEM id with
"-FVE-FS-"; ext2/3/4 superblock at byte 1024 with s_magic 0xEF53 at offset 56.
"""

from construct import Bytes, Const, Int8ul, Int16ul, Int32ul, Padding, Struct

BOOT_SIGNATURE = b"\x55\xaa"
OEM_NTFS = b"NTFS    "
OEM_BITLOCKER = b"-FVE-FS-"
EXT_SUPERBLOCK_OFFSET = 1024
EXT_MAGIC = 0xEF53

# fatgen103 section 3.1: fields common to FAT12, FAT16 and FAT32 (and, by layout, NTFS).
BiosParameterBlock = Struct(
    "bs_jmp_boot" / Bytes(3),
    "bs_oem_name" / Bytes(8),
    "bpb_byts_per_sec" / Int16ul,
    "bpb_sec_per_clus" / Int8ul,
    "bpb_rsvd_sec_cnt" / Int16ul,
    "bpb_num_fats" / Int8ul,
    "bpb_root_ent_cnt" / Int16ul,
    "bpb_tot_sec16" / Int16ul,
    "bpb_media" / Int8ul,
    "bpb_fat_sz16" / Int16ul,
    "bpb_sec_per_trk" / Int16ul,
    "bpb_num_heads" / Int16ul,
    "bpb_hidd_sec" / Int32ul,
    "bpb_tot_sec32" / Int32ul,
)

# fatgen103 section 3.2: FAT12/FAT16 extended BPB at offset 36; BS_Reserved1 bit 0 is the
# "volume dirty" flag Windows NT sets while the volume is mounted.
Fat16Extension = Struct(
    "bs_drv_num" / Int8ul,
    "bs_reserved1" / Int8ul,
    "bs_boot_sig" / Int8ul,
    "bs_vol_id" / Int32ul,
    "bs_vol_lab" / Bytes(11),
    "bs_fil_sys_type" / Bytes(8),
)

# fatgen103 section 3.3: FAT32 extended BPB at offset 36.
Fat32Extension = Struct(
    "bpb_fat_sz32" / Int32ul,
    "bpb_ext_flags" / Int16ul,
    "bpb_fs_ver" / Int16ul,
    "bpb_root_clus" / Int32ul,
    "bpb_fs_info" / Int16ul,
    "bpb_bk_boot_sec" / Int16ul,
    Padding(12),
    "bs_drv_num" / Int8ul,
    "bs_reserved1" / Int8ul,
    "bs_boot_sig" / Int8ul,
    "bs_vol_id" / Int32ul,
    "bs_vol_lab" / Bytes(11),
    "bs_fil_sys_type" / Bytes(8),
)

FAT_EXTENSION_OFFSET = 36
#: Offset of BS_Reserved1 (the NT dirty flag) in the boot sector, by FAT family.
FAT16_DIRTY_OFFSET = 37
FAT32_DIRTY_OFFSET = 65

BootSignature = Struct("signature" / Const(BOOT_SIGNATURE))
BOOT_SIGNATURE_OFFSET = 510
