"""regf on-disk layouts, declared once with construct (no logic here).

Field names follow Suhanov's "Windows registry file format specification" in snake_case; see
../shared/reference/regf.md for the writer's rules.  Only fixed parts are declared: variable
tails (names, lists, descriptors) are sliced by the behaviour modules after bounds checks.
Never `.compile()` these: they parse untrusted bytes.
"""

from __future__ import annotations

import sys

from construct import (Bytes, Const, Int8ul, Int16ul, Int32sl, Int32ul, Int64ul, Padding,
                       Struct)

from bcdtool import packgen

BASE_BLOCK_SIZE = 4096
#: Bytes of the base block covered by the XOR-32 checksum (the checksum sits right after them).
CHECKSUM_COVERED = 508
HBIN_HEADER_SIZE = 32
NIL = 0xFFFFFFFF

# --- Base block (spec: "Base block") ---------------------------------------------------------
BaseBlock = Struct(
    "signature" / Const(b"regf"),
    "primary_sequence_number" / Int32ul,
    "secondary_sequence_number" / Int32ul,
    "last_written_timestamp" / Int64ul,
    "major_version" / Int32ul,
    "minor_version" / Int32ul,
    "file_type" / Int32ul,
    "file_format" / Int32ul,
    "root_cell_offset" / Int32ul,
    "hive_bins_data_size" / Int32ul,
    "clustering_factor" / Int32ul,
    "file_name" / Bytes(64),
    "rm_id" / Bytes(16),
    "log_id" / Bytes(16),
    "flags" / Int32ul,
    "tm_id" / Bytes(16),
    "guid_signature" / Bytes(4),
    "last_reorganized_timestamp" / Int64ul,
    "reserved" / Bytes(CHECKSUM_COVERED - 176),
    "checksum" / Int32ul,
    "reserved2" / Bytes(3528),
    "thaw_tm_id" / Bytes(16),
    "thaw_rm_id" / Bytes(16),
    "thaw_log_id" / Bytes(16),
    "boot_type" / Int32ul,
    "boot_recover" / Int32ul,
)
# Byte offsets inside the base block of the fields a writer patches in place.
BB_PRIMARY_SEQUENCE = 4
BB_SECONDARY_SEQUENCE = 8
BB_LAST_WRITTEN = 12
BB_MINOR_VERSION = 24
BB_FILE_TYPE = 28
BB_HIVE_BINS_DATA_SIZE = 40
BB_CHECKSUM = 508

# --- Hive bin header (spec: "Hive bin") ------------------------------------------------------
HbinHeader = Struct(
    "signature" / Const(b"hbin"),
    "offset" / Int32ul,
    "size" / Int32ul,
    "reserved" / Bytes(8),
    "timestamp" / Int64ul,
    "spare" / Int32ul,
)

# --- Cell header: negative size = allocated --------------------------------------------------
CellHeader = Struct("size" / Int32sl)

# --- Key node (spec: "Key node") -------------------------------------------------------------
NK_FIXED_SIZE = 76
KeyNode = Struct(
    "signature" / Const(b"nk"),
    "flags" / Int16ul,
    "last_written_timestamp" / Int64ul,
    "access_bits" / Int32ul,
    "parent" / Int32ul,
    "number_of_subkeys" / Int32ul,
    "number_of_volatile_subkeys" / Int32ul,
    "subkeys_list_offset" / Int32ul,
    "volatile_subkeys_list_offset" / Int32ul,
    "number_of_key_values" / Int32ul,
    "key_values_list_offset" / Int32ul,
    "key_security_offset" / Int32ul,
    "class_name_offset" / Int32ul,
    # The dword at 0x34 is three fields; modelled apart so a writer never clobbers the flag bytes.
    "largest_subkey_name_length" / Int16ul,
    "user_virtualization_flags" / Int8ul,
    "debug" / Int8ul,
    "largest_subkey_class_name_length" / Int32ul,
    "largest_value_name_length" / Int32ul,
    "largest_value_data_size" / Int32ul,
    "workvar" / Int32ul,
    "key_name_length" / Int16ul,
    "class_name_length" / Int16ul,
)
# Offsets of nk fields relative to the cell data (after the 4-byte cell size).
NK_FLAGS = 0x02
NK_LAST_WRITTEN = 0x04
NK_PARENT = 0x10
NK_NUMBER_OF_SUBKEYS = 0x14
NK_SUBKEYS_LIST = 0x1C
NK_NUMBER_OF_VALUES = 0x24
NK_VALUES_LIST = 0x28
NK_SECURITY = 0x2C
NK_CLASS_NAME = 0x30
NK_LARGEST_SUBKEY_NAME = 0x34
NK_LARGEST_SUBKEY_CLASS = 0x38
NK_LARGEST_VALUE_NAME = 0x3C
NK_LARGEST_VALUE_DATA = 0x40
NK_KEY_NAME_LENGTH = 0x48
NK_CLASS_NAME_LENGTH = 0x4A

