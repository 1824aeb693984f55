"""qcow2 (v2 and v3) images: L1/L2 mapping for reads; in-place writes only where provably safe.

A write goes only into a data cluster that is allocated in this file, not compressed, not a
zero cluster, with refcount exactly 1 (so no snapshot shares it), in an image that is neither
dirty nor marked corrupt, unencrypted, with no auto-clear feature bits we would have to clear.
"""

from __future__ import annotations

import zlib

from bcdtool import _construct
from bcdtool.blockdev import qcow2_layout as L
from bcdtool.blockdev.base import BlockDevice, EntryTable, MappedDevice
from bcdtool.errors import FormatError, ImageError, UnsupportedError

#: Largest virtual size we accept (64 PiB; anything larger is a hostile header).
MAX_VIRTUAL_SIZE = 1 << 56
KNOWN_INCOMPAT = (L.INCOMPAT_DIRTY | L.INCOMPAT_CORRUPT | L.INCOMPAT_COMPRESSION_TYPE)


class Qcow2Device(MappedDevice):
    """A qcow2 image; unallocated clusters read from the backing file or as zeros.

    The header's backing file name is only parsed here (`backing_name`); whoever opens images by
    name (blockdev.detect) resolves and opens it and hands it over with `attach_backing`.
    """

    def __init__(self, container: BlockDevice) -> None:
        name = container.name
        if container.size < L.V2_HEADER_SIZE:
            raise ImageError("file too small to be a qcow2 image", path=name)
        head = container.read_at(0, min(container.size, 4096))
        hdr = _construct.parse(L.header_v2, head, what="qcow2 header", path=name)
        if hdr.version not in (2, 3):
            raise UnsupportedError(f"qcow2 version {hdr.version}", path=name)
        if not 9 <= hdr.cluster_bits <= 21:
            raise FormatError(f"qcow2 cluster_bits {hdr.cluster_bits} out of range", path=name)
        cs = 1 << hdr.cluster_bits
        incompat, autoclear, refcount_order, header_length = 0, 0, 4, L.V2_HEADER_SIZE
        self.compression_type = 0
        if hdr.version == 3:
            tail = _construct.parse(L.header_v3_tail, head, offset=L.V2_HEADER_SIZE,
                                    what="qcow2 v3 header", path=name)
            incompat, autoclear = tail.incompatible_features, tail.autoclear_features
            refcount_order, header_length = tail.refcount_order, tail.header_length
            if header_length < L.V3_HEADER_SIZE or header_length > min(cs, len(head)):
                raise FormatError(f"qcow2 header_length {header_length} invalid", path=name)
            if header_length > L.COMPRESSION_TYPE_OFFSET:
                self.compression_type = head[L.COMPRESSION_TYPE_OFFSET]
        unknown = incompat & ~KNOWN_INCOMPAT
        if unknown:
            raise UnsupportedError(f"qcow2 incompatible feature bits {unknown:#x} (external data "
                                   "file, extended L2 or newer) are not supported", path=name)
        if hdr.crypt_method:
            raise UnsupportedError("encrypted qcow2 images are not supported", path=name)
        if refcount_order > 6:
            raise FormatError(f"qcow2 refcount_order {refcount_order} invalid", path=name)
        if hdr.size > MAX_VIRTUAL_SIZE:
            raise FormatError(f"qcow2 virtual size {hdr.size} is absurd", path=name)
        l2_entries = cs // 8
        needed_l1 = -(-hdr.size // (cs * l2_entries))
        if hdr.l1_size < needed_l1:
            raise FormatError(f"qcow2 L1 table ({hdr.l1_size} entries) too small for "
                              f"{hdr.size} bytes", path=name)
        super().__init__(container, hdr.size, cs, writable=container.writable())
        self.version = hdr.version
        self.cluster_bits = hdr.cluster_bits
        self.incompatible_features = incompat
        self.autoclear_features = autoclear
        self.refcount_bits = 1 << refcount_order
        self.l1 = EntryTable(container, hdr.l1_table_offset, hdr.l1_size, 8, byteorder="big",
                             what="qcow2 L1 table")
        self.refcount_table = EntryTable(container, hdr.refcount_table_offset,
                                         hdr.refcount_table_clusters * cs // 8, 8, byteorder="big",
                                         what="qcow2 refcount table")
        self._l2: dict[int, EntryTable] = {}
        self._last_compressed: tuple[int, bytes] | None = None
        why = self._image_write_refusal()
        if why:
            self.note(f"qcow2 image {why}; it can only be read")
            self.refuse_all_writes(f"qcow2 image {why}; bcdtool will not write it")
        self.backing_name = self._backing_name(hdr, head, name)
        self.backing: BlockDevice | None = None

    def attach_backing(self, backing: BlockDevice) -> None:
        """Read unallocated clusters from `backing` (the opened file `backing_name` names)."""
        self.backing = backing

    def chain(self) -> list[str]:
        """This image's file, then every backing file its reads may fall through to."""
        return super().chain() + (self.backing.chain() if self.backing is not None else [])

    @staticmethod
    def _backing_name(hdr, head: bytes, name: str) -> str:
        if not hdr.backing_file_offset:
            return ""
        end = hdr.backing_file_offset + hdr.backing_file_size
        if hdr.backing_file_size > 1023 or end > len(head):
            raise FormatError("qcow2 backing file name lies outside the header cluster", path=name)
        return head[hdr.backing_file_offset:end].decode("utf-8", "replace")

    # -- mapping --------------------------------------------------------------------------------
    def _l2_entry(self, index: int) -> int:
        l1_index, l2_index = divmod(index, self.unit // 8)
        l2_offset = self.l1[l1_index] & L.OFFSET_MASK
        if not l2_offset:
            return 0
        table = self._l2.get(l2_offset)
        if table is None:
            if l2_offset % self.unit:
                raise ImageError("qcow2 L2 table offset not cluster aligned", path=self.name,
                                 offset=l2_offset)
            table = EntryTable(self.container, l2_offset, self.unit // 8, 8, byteorder="big",
                               what="qcow2 L2 table", max_pages=4)
            if len(self._l2) >= 32:
                self._l2.pop(next(iter(self._l2)))
            self._l2[l2_offset] = table
        return table[l2_index]

    def _read_piece(self, index: int, within: int, length: int) -> bytes:
        entry = self._l2_entry(index)
        if entry & L.OFLAG_COMPRESSED:
            return self._compressed_cluster(entry)[within:within + length]
        if self.version == 3 and entry & L.OFLAG_ZERO:
            return bytes(length)
        host = entry & L.OFFSET_MASK
        if host:
            return self.container.read_at(host + within, length)
        return self._backing_read(index * self.unit + within, length)

    def _backing_read(self, offset: int, length: int) -> bytes:
        if self.backing is None or offset >= self.backing.size:
            return bytes(length)
        take = min(length, self.backing.size - offset)
        return self.backing.read_at(offset, take) + bytes(length - take)

    def _compressed_cluster(self, entry: int) -> bytes:
        if self._last_compressed and self._last_compressed[0] == entry:
            return self._last_compressed[1]
        if self.compression_type != 0:
            raise UnsupportedError("qcow2 compressed clusters use zstd, which bcdtool cannot read",
                                   path=self.name)
        shift = 62 - (self.cluster_bits - 8)
        host = entry & ((1 << shift) - 1)
        sectors = ((entry >> shift) & ((1 << (self.cluster_bits - 8)) - 1)) + 1
        size = min(sectors * 512 - (host & 511), self.container.size - host)
        if host >= self.container.size or size <= 0:
            raise ImageError("qcow2 compressed cluster lies beyond the end of the file",
                             path=self.name, offset=host)
        try:
            data = zlib.decompressobj(-12).decompress(self.container.read_at(host, size), self.unit)
        except zlib.error as exc:
            raise FormatError(f"qcow2 compressed cluster does not inflate: {exc}", path=self.name,
                              offset=host) from None
        if len(data) != self.unit:
            raise FormatError("qcow2 compressed cluster inflates to the wrong size",
                              path=self.name, offset=host)
        self._last_compressed = (entry, data)
        return data

    def refcount(self, host_offset: int) -> int:
        """The refcount of the cluster at `host_offset` in this file."""
        cluster = host_offset >> self.cluster_bits
        per_block = self.unit * 8 // self.refcount_bits
        block_index, slot = divmod(cluster, per_block)
        if block_index >= len(self.refcount_table):
            return 0
        block = self.refcount_table[block_index] & ~0x1FF
        if not block:
            return 0
        bits = self.refcount_bits
        first_bit = slot * bits
        byte = first_bit // 8
        raw = self.container.read_at(block + byte, max(1, bits // 8))
        if bits >= 8:
            return int.from_bytes(raw, "big")
        return (raw[0] >> (first_bit % 8)) & ((1 << bits) - 1)

    def _write_target(self, index: int, within: int, length: int) -> int:
        where = index * self.unit + within
        entry = self._l2_entry(index)
        if entry & L.OFLAG_COMPRESSED:
            raise UnsupportedError("the data lies in a compressed qcow2 cluster", path=self.name,
                                   offset=where)
        if self.version == 3 and entry & L.OFLAG_ZERO:
            raise UnsupportedError("the data lies in a qcow2 zero cluster", path=self.name,
                                   offset=where)
        host = entry & L.OFFSET_MASK
        if not host:
            place = "only in the backing file" if self.backing else "unallocated"
            raise UnsupportedError(f"qcow2 cluster {index} is {place}; bcdtool writes only into "
                                   "allocated clusters", path=self.name, offset=where)
        if host % self.unit or host + self.unit > self.container.size:
            raise ImageError("qcow2 data cluster misaligned or beyond the end of the file",
                             path=self.name, offset=host)
        count = self.refcount(host)
        if count != 1 or not entry & L.OFLAG_COPIED:
            raise UnsupportedError(f"qcow2 cluster {index} is shared (refcount {count}, e.g. with "
                                   "a snapshot); writing it would change the snapshot too",
                                   path=self.name, offset=where)
        return host + within

    def _image_write_refusal(self) -> str:
        if self.incompatible_features & L.INCOMPAT_DIRTY:
            return "is dirty (refcounts may be stale; run qemu-img check -r all)"
        if self.incompatible_features & L.INCOMPAT_CORRUPT:
            return "is marked corrupt"
        if self.autoclear_features:
            return f"has auto-clear features {self.autoclear_features:#x} (e.g. dirty bitmaps)"
        return ""

    def close(self) -> None:
        backing = getattr(self, "backing", None)   # absent if __init__ failed early
        if not self.closed and backing is not None:
            backing.close()
        super().close()

