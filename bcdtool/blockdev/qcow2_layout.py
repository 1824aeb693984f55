"""qcow2 header and header extensions (QEMU docs/interop/qcow2.txt, versions 2 and 3)."""

from __future__ import annotations

from construct import Const, Int32ub, Int64ub, Struct

MAGIC = b"QFI\xfb"
V2_HEADER_SIZE = 72
V3_HEADER_SIZE = 104
#: Offset of the optional compression_type byte (v3 headers longer than 104 bytes).
COMPRESSION_TYPE_OFFSET = 104

INCOMPAT_DIRTY = 1 << 0
INCOMPAT_CORRUPT = 1 << 1
INCOMPAT_COMPRESSION_TYPE = 1 << 3

#: L1/L2 entry bits (section "Cluster mapping").
OFLAG_COPIED = 1 << 63
OFLAG_COMPRESSED = 1 << 62
OFLAG_ZERO = 1 << 0
OFFSET_MASK = 0x00FFFFFFFFFFFE00

# Header, version 2 part (bytes 0-71)
header_v2 = Struct(
    "magic" / Const(MAGIC),
    "version" / Int32ub,
    "backing_file_offset" / Int64ub,
    "backing_file_size" / Int32ub,
    "cluster_bits" / Int32ub,
    "size" / Int64ub,
    "crypt_method" / Int32ub,
    "l1_size" / Int32ub,
    "l1_table_offset" / Int64ub,
    "refcount_table_offset" / Int64ub,
    "refcount_table_clusters" / Int32ub,
    "nb_snapshots" / Int32ub,
    "snapshots_offset" / Int64ub,
)

# Header, version 3 additions (bytes 72-103)
header_v3_tail = Struct(
    "incompatible_features" / Int64ub,
    "compatible_features" / Int64ub,
    "autoclear_features" / Int64ub,
    "refcount_order" / Int32ub,
    "header_length" / Int32ub,
)
