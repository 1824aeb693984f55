"""VMDK hosted sparse extent header and grain marker (VMware "Virtual Disk Format 5.0")."""

from __future__ import annotations

from construct import Bytes, Const, Int8ul, Int16ul, Int32ul, Int64ul, Struct

MAGIC = b"KDMV"
SECTOR = 512
#: gdOffset value meaning "the grain directory is described by the footer at the end".
GD_AT_END = 0xFFFFFFFFFFFFFFFF
#: Footer header position for streamOptimized images: footer marker, footer, end-of-stream.
FOOTER_FROM_END = 1024

FLAG_ZEROED_GRAIN_GTE = 1 << 2
FLAG_COMPRESSED = 1 << 16
COMPRESSION_DEFLATE = 1
GTE_ZERO = 1

# SparseExtentHeader
sparse_extent_header = Struct(
    "magic_number" / Const(MAGIC),
    "version" / Int32ul,
    "flags" / Int32ul,
    "capacity" / Int64ul,
    "grain_size" / Int64ul,
    "descriptor_offset" / Int64ul,
    "descriptor_size" / Int64ul,
    "num_gtes_per_gt" / Int32ul,
    "rgd_offset" / Int64ul,
    "gd_offset" / Int64ul,
    "over_head" / Int64ul,
    "unclean_shutdown" / Int8ul,
    "single_end_line_char" / Int8ul,
    "non_end_line_char" / Int8ul,
    "double_end_line_char1" / Int8ul,
    "double_end_line_char2" / Int8ul,
    "compress_algorithm" / Int16ul,
    "pad" / Bytes(433),
)

# Grain marker leading each compressed grain (stream-optimized format)
grain_marker = Struct(
    "lba" / Int64ul,
    "size" / Int32ul,
)
GRAIN_MARKER_SIZE = 12
