"""VHD footer and dynamic disk header (Microsoft "Virtual Hard Disk Image Format Specification")."""

from __future__ import annotations

from construct import Array, Bytes, Const, Int8ub, Int16ub, Int32ub, Int64ub, Struct

FOOTER_SIZE = 512
DYNAMIC_HEADER_SIZE = 1024
#: Offsets of the checksum fields, zeroed while computing the ones'-complement checksum.
FOOTER_CHECKSUM_OFFSET = 64
DYNAMIC_CHECKSUM_OFFSET = 36
DISK_TYPE_FIXED = 2
DISK_TYPE_DYNAMIC = 3
DISK_TYPE_DIFFERENCING = 4
BAT_UNUSED = 0xFFFFFFFF

# Hard Disk Footer Format
footer = Struct(
    "cookie" / Const(b"conectix"),
    "features" / Int32ub,
    "file_format_version" / Int32ub,
    "data_offset" / Int64ub,
    "time_stamp" / Int32ub,
    "creator_application" / Bytes(4),
    "creator_version" / Int32ub,
    "creator_host_os" / Int32ub,
    "original_size" / Int64ub,
    "current_size" / Int64ub,
    "disk_geometry" / Struct("cylinder" / Int16ub, "heads" / Int8ub, "sectors_per_track" / Int8ub),
    "disk_type" / Int32ub,
    "checksum" / Int32ub,
    "unique_id" / Bytes(16),
    "saved_state" / Int8ub,
    "reserved" / Bytes(427),
)

# Dynamic Disk Header Format
dynamic_header = Struct(
    "cookie" / Const(b"cxsparse"),
    "data_offset" / Int64ub,
    "table_offset" / Int64ub,
    "header_version" / Int32ub,
    "max_table_entries" / Int32ub,
    "block_size" / Int32ub,
    "checksum" / Int32ub,
    "parent_unique_id" / Bytes(16),
    "parent_time_stamp" / Int32ub,
    "reserved" / Int32ub,
    "parent_unicode_name" / Bytes(512),
    "parent_locator_entries" / Array(8, Bytes(24)),
    "reserved2" / Bytes(256),
)
