"""What a TARGET argument names: a hive file, a directory, a block device or a disk image."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bcdtool.errors import FormatError, ImageError, NotFoundError
from bcdtool.urls import is_url

HIVE = "hive"
DIRECTORY = "directory"
DEVICE = "device"
IMAGE = "image"


def detect_kind(spec: str | os.PathLike) -> str:
    """Classify `spec` by what it is and by its first bytes (never by its file name); a URL is
    a disk image (read with range requests when it is opened)."""
    if is_url(spec):
        return IMAGE
    path = Path(spec)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise NotFoundError("no such file, directory or device", path=str(spec)) from None
    except OSError as exc:
        raise NotFoundError(f"cannot access: {exc.strerror}", path=str(spec)) from None
    if stat.S_ISDIR(st.st_mode):
        return DIRECTORY
    if stat.S_ISBLK(st.st_mode):
        return DEVICE
    if not stat.S_ISREG(st.st_mode):
        raise NotFoundError("not a file, directory or block device", path=str(spec))
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise NotFoundError(f"cannot open: {exc.strerror}", path=str(spec)) from None
    try:
        head = os.pread(fd, 64, 0)
        pe = head[:2] == b"MZ" and len(head) == 64 and \
            os.pread(fd, 4, int.from_bytes(head[0x3C:0x40], "little")) == b"PE\0\0"
    except OSError as exc:      # EIO: a failing disk under the file (or a file like /proc/*/mem)
        raise ImageError(f"cannot read: {exc.strerror}; if the disk is failing, copy what is "
                         "readable first (ddrescue) and give the copy", path=str(spec)) from None
    finally:
        os.close(fd)
    if not head:        # by reading: kernel files (/proc/...) say 0 bytes and are not empty
        raise FormatError("the file is empty (0 bytes): neither a hive nor a disk image; "
                          "restore it from a backup (a BCD store can be built anew with "
                          "`bcdtool new-store`)", path=str(spec))
    if pe:
        raise FormatError("not a registry hive or a disk image: it is a Windows executable (a PE "
                          "file, starting with 'MZ'); give the hive file itself, e.g. "
                          "Windows/System32/config/SYSTEM", path=str(spec))
    return HIVE if head[:4] == b"regf" else IMAGE
