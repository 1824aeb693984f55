"""VMDK images: hosted sparse extents (monolithicSparse, streamOptimized) and text descriptors.

Sparse extents write only into allocated, uncompressed grains; streamOptimized images are
read-only.  Descriptor extent paths are resolved next to the descriptor and may not leave its
folder unless the user named the file (blockdev.references), so a hostile descriptor cannot
point bcdtool at /dev/sda, ../../etc or a FIFO.
"""

from __future__ import annotations

import bisect
import re
import zlib

from bcdtool import _construct
from bcdtool.blockdev import vmdk_layout as L
from bcdtool.blockdev import references
from bcdtool.blockdev.base import BlockDevice, EntryTable, MappedDevice
from bcdtool.errors import FormatError, ImageError, ReadOnlyError, UnsupportedError

MAX_EXTENTS = 1024
MAX_GRAIN_SECTORS = 2048          # 1 MiB grains; VMware uses 128 sectors
MAX_CAPACITY_SECTORS = 1 << 47    # 64 PiB
#: Stands in for the device of a NOACCESS extent (reads and writes are refused).
_NO_ACCESS = object()
_EXTENT = re.compile(r'^(RW|RDONLY|NOACCESS)\s+(\d+)\s+([A-Z]+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?\s*$')


def open_vmdk(container: BlockDevice, *, descriptor: bool) -> BlockDevice:
    """Open a sparse VMDK or a text descriptor with its extents."""
    if descriptor:
        text = container.read_at(0, container.size)
        dev = DescriptorVmdk(container.name, _decode(text, container.name),
                             writable=container.writable())
        container.close()
        return dev
    return SparseVmdk(container)


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.split(b"\0", 1)[0].decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("VMDK descriptor is not UTF-8 text", path=name) from None