KEY_VOLATILE = 0x0001
KEY_HIVE_EXIT = 0x0002
KEY_HIVE_ENTRY = 0x0004
KEY_NO_DELETE = 0x0008
KEY_SYM_LINK = 0x0010
KEY_COMP_NAME = 0x0020
KEY_PREDEF_HANDLE = 0x0040
#: Windows rejects key-node cells with more data bytes than this (ReactOS CMP_KEY_SIZE_THRESHOLD).
NK_MAX_CELL_DATA = 0x45C

# --- Key value (spec: "Key value") -----------------------------------------------------------
VK_FIXED_SIZE = 20
KeyValue = Struct(
    "signature" / Const(b"vk"),
    "name_length" / Int16ul,
    "data_size" / Int32ul,
    "data_offset" / Int32ul,
    "data_type" / Int32ul,
    "flags" / Int16ul,
    "spare" / Int16ul,
)
VK_DATA_SIZE = 0x04
VK_DATA_OFFSET = 0x08
VK_DATA_TYPE = 0x0C
VALUE_COMP_NAME = 0x0001
VALUE_TOMBSTONE = 0x0002
#: Bit 31 of the vk data size: the data (at most 4 bytes) lives in the data-offset field.
DATA_INLINE = 0x80000000

# --- Subkey lists (spec: "Index leaf", "Fast leaf", "Hash leaf", "Index root") -------------
ListHeader = Struct(
    "signature" / Bytes(2),
    "number_of_elements" / Int16ul,
)
LIST_HEADER_SIZE = 4
LEAF_ELEMENT_SIZE = {b"li": 4, b"ri": 4, b"lf": 8, b"lh": 8}

# --- Key security (spec: "Key security") -----------------------------------------------------
SK_FIXED_SIZE = 20
KeySecurity = Struct(
    "signature" / Const(b"sk"),
    "reserved" / Int16ul,
    "flink" / Int32ul,
    "blink" / Int32ul,
    "reference_count" / Int32ul,
    "security_descriptor_size" / Int32ul,
)
SK_FLINK = 0x04
SK_BLINK = 0x08
SK_REFERENCE_COUNT = 0x0C

# --- Big data (spec: "Big data") -------------------------------------------------------------
BigData = Struct(
    "signature" / Const(b"db"),
    "number_of_segments" / Int16ul,
    "segments_list_offset" / Int32ul,
    Padding(4),
)
#: Data bytes in every big-data segment but the last; a value longer than this is "big".
BIG_DATA_SEGMENT_SIZE = 16344
#: Total cell size of every big-data segment (Windows' layout; hivex reads cell_size - 8).
BIG_DATA_SEGMENT_CELL = 16352

# --- Transaction logs (spec: "Transaction log files") ----------------------------------------
LOG_FILE_TYPE_OLD = (1, 2)
LOG_FILE_TYPE_NEW = 6
DirtyVectorHeader = Struct("signature" / Const(b"DIRT"))
LogEntryHeader = Struct(
    "signature" / Const(b"HvLE"),
    "size" / Int32ul,
    "flags" / Int32ul,
    "sequence_number" / Int32ul,
    "hive_bins_data_size" / Int32ul,
    "dirty_pages_count" / Int32ul,
    "hash_1" / Int64ul,
    "hash_2" / Int64ul,
)
LOG_ENTRY_HEADER_SIZE = 40
DirtyPageReference = Struct(
    "offset" / Int32ul,
    "size" / Int32ul,
)
#: Marvin32 seed of new-format log entries.
MARVIN32_SEED = 0x82EF4D887A4E55C5


# `python -m bcdtool.regf.layout` rewrites the generated sibling
if __name__ == "__main__":
    packgen.main(sys.modules[__name__], __file__)
