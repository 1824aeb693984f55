"""Helpers for the forensic tests: stores edited by bcdtool's editor, log files built per the regf
specification from the pages two hive versions differ in, and running the CLI as a user does."""

from __future__ import annotations

import struct
from functools import partial

from bcdtool.bcd.device import PartitionDevice
from bcdtool.bcd.store import BcdStore
from bcdtool.bcd.template import StoreLayout, build_store
from bcdtool.regf.checksums import regf_checksum
from bcdtool.regf.hive import Hive
from fixtures.big_stores import log_entry as make_entry
from tests.helpers.common import run_process

LOADER = "{11111111-2222-3333-4444-555555555555}"
RESUME = "{11111111-2222-3333-4444-666666666666}"
PAGE = 512


def new_store(firmware: str = "uefi") -> bytes:
    """A store as `bcdtool new-store` writes it (fixed GUIDs)."""
    part = PartitionDevice(style="gpt", disk_guid="{aaaaaaaa-0000-0000-0000-000000000001}",
                           partition_guid="{aaaaaaaa-0000-0000-0000-000000000002}") \
        if firmware == "uefi" else PartitionDevice(style="mbr", disk_signature=0x1234,
                                                   partition_offset=1 << 20)
    return build_store(StoreLayout(firmware, part, part, loader_guid=LOADER, resume_guid=RESUME))


def edit(image: bytes, *changes) -> bytes:
    """`image` with element changes applied through bcdtool's editor, same file size.

    Each change is (guid, element name, value), or (guid, element name, None) to delete."""
    store = BcdStore(Hive.from_bytes(image))
    for guid, name, value in changes:
        code = store.element_def(guid, name).code
        if value is None:
            store.delete_element(guid, code)
        else:
            store.set_element(guid, code, value)
    return store.to_bytes(same_size=True)


def with_sequence(image: bytes, sequence: int) -> bytes:
    """`image` with both sequence numbers set to `sequence` and the checksum fixed."""
    out = bytearray(image)
    struct.pack_into("<II", out, 4, sequence, sequence)
    struct.pack_into("<I", out, 508, regf_checksum(bytes(out[:508])))
    return bytes(out)


def dirty_pages(old: bytes, new: bytes) -> list[tuple[int, bytes]]:
    """(hive-bins offset, 512 bytes of `new`) of every page where the two images differ."""
    pages = []
    for pos in range(4096, max(len(old), len(new)), PAGE):
        if old[pos:pos + PAGE] != new[pos:pos + PAGE]:
            pages.append((pos - 4096, new[pos:pos + PAGE].ljust(PAGE, b"\0")))
    return pages


def make_log(base_from: bytes, sequence: int, entries: list[bytes]) -> bytes:
    """A new-format log: the hive's base block as file type 6 with `sequence`, then entries."""
    base = bytearray(base_from[:PAGE])
    struct.pack_into("<II", base, 4, sequence, sequence)
    struct.pack_into("<I", base, 28, 6)
    struct.pack_into("<I", base, 508, regf_checksum(bytes(base[:508])))
    return bytes(base) + b"".join(entries)


def log_of_versions(versions: list[bytes], first_sequence: int) -> bytes:
    """A log whose entry i holds the pages version i+1 changed relative to version i (with
    sequence first_sequence + i), as Windows logs each flush before writing the primary."""
    entries = []
    for i in range(1, len(versions)):
        hive_size = struct.unpack_from("<I", versions[i], 40)[0]
        entries.append(make_entry(first_sequence + i - 1, hive_size,
                                  dirty_pages(versions[i - 1], versions[i])))
    return make_log(versions[0], first_sequence, entries)


#: `python -m bcdtool ARGS` as a user runs it (forensic reads of whole images: a long guard).
bcdtool = partial(run_process, timeout=300)


def with_free_bin(image: bytes, cells: bytes, size: int) -> bytes:
    """`image` with one more hive bin of `size` bytes holding `cells` (laid out by the caller,
    each a free cell: positive size) and a free cell over the rest; base block fixed."""
    bins = struct.unpack_from("<I", image, 40)[0]
    hbin = bytearray(size)
    hbin[0:4] = b"hbin"
    struct.pack_into("<II", hbin, 4, bins, size)
    hbin[32:32 + len(cells)] = cells
    if size - 32 - len(cells):
        struct.pack_into("<i", hbin, 32 + len(cells), size - 32 - len(cells))
    out = bytearray(image[:4096 + bins]) + hbin
    struct.pack_into("<I", out, 40, bins + size)
    struct.pack_into("<I", out, 508, regf_checksum(bytes(out[:508])))
    return bytes(out)


def free_vk(name: bytes, size: int, data_offset: int) -> bytes:
    """A free cell holding a `vk` record (REG_BINARY) whose data lies at `data_offset`."""
    record = struct.pack("<2sHIIIHH", b"vk", len(name), size, data_offset, 3, 1, 0) + name
    record += bytes(-(len(record) + 4) % 8)
    return struct.pack("<i", len(record) + 4) + record


def free_nk(name: bytes, parent: int, stamp: int = 0x01D0000000000000) -> bytes:
    """A free cell holding an `nk` record (compressed name, no values) with `parent`."""
    nil = 0xFFFFFFFF
    record = struct.pack("<2sHQ" + "I" * 15 + "HH", b"nk", 0x20, stamp, 0, parent, 0, 0, nil,
                         nil, 0, nil, nil, nil, 0, 0, 0, 0, 0, len(name), 0) + name
    record += bytes(-(len(record) + 4) % 8)
    return struct.pack("<i", len(record) + 4) + record
