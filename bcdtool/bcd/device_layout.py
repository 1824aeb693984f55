"""BCD device element layouts (bcd.md §4), declared once with construct; no logic here.

A device element is a 16-byte options-object GUID followed by a device descriptor; descriptors
nest (a file or ramdisk names the device holding it) without the GUID prefix.
Never `.compile()` these: they parse untrusted bytes.
"""

from __future__ import annotations

import sys

from construct import Bytes, Int32ul, Int64ul, Struct

from bcdtool import packgen

OPTIONS_SIZE = 16

# §4.1 common header of every descriptor (offset 0x10 of an element)
DeviceHeader = Struct(
    "device_type" / Int32ul,
    "flags" / Int32ul,
    "size" / Int32ul,  # bytes from the start of this header to the end of the descriptor
    "reserved" / Int32ul,
)
HEADER_SIZE = 16

# §4.3 partition body (type 6): GPT ids, or MBR start offset in bytes and disk signature
PartitionBody = Struct(
    "partition_id" / Bytes(16),
    "reserved1" / Int32ul,
    "partition_style" / Int32ul,  # 0 GPT, 1 MBR
    "disk_id" / Bytes(16),
    "reserved2" / Bytes(16),
)
BOOT_BODY_SIZE = 56

# §4.4/§4.5 the path descriptor that follows the local sub-type of file and ramdisk devices
PathDescriptor = Struct(
    "version" / Int32ul,   # 1
    "length" / Int32ul,    # from the start of this descriptor to the end of the element
    "path_type" / Int32ul,  # 5
)
PATH_DESCRIPTOR_SIZE = 12

# §4.5 ramdisk body head (after the local sub-type)
RamdiskBody = Struct(
    "image_base" / Int64ul,
    "image_size" / Int64ul,
    "image_offset" / Int32ul,
)
RAMDISK_BODY_SIZE = 20

# §4.6 locate body head; a path (UTF-16LE, NUL-terminated) follows
LocateBody = Struct(
    "locate_type" / Int32ul,    # 0: locate by the element named in element_type
    "element_type" / Int32ul,   # e.g. 0x12000002 (the application path)
    "parent_offset" / Int32ul,  # 0: no parent device
)
LOCATE_BODY_SIZE = 12

# on-disk device types (§4.1) and local sub-types
TYPE_LOCAL = 0
TYPE_BOOT = 5
TYPE_PARTITION = 6
TYPE_LOCATE = 8
LOCAL_RAMDISK = 3
LOCAL_FILE = 5
LOCAL_VHD = 6      # a virtual disk file (native VHD boot), holding a file descriptor
STYLE_GPT = 0
STYLE_MBR = 1


# `python -m bcdtool.bcd.device_layout` rewrites the generated sibling
if __name__ == "__main__":
    packgen.main(sys.modules[__name__], __file__)
