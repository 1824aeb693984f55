"""On-disk layouts of MBR/EBR sectors and GPT headers and entries (UEFI spec 2.10 §5)."""

from __future__ import annotations

import sys

from construct import Array, Bytes, Const, Int8ul, Int16ul, Int32ul, Int64ul, Struct

from bcdtool import packgen

MBR_SIGNATURE = b"\x55\xaa"
GPT_SIGNATURE = b"EFI PART"
#: Offset of the GPT header CRC32 field, zeroed while computing the CRC.
GPT_HEADER_CRC_OFFSET = 16

# Legacy MBR partition record (UEFI §5.2.1, "Legacy MBR Partition Record")
mbr_entry = Struct(
    "boot_indicator" / Int8ul,
    "starting_chs" / Bytes(3),
    "os_type" / Int8ul,
    "ending_chs" / Bytes(3),
    "starting_lba" / Int32ul,
    "size_in_lba" / Int32ul,
)

# Legacy MBR / EBR sector (UEFI §5.2.1, "Legacy MBR")
mbr_sector = Struct(
    "boot_code" / Bytes(440),
    "unique_mbr_disk_signature" / Int32ul,
    "unknown" / Int16ul,
    "partition_record" / Array(4, mbr_entry),
    "signature" / Bytes(2),
)

# GPT Header (UEFI §5.3.2, table "GPT Header")
gpt_header = Struct(
    "signature" / Const(GPT_SIGNATURE),
    "revision" / Int32ul,
    "header_size" / Int32ul,
    "header_crc32" / Int32ul,
    "reserved" / Int32ul,
    "my_lba" / Int64ul,
    "alternate_lba" / Int64ul,
    "first_usable_lba" / Int64ul,
    "last_usable_lba" / Int64ul,
    "disk_guid" / Bytes(16),
    "partition_entry_lba" / Int64ul,
    "number_of_partition_entries" / Int32ul,
    "size_of_partition_entry" / Int32ul,
    "partition_entry_array_crc32" / Int32ul,
)

# GPT Partition Entry (UEFI §5.3.3, table "GPT Partition Entry"); entries may be longer than 128
gpt_entry = Struct(
    "partition_type_guid" / Bytes(16),
    "unique_partition_guid" / Bytes(16),
    "starting_lba" / Int64ul,
    "ending_lba" / Int64ul,
    "attributes" / Int64ul,
    "partition_name" / Bytes(72),
)


# `python -m bcdtool.blockdev.partitions_layout` rewrites the generated sibling
if __name__ == "__main__":
    packgen.main(sys.modules[__name__], __file__)
