"""Boot-sector declarations for filesystem probing and FAT facts (no logic here).

References: Microsoft "FAT: General Overview of On-Disk Format" (fatgen103, section 3 "Boot Sector
and BPB"); NTFS boot sector (OEM id "NTFS    "); BitLocker volumes replace the OEM id with
"-FVE-FS-"; ext2/3/4 superblock at byte 1024 with s_magic 0xEF53 at offset 56.
"""

import sys

from construct import Bytes, Int8ul, Int16ul, Int32ul, Struct

from bcdtool import packgen

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


# `python -m bcdtool.fs.bootsector_layout` rewrites the generated sibling
if __name__ == "__main__":
    packgen.main(sys.modules[__name__], __file__)
