"""Raw disk images and block devices, read and written with pread/pwrite on one descriptor."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import struct

from bcdtool.blockdev.base import BlockDevice
from bcdtool.errors import ImageError, NotFoundError, ReadOnlyError, write_failure

#: ioctls asking a Linux block device for its logical sector size and its read-only flag.
_BLKSSZGET = 0x1268
_BLKROGET = 0x125E


class RawDevice(BlockDevice):
    """A raw image file or block device; opened O_RDONLY unless `writable`.

    Only regular files and (when `allow_block`) block devices are opened: a FIFO, socket,
    character device or folder is refused before the first read could block.  A file an image
    names from inside (`follow_symlinks=False`) must not be a symlink.
    """

    def __init__(self, path: str, *, writable: bool = False, allow_block: bool = True,
                 follow_symlinks: bool = True) -> None:
        path = os.fspath(path)
        self._fd = -1  # close() (also run by the finaliser) must never close someone else's fd
        # O_NONBLOCK: opening a FIFO without it waits for a writer forever.
        flags = (os.O_RDWR if writable else os.O_RDONLY) | os.O_CLOEXEC | os.O_NONBLOCK
        if not follow_symlinks:
            flags |= os.O_NOFOLLOW
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise NotFoundError("no such image or device", path=path) from None
        except PermissionError:
            if writable:
                raise ReadOnlyError("no permission to open for writing", path=path) from None
            raise ImageError("no permission to read", path=path) from None
        except OSError as exc:
            if writable and exc.errno == errno.EROFS:
                raise ReadOnlyError("the medium is read-only", path=path) from None
            if exc.errno == errno.ELOOP and not follow_symlinks:
                raise ImageError("is a symlink; an image may name only regular files, not links "
                                 "(name the real file with --backing-file)", path=path) from None
            if exc.errno in (errno.EISDIR, errno.ENXIO):    # a folder, a socket
                with contextlib.suppress(OSError):
                    raise _not_an_image(path, os.stat(path).st_mode, allow_block) from None
            raise ImageError(f"cannot open: {exc.strerror}", path=path) from None
        try:
            info = os.fstat(fd)
            self.is_block_device = stat.S_ISBLK(info.st_mode)
            if self.is_block_device and allow_block:
                size = os.lseek(fd, 0, os.SEEK_END)
            elif stat.S_ISREG(info.st_mode):
                size = info.st_size
            else:
                raise _not_an_image(path, info.st_mode, allow_block)
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        except BaseException:
            os.close(fd)
            raise
        if writable and self.is_block_device and _read_only(fd):
            # Linux lets O_RDWR open a read-only device; the writes would fail one by one later.
            os.close(fd)
            raise ReadOnlyError("the block device is read-only", path=path)
        self._fd = fd
        super().__init__(size, writable=writable, name=path)
        if self.is_block_device:
            self.sector_size = _logical_sector_size(fd)

    def _read(self, offset: int, length: int) -> bytes:
        parts: list[bytes] = []
        got = 0
        while got < length:   # pread may return short counts on devices
            try:
                more = os.pread(self._fd, length - got, offset + got)
            except OSError as exc:
                raise ImageError(f"read failed: {exc.strerror}", path=self.name,
                                 offset=offset + got) from None
            if not more:
                raise ImageError("file ended early (truncated while open?)", path=self.name,
                                 offset=offset + got)
            parts.append(more)
            got += len(more)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _write(self, offset: int, data: bytes) -> None:
        done = 0
        try:
            while done < len(data):
                done += os.pwrite(self._fd, data[done:], offset + done)
        except OSError as exc:
            raise write_failure(exc, "write failed", path=self.name,
                                offset=offset + done) from None

    def flush_device(self) -> None:
        """fsync the file or device."""
        if self._writable:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise write_failure(exc, "fsync failed", path=self.name) from None

    def file_identity(self) -> tuple[int, int] | None:
        """(device, inode) of the file or block device open here."""
        info = os.fstat(self._fd)
        return info.st_dev, info.st_ino

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)
        super().close()


def _not_an_image(path: str, mode: int, allow_block: bool) -> ImageError:
    """The refusal of a file that is no image: says what it is and what is accepted."""
    kind = next((name for test, name in (
        (stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"), (stat.S_ISDIR, "folder"),
        (stat.S_ISBLK, "block device")) if test(mode)), "special file")
    accepted = ("a regular file or block device" if allow_block else
                "a regular file (a block device is used only when named on the command line)")
    return ImageError(f"is a {kind}, not {accepted}", path=path)


def _read_only(fd: int) -> bool:
    try:
        raw = fcntl.ioctl(fd, _BLKROGET, b"\0" * 4)
    except OSError:
        return False
    return struct.unpack("i", raw)[0] != 0


def _logical_sector_size(fd: int) -> int:
    try:
        raw = fcntl.ioctl(fd, _BLKSSZGET, b"\0" * 4)
    except OSError:
        return 512
    size = struct.unpack("i", raw)[0]
    return size if size in (512, 1024, 2048, 4096) else 512
