"""VHD images: fixed (footer only, as Azure uses) and dynamic (header, BAT, sector bitmaps).

Writes go only into sectors of allocated blocks whose sector-bitmap bit is set: a clear bit
means "not stored here" to Windows, so data written under it would be invisible there, and
setting it would be a metadata change.  Both are refused with UnsupportedError.  Reads of an
allocated block return its stored bytes whatever the bitmap says, as qemu does (the independent
reader our tests and verification rely on); writers zero-fill blocks on allocation, so the two
readings agree on real images.
"""

from __future__ import annotations

from bcdtool import _construct
from bcdtool.blockdev import vhd_layout as L
from bcdtool.blockdev.base import BlockDevice, EntryTable, MappedDevice
from bcdtool.errors import ChecksumError, FormatError, ImageError, UnsupportedError

#: Largest block size we accept (the spec's default is 2 MiB).
MAX_BLOCK_SIZE = 256 * 1024 * 1024


def vhd_checksum(data: bytes, field_offset: int) -> int:
    """Ones' complement of the byte sum of `data` with its 4-byte checksum field taken as zero."""
    total = sum(data) - sum(data[field_offset:field_offset + 4])
    return ~total & 0xFFFFFFFF


def open_vhd(container: BlockDevice) -> BlockDevice:
    """Open a fixed or dynamic VHD; differencing disks are refused (their data is in a parent)."""
    footer, notice = _find_footer(container)
    if footer.disk_type in (L.DISK_TYPE_FIXED, L.DISK_TYPE_DYNAMIC):
        dev = (FixedVhd if footer.disk_type == L.DISK_TYPE_FIXED else DynamicVhd)(container, footer)
        if notice:
            dev.note(notice)
        return dev
    if footer.disk_type == L.DISK_TYPE_DIFFERENCING:
        raise UnsupportedError(
            "differencing VHD: its data lives partly in a parent disk; merge it "
            "first (qemu-img convert -O vpc CHILD MERGED.vhd)",
            path=container.name,
        )
    raise FormatError(f"unknown VHD disk type {footer.disk_type}", path=container.name)


def _parse_footer(container: BlockDevice, offset: int):
    raw = container.read_at(offset, L.FOOTER_SIZE)
    if raw[:8] != b"conectix":
        return None, "no footer"
    if vhd_checksum(raw, L.FOOTER_CHECKSUM_OFFSET) != int.from_bytes(raw[64:68], "big"):
        return None, f"footer checksum mismatch at {offset:#x}"
    return _construct.parse(L.footer, raw, what="VHD footer", path=container.name), ""


def _find_footer(container: BlockDevice):
    if container.size < L.FOOTER_SIZE:
        raise ImageError("file too small to be a VHD", path=container.name)
    footer, why_end = _parse_footer(container, container.size - L.FOOTER_SIZE)
    if footer is not None:
        return footer, ""
    copy, why_start = _parse_footer(container, 0)
    if copy is not None and copy.disk_type != L.DISK_TYPE_FIXED:
        return copy, f"VHD footer at the end unusable ({why_end}); used the copy at the start"
    raise ChecksumError(f"no valid VHD footer ({why_end}; start: {why_start})",
                        path=container.name)


class FixedVhd(BlockDevice):
    """A fixed VHD: the disk's bytes followed by a 512-byte footer."""

    def __init__(self, container: BlockDevice, footer) -> None:
        if footer.current_size > container.size - L.FOOTER_SIZE:
            raise ImageError(f"fixed VHD claims {footer.current_size} bytes but the file holds "
                             f"{container.size - L.FOOTER_SIZE}", path=container.name)
        super().__init__(footer.current_size, writable=container.writable(), name=container.name)
        self.container = container
        if footer.saved_state:
            self.refuse_all_writes("VHD is in a saved state (its VM is suspended)")

    def _read(self, offset: int, length: int) -> bytes:
        return self.container.read_at(offset, length)

    def _write(self, offset: int, data: bytes) -> None:
        self.container.write_at(offset, data)

    def flush_device(self) -> None:
        self.container.flush_device()

    def close(self) -> None:
        if not self.closed:
            self.container.close()
        super().close()


class DynamicVhd(MappedDevice):
    """A dynamic VHD: blocks located through the BAT, each led by a sector bitmap."""

    def __init__(self, container: BlockDevice, footer) -> None:
        name = container.name
        off = footer.data_offset
        if off + L.DYNAMIC_HEADER_SIZE > container.size:
            raise ImageError("VHD dynamic header lies beyond the end of the file", path=name,
                             offset=off)
        raw = container.read_at(off, L.DYNAMIC_HEADER_SIZE)
        hdr = _construct.parse(L.dynamic_header, raw, what="VHD dynamic header", path=name)
        if vhd_checksum(raw, L.DYNAMIC_CHECKSUM_OFFSET) != hdr.checksum:
            raise ChecksumError("VHD dynamic header checksum mismatch", path=name, offset=off)
        bs = hdr.block_size
        if bs < 512 or bs > MAX_BLOCK_SIZE or bs & (bs - 1):
            raise FormatError(f"VHD block size {bs} is invalid", path=name, offset=off)
        if footer.current_size > hdr.max_table_entries * bs:
            raise ImageError(f"VHD BAT ({hdr.max_table_entries} entries) cannot map "
                             f"{footer.current_size} bytes", path=name, offset=off)
        super().__init__(container, footer.current_size, bs, writable=container.writable())
        self.bat = EntryTable(container, hdr.table_offset, hdr.max_table_entries, 4,
                              byteorder="big", what="VHD block allocation table")
        self.bitmap_size = -(-(bs // 512) // 8 // 512) * 512
        if footer.saved_state:
            self.refuse_all_writes("VHD is in a saved state (its VM is suspended)")
        # With a valid footer at the end, blocks must stop before it.
        self._data_end = (
            container.size - L.FOOTER_SIZE
            if container.read_at(container.size - L.FOOTER_SIZE, 8) == b"conectix"
            else container.size
        )

    def _block(self, index: int) -> int | None:
        sector = self.bat[index]
        if sector == L.BAT_UNUSED:
            return None
        start = sector * 512
        if start + self.bitmap_size + self.unit > self._data_end:
            raise ImageError(f"VHD block {index} lies beyond the end of the file", path=self.name,
                             offset=start)
        return start

    def _read_piece(self, index: int, within: int, length: int) -> bytes:
        start = self._block(index)
        if start is None:
            return bytes(length)
        return self.container.read_at(start + self.bitmap_size + within, length)

    def _write_target(self, index: int, within: int, length: int) -> int:
        start = self._block(index)
        if start is None:
            raise UnsupportedError(f"VHD block {index} is not allocated; bcdtool writes only into "
                                   "allocated blocks", path=self.name, offset=index * self.unit)
        first, last = within // 512, (within + length - 1) // 512
        bits = self.container.read_at(start + first // 8, last // 8 - first // 8 + 1)
        for s in range(first, last + 1):
            if not bits[s // 8 - first // 8] & (0x80 >> (s % 8)):
                raise UnsupportedError(f"sector {s} of VHD block {index} is not marked present in "
                                       "its bitmap; bcdtool does not change bitmaps",
                                       path=self.name, offset=index * self.unit + s * 512)
        return start + self.bitmap_size + within