def _descriptor_fields(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            fields[key.strip()] = value.strip().strip('"')
    return fields


def _refuse_child(text: str, name: str) -> None:
    parent = _descriptor_fields(text).get("parentCID", "ffffffff").lower()
    if parent != "ffffffff":
        raise UnsupportedError("differencing VMDK (it has a parent disk); merge it first "
                               "(qemu-img convert -O vmdk)", path=name)


class SparseVmdk(MappedDevice):
    """A hosted sparse extent: grain directory -> grain tables -> grains (maybe compressed)."""

    def __init__(self, container: BlockDevice, *, check_descriptor: bool = True) -> None:
        name = container.name
        if container.size < 2 * L.SECTOR:
            raise ImageError("file too small to be a VMDK", path=name)
        hdr = _construct.parse(L.sparse_extent_header, container.read_at(0, L.SECTOR),
                               what="VMDK sparse header", path=name)
        if hdr.gd_offset == L.GD_AT_END:
            footer = container.read_at(container.size - L.FOOTER_FROM_END, L.SECTOR)
            hdr = _construct.parse(L.sparse_extent_header, footer, what="VMDK footer", path=name)
        if hdr.version not in (1, 2, 3):
            raise UnsupportedError(f"VMDK sparse version {hdr.version}", path=name)
        gs = hdr.grain_size
        if not 1 <= gs <= MAX_GRAIN_SECTORS or gs & (gs - 1):
            raise FormatError(f"VMDK grain size {gs} sectors invalid", path=name)
        if not 0 < hdr.capacity <= MAX_CAPACITY_SECTORS or not 1 <= hdr.num_gtes_per_gt <= 4096 \
                or hdr.gd_offset == 0:
            raise FormatError("VMDK capacity, grain-table size or grain directory invalid",
                              path=name)
        self.compressed = bool(hdr.flags & L.FLAG_COMPRESSED)
        if self.compressed and hdr.compress_algorithm != L.COMPRESSION_DEFLATE:
            raise UnsupportedError(f"VMDK compression {hdr.compress_algorithm}", path=name)
        if check_descriptor and hdr.descriptor_offset and hdr.descriptor_size:
            if hdr.descriptor_size > 128 or (hdr.descriptor_offset + hdr.descriptor_size) * 512 \
                    > container.size:
                raise FormatError("VMDK embedded descriptor lies outside the file", path=name)
            _refuse_child(_decode(container.read_at(hdr.descriptor_offset * 512,
                                                    hdr.descriptor_size * 512), name), name)
        super().__init__(container, hdr.capacity * L.SECTOR, gs * L.SECTOR,
                         writable=container.writable())
        self.grain_sectors = gs
        self.gtes = hdr.num_gtes_per_gt
        self.zeroed_gte = bool(hdr.flags & L.FLAG_ZEROED_GRAIN_GTE)
        if self.compressed:
            self.refuse_all_writes("VMDK has compressed grains (streamOptimized); it is read-only")
        elif hdr.unclean_shutdown:
            self.note("VMDK was not shut down cleanly; it can only be read")
            self.refuse_all_writes("VMDK was not shut down cleanly")
        grains = -(-hdr.capacity // gs)
        self.gd = EntryTable(container, hdr.gd_offset * L.SECTOR, -(-grains // self.gtes), 4,
                             byteorder="little", what="VMDK grain directory")
        self._gts: dict[int, EntryTable] = {}
        self._last_grain: tuple[int, bytes] | None = None

    def _gte(self, index: int) -> int:
        gd_index, gt_index = divmod(index, self.gtes)
        gt_sector = self.gd[gd_index]
        if not gt_sector:
            return 0
        table = self._gts.get(gt_sector)
        if table is None:
            table = EntryTable(self.container, gt_sector * L.SECTOR, self.gtes, 4,
                               byteorder="little", what="VMDK grain table", max_pages=4)
            if len(self._gts) >= 64:
                self._gts.pop(next(iter(self._gts)))
            self._gts[gt_sector] = table
        return table[gt_index]

    def _read_piece(self, index: int, within: int, length: int) -> bytes:
        gte = self._gte(index)
        if gte == 0 or (gte == L.GTE_ZERO and self.zeroed_gte):
            return bytes(length)
        if self.compressed:
            return self._inflate(index, gte)[within:within + length]
        return self.container.read_at(gte * L.SECTOR + within, length)

    def _inflate(self, index: int, gte: int) -> bytes:
        if self._last_grain and self._last_grain[0] == gte:
            return self._last_grain[1]
        where = gte * L.SECTOR
        if where + L.GRAIN_MARKER_SIZE > self.container.size:
            raise ImageError("VMDK grain lies beyond the end of the file", path=self.name,
                             offset=where)
        marker = _construct.parse(
            L.grain_marker,
            self.container.read_at(where, L.GRAIN_MARKER_SIZE),
            what="VMDK grain marker",
            path=self.name,
        )
        if marker.lba != index * self.grain_sectors or marker.size > 2 * self.unit + 1024:
            raise FormatError("VMDK compressed grain marker does not match its grain",
                              path=self.name, offset=where)
        try:
            inflater = zlib.decompressobj()
            data = inflater.decompress(self.container.read_at(where + L.GRAIN_MARKER_SIZE,
                                                              marker.size), self.unit)
        except zlib.error as exc:
            raise UnsupportedError(f"VMDK compressed grain cannot be inflated: {exc}",
                                   path=self.name, offset=where) from None
        if len(data) < self.unit:
            # The last grain of a disk whose size is not a grain multiple may be short.
            if index * self.unit + len(data) < self.size:
                raise FormatError("VMDK compressed grain inflates short", path=self.name,
                                  offset=where)
            data += bytes(self.unit - len(data))
        self._last_grain = (gte, data)
        return data

    def _write_target(self, index: int, within: int, length: int) -> int:
        where = index * self.unit + within
        gte = self._gte(index)
        if gte == 0 or (gte == L.GTE_ZERO and self.zeroed_gte):
            raise UnsupportedError(f"VMDK grain {index} is not allocated; bcdtool writes only into "
                                   "allocated grains", path=self.name, offset=where)
        start = gte * L.SECTOR
        if start + self.unit > self.container.size:
            raise ImageError("VMDK grain lies beyond the end of the file", path=self.name,
                             offset=start)
        return start + within


class DescriptorVmdk(BlockDevice):
    """A text descriptor whose extents (FLAT, ZERO, SPARSE files) are laid end to end."""

    def __init__(self, path: str, text: str, *, writable: bool) -> None:
        self.extents: list[tuple[int, int, BlockDevice | object | None, int, bool]] = []
        _refuse_child(text, path)
        starts: list[int] = []
        pos = 0
        try:
            for line in text.splitlines():
                m = _EXTENT.match(line.strip())
                if not m:
                    continue
                if len(self.extents) >= MAX_EXTENTS:
                    raise FormatError("VMDK descriptor lists too many extents", path=path)
                access, sectors, kind, fname, offset = m.groups()
                length = int(sectors) * L.SECTOR
                dev, base = self._open_extent(path, access, kind, fname, offset, length,
                                              writable)
                self.extents.append((pos, length, dev, base, access == "RW"))
                starts.append(pos)
                pos += length
        except BaseException:
            self._close_extents()
            raise
        if not self.extents:
            raise FormatError("VMDK descriptor lists no extents", path=path)
        super().__init__(pos, writable=writable, name=path)
        self._starts = starts

    def _open_extent(self, path, access, kind, fname, offset, length, writable):
        if access == "NOACCESS":
            return _NO_ACCESS, 0
        if kind == "ZERO":
            return None, 0
        if kind not in ("FLAT", "VMFS", "SPARSE"):
            raise UnsupportedError(f"VMDK extent type {kind}", path=path)
        target = references.resolve(path, fname or "", what="VMDK extent")
        dev: BlockDevice = references.open_reference(target, writable=writable and access == "RW")
        if kind == "SPARSE":
            try:
                dev = SparseVmdk(dev, check_descriptor=False)
            except BaseException:
                dev.close()
                raise
            base = 0
        else:
            base = int(offset or 0) * L.SECTOR
        if base + length > dev.size:
            dev.close()
            raise ImageError(f"VMDK extent {fname!r} is shorter than the descriptor says",
                             path=path)
        return dev, base

    def chain(self) -> list[str]:
        files = [self.name]
        for _, _, dev, _, _ in self.extents:
            if isinstance(dev, BlockDevice):
                files += [f for f in dev.chain() if f not in files]
        return files

    def _spans(self, offset: int, length: int):
        i = bisect.bisect_right(self._starts, offset) - 1
        end = offset + length
        while offset < end:
            start, size, dev, base, rw = self.extents[i]
            step = min(start + size, end) - offset
            yield dev, base + offset - start, step, rw
            offset += step
            i += 1

    def _read(self, offset: int, length: int) -> bytes:
        parts = []
        for dev, where, n, _ in self._spans(offset, length):
            if dev is _NO_ACCESS:
                raise ImageError("VMDK extent is marked NOACCESS", path=self.name, offset=offset)
            parts.append(bytes(n) if dev is None else dev.read_at(where, n))
        return b"".join(parts)

    def _refuse_write(self, offset: int, length: int) -> None:
        for dev, where, n, rw in self._spans(offset, length):
            if dev is None or dev is _NO_ACCESS or not rw:
                raise ReadOnlyError("VMDK extent is ZERO, NOACCESS or read-only", path=self.name,
                                    offset=offset)
            dev.refuse_write(where, n)

    def _write(self, offset: int, data: bytes) -> None:
        pos = 0
        for dev, where, n, _ in self._spans(offset, len(data)):
            dev.write_at(where, data[pos:pos + n])
            pos += n

    def flush_device(self) -> None:
        for _, _, dev, _, rw in self.extents:
            if dev is not None and dev is not _NO_ACCESS and rw:
                dev.flush_device()

    def _close_extents(self) -> None:
        for _, _, dev, _, _ in self.extents:
            if dev is not None and dev is not _NO_ACCESS:
                dev.close()

    def close(self) -> None:
        if not self.closed:
            self._close_extents()
        super().close()
