"""The block-device interface every image format implements, and a view of a byte range."""

from __future__ import annotations

import contextlib
import io

from bcdtool.errors import ImageError, ReadOnlyError, UnsupportedError
from bcdtool.log import get_logger

log = get_logger(__name__)


class BlockDevice(io.RawIOBase):
    """A virtual disk: `size` bytes addressed by offset; formats override `_read`/`_write`.

    It is also a seekable raw stream, so libraries such as pyfatfs and pytsk3 can use it.
    `writable()` is honest: pyfatfs marks a FAT volume dirty as soon as it sees a writable file.
    """

    sector_size = 512

    def __init__(self, size: int, *, writable: bool = False, name: str = "") -> None:
        super().__init__()
        self.size = size
        self.name = name
        self._writable = writable
        #: Why this device refuses every write although it was opened for writing ("" if it
        #: doesn't).
        self.write_refusal = ""
        #: Why the format refuses every write, whatever the open mode ("" if it doesn't).
        self.format_refusal = ""
        #: What a user should know about this image (a pending log, a fallback footer copy...).
        self.notices: list[str] = []
        self._pos = 0
        #: Bytes handed out by read_at(), for the "read only what is needed" benchmarks.
        self.bytes_read = 0

    # -- what formats implement ---------------------------------------------------------------
    def _read(self, offset: int, length: int) -> bytes:
        raise NotImplementedError

    def _write(self, offset: int, data: bytes) -> None:
        raise ReadOnlyError("this device format cannot be written", path=self.name)

    def flush_device(self) -> None:
        """Make completed writes durable (fsync for files)."""

    def lock(self) -> contextlib.AbstractContextManager:
        """Exclusive hold on the medium for the duration of a write transaction (an Azure page
        blob takes a lease); image formats hold their container's.  Local files and devices are
        locked by the write path itself."""
        container = getattr(self, "container", None)
        return (
            container.lock() if isinstance(container, BlockDevice) else contextlib.nullcontext(self)
        )

    # -- the public API ------------------------------------------------------------------------
    def read_at(self, offset: int, length: int) -> bytes:
        """Exactly `length` bytes at `offset` (an error if the range leaves the device)."""
        self._check_range(offset, length)
        self.bytes_read += length
        return self._read(offset, length) if length else b""

    def write_at(self, offset: int, data: bytes) -> None:
        """Write `data` at `offset` into already-allocated storage (all of it, or none)."""
        self.check_write(offset, len(data))
        if data:
            self._write(offset, bytes(data))

    def check_write(self, offset: int, length: int) -> None:
        """Raise exactly as write_at would for these bytes, without writing anything.

        Lets callers refuse a whole multi-part plan (a hive's extents) before backing up or
        writing its first part.
        """
        if self.write_refusal:
            raise UnsupportedError(self.write_refusal, path=self.name)
        if not self._writable:
            raise ReadOnlyError("device is opened read-only", path=self.name)
        self.refuse_write(offset, length)

    def refuse_write(self, offset: int, length: int) -> None:
        """Raise as check_write would for what the image itself refuses (a format that cannot
        be written, bytes outside the device, in a snapshot-shared, compressed or unallocated
        block), whatever the open mode: a dry run asks this of a read-only open."""
        if self.format_refusal:
            raise UnsupportedError(self.format_refusal, path=self.name)
        self._check_range(offset, length)
        if length:
            self._refuse_write(offset, length)

    def _refuse_write(self, offset: int, length: int) -> None:
        """Raise if the format cannot take these bytes in place (formats override)."""

    def chain(self) -> list[str]:
        """The files this device reads from: the image itself, then any file it references
        (qcow2 backing files, VMDK extents), for `location` output."""
        return [self.name]

    def file_identity(self) -> tuple[int, int] | None:
        """(device, inode) of the local image file or block device these bytes come from,
        under any format layer; None for a remote disk.  A writer compares it with the file it
        locks and opens for writing, so an image renamed over since it was read is not written."""
        container = getattr(self, "container", None)
        return container.file_identity() if isinstance(container, BlockDevice) else None

    def note(self, text: str) -> None:
        """Record (and log) something the user should be told about this device."""
        self.notices.append(text)
        log.warning("%s: %s", self.name, text)

    def refuse_all_writes(self, reason: str) -> None:
        """Make the device read-only for `reason`; writable() then says False, honestly (a
        read-only open keeps the reason in `format_refusal`, for `refuse_write`)."""
        self.format_refusal = reason
        if self._writable:
            self._writable = False
            self.write_refusal = reason

    def _check_range(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ImageError(
                f"access of {length} bytes beyond the end of a {self.size}-byte device",
                path=self.name,
                offset=offset,
            )

    # -- io.RawIOBase --------------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return self._writable

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer) -> int:
        length = max(0, min(len(buffer), self.size - self._pos))
        data = self.read_at(self._pos, length)
        buffer[:length] = data
        self._pos += length
        return length

    def write(self, data) -> int:
        self.write_at(self._pos, bytes(data))
        self._pos += len(data)
        return len(data)


