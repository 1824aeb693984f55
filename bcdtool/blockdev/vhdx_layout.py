"""VHDX structures ([MS-VHDX] v1.0: file type identifier, headers, region table, metadata, BAT)."""

from __future__ import annotations

import uuid

from construct import Array, Bytes, Const, Int16ul, Int32ul, Int64ul, Struct

KiB = 1024
MiB = 1024 * KiB
FILE_IDENTIFIER_SIGNATURE = b"vhdxfile"
HEADER_OFFSETS = (64 * KiB, 128 * KiB)
HEADER_SIZE = 4 * KiB
REGION_TABLE_OFFSETS = (192 * KiB, 256 * KiB)
REGION_TABLE_SIZE = 64 * KiB
METADATA_TABLE_SIZE = 64 * KiB
#: Offset of the checksum field in headers and region tables, zeroed to compute CRC-32C.
CHECKSUM_OFFSET = 4
MAX_TABLE_ENTRIES = 2047

BAT_REGION = uuid.UUID("2dc27766-f623-4200-9d64-115e9bfd4a08")
METADATA_REGION = uuid.UUID("8b7ca206-4790-4b9a-b8fe-575f050f886e")
FILE_PARAMETERS = uuid.UUID("caa16737-fa36-4d43-b3b6-33f0aa44e76b")
VIRTUAL_DISK_SIZE = uuid.UUID("2fa54224-cd1b-4876-b211-5dbed83bf4b8")
VIRTUAL_DISK_ID = uuid.UUID("beca12ab-b2e6-4523-93ef-c309e000c746")
LOGICAL_SECTOR_SIZE = uuid.UUID("8141bf1d-a96f-4709-ba47-f233a8faab5f")
PHYSICAL_SECTOR_SIZE = uuid.UUID("cda348c7-445d-4471-9cc9-e9885251c556")
PARENT_LOCATOR = uuid.UUID("a8d35f2d-b30b-454d-abf7-d3d84834ab0c")

FILE_PARAMETERS_HAS_PARENT = 1 << 1
METADATA_IS_REQUIRED = 1 << 2
REGION_REQUIRED = 1 << 0

# BAT entry states (2.5.1.1 Payload BAT Entry States)
PAYLOAD_BLOCK_NOT_PRESENT = 0
PAYLOAD_BLOCK_UNDEFINED = 1
PAYLOAD_BLOCK_ZERO = 2
PAYLOAD_BLOCK_UNMAPPED = 3
PAYLOAD_BLOCK_FULLY_PRESENT = 6   # 7 (partially present) exists only in differencing disks
BAT_STATE_MASK = 0x7
BAT_FILE_OFFSET_SHIFT = 20

# 2.2.2 Headers
header = Struct(
    "signature" / Const(b"head"),
    "checksum" / Int32ul,
    "sequence_number" / Int64ul,
    "file_write_guid" / Bytes(16),
    "data_write_guid" / Bytes(16),
    "log_guid" / Bytes(16),
    "log_version" / Int16ul,
    "version" / Int16ul,
    "log_length" / Int32ul,
    "log_offset" / Int64ul,
    "reserved" / Bytes(4016),
)

# 2.3.1.1 Entry Header (of a log entry)
log_entry_header = Struct(
    "signature" / Const(b"loge"),
    "checksum" / Int32ul,
    "entry_length" / Int32ul,
    "tail" / Int32ul,
    "sequence_number" / Int64ul,
    "descriptor_count" / Int32ul,
    "reserved" / Int32ul,
    "log_guid" / Bytes(16),
    "flushed_file_offset" / Int64ul,
    "last_file_offset" / Int64ul,
)
LOG_ENTRY_HEADER_SIZE = 64
LOG_SECTOR = 4 * KiB

# 2.2.3 Region Table (header; entries follow)
region_table_header = Struct(
    "signature" / Const(b"regi"),
    "checksum" / Int32ul,
    "entry_count" / Int32ul,
    "reserved" / Int32ul,
)

# 2.2.3.2 Region Table Entry
region_table_entry = Struct(
    "guid" / Bytes(16),
    "file_offset" / Int64ul,
    "length" / Int32ul,
    "required" / Int32ul,
)

# 2.6.1 Metadata Table Header
metadata_table_header = Struct(
    "signature" / Const(b"metadata"),
    "reserved" / Int16ul,
    "entry_count" / Int16ul,
    "reserved2" / Array(5, Int32ul),
)

# 2.6.1.2 Metadata Table Entry
metadata_table_entry = Struct(
    "item_id" / Bytes(16),
    "offset" / Int32ul,
    "length" / Int32ul,
    "flags" / Int32ul,
    "reserved2" / Int32ul,
)

# 2.6.2.1 File Parameters
file_parameters = Struct(
    "block_size" / Int32ul,
    "flags" / Int32ul,
)
