"""Whole-file replacement that never leaves a half-written file and keeps the file's metadata.

Used wherever bcdtool rewrites a file it did not create (hive files, Linux guest configs, undo):
a temporary file in the same folder, the old file's mode, owner and extended attributes (SELinux
labels on RHEL guests) copied onto it, fsync, rename over the original, fsync of the folder.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Callable

from bcdtool.errors import WriteError

TEMP_SUFFIX = ".bcdtool-tmp"


def replace_file(path: str | os.PathLike, data: bytes, *,
                 before_write: Callable[[str], None] | None = None) -> None:
    """Atomically give `path` the content `data`, keeping mode, owner and xattrs if it exists.

    `before_write(name)` is called before the data write and before the rename (the
    crash-injection hook counts those two writes).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    try:
        try:
            before = os.stat(path)
        except FileNotFoundError:
            before = None
        # A new file gets 0644 less the umask; an existing one its own mode, set below.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                     0o644 if before is None else 0o600)
        try:
            if before_write is not None:
                before_write(str(tmp))
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if before is not None:
                os.fchmod(fd, before.st_mode & 0o7777)
                _copy_xattrs(path, fd)
                if (before.st_uid, before.st_gid) != (os.geteuid(), os.getegid()):
                    os.fchown(fd, before.st_uid, before.st_gid)
            os.fsync(fd)
        finally:
            os.close(fd)
        if before_write is not None:
            before_write(str(path))
        os.replace(tmp, path)
        fsync_folder(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WriteError(f"cannot write file: {exc.strerror}", path=str(path)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fsync_folder(folder: str | os.PathLike) -> None:
    """Make a rename or a new file in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_xattrs(source: Path, fd: int) -> None:
    try:
        names = os.listxattr(source, follow_symlinks=False)
    except OSError:
        return  # the file system has no xattrs: nothing to keep
    for name in names:
        try:
            os.setxattr(fd, name, os.getxattr(source, name, follow_symlinks=False))
        except OSError as exc:
            raise WriteError(f"cannot keep extended attribute {name}: {exc.strerror}",
                             path=str(source)) from None