class RangeView(BlockDevice):
    """A window of `length` bytes at `start` of another device (a partition)."""

    def __init__(self, parent: BlockDevice, start: int, length: int, *, name: str = "") -> None:
        if start < 0 or length < 0 or start + length > parent.size:
            raise ImageError("partition extends beyond the end of the disk",
                             path=parent.name, offset=start)
        super().__init__(length, writable=parent.writable(), name=name or parent.name)
        self.write_refusal = parent.write_refusal
        self.format_refusal = parent.format_refusal
        self.notices = parent.notices
        self.parent = parent
        self.start = start
        self.sector_size = parent.sector_size

    def chain(self) -> list[str]:
        return self.parent.chain()

    def _read(self, offset: int, length: int) -> bytes:
        return self.parent.read_at(self.start + offset, length)

    def _write(self, offset: int, data: bytes) -> None:
        self.parent.write_at(self.start + offset, data)

    def _refuse_write(self, offset: int, length: int) -> None:
        self.parent.refuse_write(self.start + offset, length)

    def flush_device(self) -> None:
        self.parent.flush_device()

    def lock(self) -> contextlib.AbstractContextManager:
        return self.parent.lock()


class MappedDevice(BlockDevice):
    """A virtual disk stored in `unit`-sized pieces of a container device (VHD, VHDX, qcow2, VMDK).

    Subclasses say where one piece lives; this class splits requests at unit boundaries and,
    for writes, locates *every* piece before writing any, so a refused write changes nothing.
    """

    def __init__(self, container: BlockDevice, size: int, unit: int, *, writable: bool,
                 name: str = "") -> None:
        super().__init__(size, writable=writable, name=name or container.name)
        self.container = container
        self.unit = unit

    def _read_piece(self, index: int, within: int, length: int) -> bytes:
        """Bytes `within..within+length` of unit `index` (zeros where nothing is stored)."""
        raise NotImplementedError

    def _write_target(self, index: int, within: int, length: int) -> int:
        """Container offset where those bytes may be overwritten; UnsupportedError if they may
        not."""
        raise ReadOnlyError("this device format cannot be written", path=self.name)

    def _before_write(self) -> None:
        """Called once the pieces of a write are known to be writable, before any byte is
        written."""

    def _pieces(self, offset: int, length: int):
        end = offset + length
        while offset < end:
            index, within = divmod(offset, self.unit)
            step = min(self.unit - within, end - offset)
            yield index, within, step
            offset += step

    def _read(self, offset: int, length: int) -> bytes:
        return b"".join(self._read_piece(i, w, n) for i, w, n in self._pieces(offset, length))

    def _refuse_write(self, offset: int, length: int) -> None:
        for i, w, n in self._pieces(offset, length):
            self._write_target(i, w, n)

    def _write(self, offset: int, data: bytes) -> None:
        targets = [(self._write_target(i, w, n), n) for i, w, n in self._pieces(offset, len(data))]
        self._before_write()
        pos = 0
        for where, n in targets:
            self.container.write_at(where, data[pos:pos + n])
            pos += n

    def flush_device(self) -> None:
        self.container.flush_device()

    def close(self) -> None:
        if not self.closed:
            self.container.close()
        super().close()


class EntryTable:
    """Fixed-size integer entries of an on-disk table (BAT, L1/L2, grain table), read lazily.

    Only the 4 KiB pages that hold requested entries are read, and at most `max_pages` are kept,
    so a 100 GiB image costs a few pages, not its whole table.
    """

    PAGE = 4096

    def __init__(self, container: BlockDevice, offset: int, count: int, entry_size: int, *,
                 byteorder: str, what: str, max_pages: int = 64) -> None:
        if offset < 0 or count < 0 or offset + count * entry_size > container.size:
            raise ImageError(f"{what} ({count} entries at {offset:#x}) lies beyond the end of the "
                             f"{container.size}-byte file", path=container.name, offset=offset)
        self.container = container
        self.offset = offset
        self.count = count
        self.entry_size = entry_size
        self.byteorder = byteorder
        self.what = what
        self.max_pages = max_pages
        self._pages: dict[int, bytes] = {}

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> int:
        if not 0 <= index < self.count:
            raise ImageError(f"{self.what} index {index} outside its {self.count} entries",
                             path=self.container.name)
        pos = self.offset + index * self.entry_size
        page_no, within = divmod(pos, self.PAGE)
        page = self._pages.get(page_no)
        if page is None:
            start = page_no * self.PAGE
            end = min(start + self.PAGE, self.offset + self.count * self.entry_size)
            first = max(start, self.offset)
            page = bytes(first - start) + self.container.read_at(first, end - first)
            if len(self._pages) >= self.max_pages:
                self._pages.pop(next(iter(self._pages)))
            self._pages[page_no] = page
        return int.from_bytes(page[within:within + self.entry_size], self.byteorder)
