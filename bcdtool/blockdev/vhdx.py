"""VHDX images: CRC-32C-checked headers and region table, metadata, BAT with chunk ratio.

Writes go only into fully present payload blocks of an image whose log is empty.  Before the
first write the header is updated the way [MS-VHDX] 2.2.2 asks (new FileWriteGuid and
DataWriteGuid, sequence number + 1, written over the older of the two headers), so a differencing
child of this disk notices that its parent changed instead of silently reading mixed data.
"""

from __future__ import annotations

import uuid

from bcdtool import _construct
from bcdtool.blockdev import vhdx_layout as L
from bcdtool.blockdev.base import BlockDevice, EntryTable, MappedDevice
from bcdtool.errors import ChecksumError, FormatError, ImageError, UnsupportedError

MAX_VIRTUAL_SIZE = 64 * 1024 ** 4  # the format's limit: 64 TiB


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as VHDX checksums use.

    VHDX tables are mostly zero padding (a 64 KiB region table holds ~100 bytes), so trailing
    zeros are folded in with precomputed GF(2) operators instead of a byte loop.
    """
    body = data.rstrip(b"\0")
    crc = 0xFFFFFFFF
    table = _CRC32C
    for b in body:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return _append_zeros(crc, len(data) - len(body)) ^ 0xFFFFFFFF


def _apply(matrix: list[int], vector: int) -> int:
    out = 0
    bit = 0
    while vector:
        if vector & 1:
            out ^= matrix[bit]
        vector >>= 1
        bit += 1
    return out


#: _ZERO_OPS[k] advances the CRC register over 2**k zero bytes; grown on demand.
_ZERO_OPS: list[list[int]] = []


def _append_zeros(crc: int, count: int) -> int:
    k = 0
    while count:
        if k == len(_ZERO_OPS):
            _ZERO_OPS.append(
                [_CRC32C[(1 << i) & 0xFF] ^ ((1 << i) >> 8) for i in range(32)]
                if not k
                else [_apply(_ZERO_OPS[-1], column) for column in _ZERO_OPS[-1]]
            )
        if count & 1:
            crc = _apply(_ZERO_OPS[k], crc)
        count >>= 1
        k += 1
    return crc


def checksum_with_field_zeroed(data: bytes) -> int:
    """CRC-32C of a header or region table whose checksum field (bytes 4-7) counts as zero."""
    return crc32c(data[:L.CHECKSUM_OFFSET] + bytes(4) + data[L.CHECKSUM_OFFSET + 4:])


class VhdxDevice(MappedDevice):
    """A VHDX image (no parent); unallocated and zero blocks read as zeros."""

    def __init__(self, container: BlockDevice) -> None:
        name = container.name
        if container.size < 1024 * 1024:
            raise ImageError("file too small to be a VHDX image", path=name)
        if container.read_at(0, 8) != L.FILE_IDENTIFIER_SIGNATURE:
            raise FormatError("missing the vhdxfile identifier", path=name)
        self.header_slot, self.header = _current_header(container)
        # A non-zero LogGuid only matters if the log holds an entry stamped with it (2.2.2).
        self.log_pending = self.header.log_guid != bytes(16) and _log_has_entries(container,
                                                                                  self.header)
        regions = _region_table(container)
        if L.METADATA_REGION not in regions or L.BAT_REGION not in regions:
            raise FormatError("VHDX region table lacks the BAT or metadata region", path=name)
        meta = _metadata(container, *regions[L.METADATA_REGION])
        params = _construct.parse(L.file_parameters, meta[L.FILE_PARAMETERS],
                                  what="VHDX file parameters", path=name)
        if params.flags & L.FILE_PARAMETERS_HAS_PARENT:
            raise UnsupportedError("differencing VHDX: its data lives partly in a parent disk; "
                                   "merge it first (qemu-img convert -O vhdx)", path=name)
        bs = params.block_size
        if not L.MiB <= bs <= 256 * L.MiB or bs & (bs - 1):
            raise FormatError(f"VHDX block size {bs} invalid", path=name)
        size = int.from_bytes(meta[L.VIRTUAL_DISK_SIZE][:8], "little")
        sector = int.from_bytes(meta[L.LOGICAL_SECTOR_SIZE][:4], "little")
        if sector not in (512, 4096) or size % sector or not 0 < size <= MAX_VIRTUAL_SIZE:
            raise FormatError(f"VHDX size {size} / logical sector size {sector} invalid", path=name)
        super().__init__(container, size, bs, writable=container.writable())
        self.sector_size = sector
        self.chunk_ratio = (1 << 23) * sector // bs
        blocks = -(-size // bs)
        entries = blocks + (blocks - 1) // self.chunk_ratio
        bat_offset, bat_length = regions[L.BAT_REGION]
        if entries * 8 > bat_length:
            raise FormatError(f"VHDX BAT region ({bat_length} bytes) too small for {entries} "
                              "entries", path=name)
        self.bat = EntryTable(container, bat_offset, entries, 8, byteorder="little",
                              what="VHDX BAT")
        self._headers_updated = False
        if self.log_pending:
            self.note("VHDX log is not empty (not closed cleanly): read without replaying it, "
                      "so recent changes may be missing; it will not be written")
            self.refuse_all_writes("VHDX log is not empty (the image was not closed cleanly); "
                                   "replay it first: qemu-img check -r all IMAGE, or attach "
                                   "the disk to a Hyper-V VM once")

    def _block(self, index: int) -> tuple[int, int]:
        entry = self.bat[index + index // self.chunk_ratio]
        state = entry & L.BAT_STATE_MASK
        offset = (entry >> L.BAT_FILE_OFFSET_SHIFT) << L.BAT_FILE_OFFSET_SHIFT
        if state == L.PAYLOAD_BLOCK_FULLY_PRESENT:
            if offset < 1024 * 1024 or offset + self.unit > self.container.size:
                raise ImageError(f"VHDX block {index} lies outside the file", path=self.name,
                                 offset=offset)
        elif state not in (L.PAYLOAD_BLOCK_NOT_PRESENT, L.PAYLOAD_BLOCK_UNDEFINED,
                           L.PAYLOAD_BLOCK_ZERO, L.PAYLOAD_BLOCK_UNMAPPED):
            raise FormatError(f"VHDX block {index} has state {state}, invalid without a parent",
                              path=self.name)
        return state, offset

    def _read_piece(self, index: int, within: int, length: int) -> bytes:
        state, offset = self._block(index)
        if state != L.PAYLOAD_BLOCK_FULLY_PRESENT:
            return bytes(length)
        return self.container.read_at(offset + within, length)

    def _write_target(self, index: int, within: int, length: int) -> int:
        state, offset = self._block(index)
        if state != L.PAYLOAD_BLOCK_FULLY_PRESENT:
            raise UnsupportedError(f"VHDX block {index} is not allocated (state {state}); bcdtool "
                                   "writes only into allocated blocks", path=self.name,
                                   offset=index * self.unit + within)
        return offset + within

    def _before_write(self) -> None:
        if self._headers_updated:
            return
        hdr = dict(self.header)
        hdr.update(sequence_number=self.header.sequence_number + 1,
                   file_write_guid=uuid.uuid4().bytes_le, data_write_guid=uuid.uuid4().bytes_le,
                   checksum=0)
        raw = bytearray(_construct.build(L.header, hdr, what="VHDX header"))
        raw[L.CHECKSUM_OFFSET:L.CHECKSUM_OFFSET + 4] = crc32c(raw).to_bytes(4, "little")
        self.container.write_at(L.HEADER_OFFSETS[1 - self.header_slot], bytes(raw))
        self.container.flush_device()
        self.header_slot = 1 - self.header_slot
        self.header = _construct.parse(L.header, raw, what="VHDX header", path=self.name)
        self._headers_updated = True


def _current_header(container: BlockDevice):
    best = None
    for slot, offset in enumerate(L.HEADER_OFFSETS):
        raw = container.read_at(offset, L.HEADER_SIZE)
        if raw[:4] != b"head" or checksum_with_field_zeroed(raw) != int.from_bytes(
            raw[4:8], "little"
        ):
            continue
        hdr = _construct.parse(L.header, raw, what="VHDX header", path=container.name)
        if hdr.version != 1:
            continue
        if best is None or hdr.sequence_number > best[1].sequence_number:
            best = (slot, hdr)
    if best is None:
        raise ChecksumError("neither VHDX header is valid", path=container.name)
    return best


def _log_has_entries(container: BlockDevice, header) -> bool:
    """Whether the log region holds a valid entry of the current LogGuid (then it needs replay)."""
    start, length = header.log_offset, header.log_length
    if length % L.MiB or start % L.MiB or start < L.MiB or start + length > container.size:
        raise FormatError("VHDX log region lies outside the file", path=container.name,
                          offset=start)
    for pos in range(start, start + length, L.LOG_SECTOR):   # entries start on 4 KiB boundaries
        head = container.read_at(pos, L.LOG_ENTRY_HEADER_SIZE)
        if head[:4] != b"loge" or head[32:48] != header.log_guid:
            continue
        entry = _construct.parse(L.log_entry_header, head, what="VHDX log entry",
                                 path=container.name)
        size = entry.entry_length
        if size and size % L.LOG_SECTOR == 0 and pos + size <= start + length \
                and checksum_with_field_zeroed(container.read_at(pos, size)) == entry.checksum:
            return True
    return False


def _region_table(container: BlockDevice) -> dict[uuid.UUID, tuple[int, int]]:
    for offset in L.REGION_TABLE_OFFSETS:
        raw = container.read_at(offset, L.REGION_TABLE_SIZE)
        if raw[:4] != b"regi" or checksum_with_field_zeroed(raw) != int.from_bytes(
            raw[4:8], "little"
        ):
            continue
        hdr = _construct.parse(L.region_table_header, raw, what="VHDX region table",
                               path=container.name)
        if hdr.entry_count > L.MAX_TABLE_ENTRIES:
            raise FormatError("VHDX region table has too many entries", path=container.name)
        regions = {}
        for i in range(hdr.entry_count):
            e = _construct.parse(L.region_table_entry, raw, offset=16 + 32 * i,
                                 what="VHDX region entry", path=container.name)
            guid = uuid.UUID(bytes_le=e.guid)
            if guid not in (L.BAT_REGION, L.METADATA_REGION):
                if e.required & L.REGION_REQUIRED:
                    raise UnsupportedError(f"VHDX requires unknown region {guid}",
                                           path=container.name)
                continue
            if e.file_offset < 1024 * 1024 or e.file_offset + e.length > container.size:
                raise ImageError(f"VHDX region {guid} lies outside the file", path=container.name,
                                 offset=e.file_offset)
            regions[guid] = (e.file_offset, e.length)
        return regions
    raise ChecksumError("neither VHDX region table is valid", path=container.name)


def _metadata(container: BlockDevice, offset: int, length: int) -> dict[uuid.UUID, bytes]:
    if length < L.METADATA_TABLE_SIZE:
        raise FormatError("VHDX metadata region too small", path=container.name, offset=offset)
    hdr = _construct.parse(L.metadata_table_header, container.read_at(offset, 32),
                           what="VHDX metadata table", path=container.name)
    if hdr.entry_count > L.MAX_TABLE_ENTRIES:
        raise FormatError("VHDX metadata table has too many entries", path=container.name)
    table = container.read_at(offset, 32 + 32 * hdr.entry_count)  # not the whole 64 KiB
    needed = {L.FILE_PARAMETERS: 8, L.VIRTUAL_DISK_SIZE: 8, L.LOGICAL_SECTOR_SIZE: 4}
    known = set(needed) | {L.VIRTUAL_DISK_ID, L.PHYSICAL_SECTOR_SIZE, L.PARENT_LOCATOR}
    items = {}
    for i in range(hdr.entry_count):
        e = _construct.parse(L.metadata_table_entry, table, offset=32 + 32 * i,
                             what="VHDX metadata entry", path=container.name)
        item = uuid.UUID(bytes_le=e.item_id)
        if item not in known:
            if e.flags & L.METADATA_IS_REQUIRED:
                raise UnsupportedError(f"VHDX requires unknown metadata item {item}",
                                       path=container.name)
            continue
        if item not in needed:
            continue
        if e.offset < L.METADATA_TABLE_SIZE or e.offset + e.length > length \
                or not needed[item] <= e.length <= 4096:
            raise FormatError(f"VHDX metadata item {item} lies outside its region or has the "
                              "wrong size", path=container.name, offset=offset + e.offset)
        items[item] = container.read_at(offset + e.offset, e.length)
    for item in needed:
        if item not in items:
            raise FormatError(f"VHDX metadata item {item} missing", path=container.name)
    return items
