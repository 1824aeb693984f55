"""NTFS on-disk declarations needed beside pytsk3: the MFT record and attribute headers (no logic).

Reference: the Linux-NTFS project's "NTFS Documentation" (FILE record, attribute header) and
ntfs-3g `layout.h` (MFT_RECORD, ATTR_RECORD).  Only what pytsk3 does not expose is declared:
the initialized size of a non-resident attribute.
"""

from construct import Bytes, Const, Int8ul, Int16sl, Int16ul, Int32ul, Int64ul, Struct

#: Update-sequence (fixup) stride: every 512 bytes of a record, whatever the sector size.
FIXUP_STRIDE = 512
ATTRIBUTE_END = 0xFFFFFFFF
ATTR_TYPE_DATA = 0x80

# MFT_RECORD: the "FILE" record header.
MftRecordHeader = Struct(
    "magic" / Const(b"FILE"),
    "usa_ofs" / Int16ul,
    "usa_count" / Int16ul,
    "lsn" / Int64ul,
    "sequence_number" / Int16ul,
    "link_count" / Int16ul,
    "attrs_offset" / Int16ul,
    "flags" / Int16ul,
    "bytes_in_use" / Int32ul,
    "bytes_allocated" / Int32ul,
    # An extension record (attributes moved out through $ATTRIBUTE_LIST) names its base
    # record here (low 48 bits: the record number); 0 in a base record.
    "base_mft_record" / Int64ul,
)
#: MFT_RECORD flags: the record is in use.
MFT_RECORD_IN_USE = 0x0001
MFT_REF_MASK = (1 << 48) - 1

# ATTR_RECORD: fields common to resident and non-resident attributes.
AttributeHeader = Struct(
    "type" / Int32ul,
    "length" / Int32ul,
    "non_resident" / Int8ul,
    "name_length" / Int8ul,
    "name_offset" / Int16ul,
    "flags" / Int16ul,
    "instance" / Int16ul,
)

# ATTR_RECORD, non-resident part (follows AttributeHeader at offset 16).
NonResidentHeader = Struct(
    "lowest_vcn" / Int64ul,
    "highest_vcn" / Int64ul,
    "mapping_pairs_offset" / Int16ul,
    "compression_unit" / Int8ul,
    "reserved" / Int8ul[5],
    "allocated_size" / Int64ul,
    "data_size" / Int64ul,
    "initialized_size" / Int64ul,
)
NON_RESIDENT_OFFSET = 16

# $LogFile RESTART_PAGE_HEADER (ntfs-3g logfile.h): two copies at the start of $LogFile.
RESTART_MAGICS = (b"RSTR", b"CHKD")
EMPTY_LOG_MAGIC = b"\xff\xff\xff\xff"
RestartPageHeader = Struct(
    "magic" / Bytes(4),
    "usa_ofs" / Int16ul,
    "usa_count" / Int16ul,
    "chkdsk_lsn" / Int64ul,
    "system_page_size" / Int32ul,
    "log_page_size" / Int32ul,
    "restart_area_offset" / Int16ul,
    "minor_ver" / Int16sl,
    "major_ver" / Int16sl,
)

# RESTART_AREA: "clean" when no client is in use or the volume-is-clean flag is set.
RestartArea = Struct(
    "current_lsn" / Int64ul,
    "log_clients" / Int16ul,
    "client_free_list" / Int16ul,
    "client_in_use_list" / Int16ul,
    "flags" / Int16ul,
)
LOGFILE_NO_CLIENT = 0xFFFF
RESTART_VOLUME_IS_CLEAN = 0x0002
