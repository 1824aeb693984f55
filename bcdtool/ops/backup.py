"""Recipes layer: `--backup PATH` — a plain copy of the original store file, before any write.

The undo journal already holds every overwritten byte; this copy is for people who want the whole
original file beside them (to open in other tools): every byte of it, the slack after the hive
included, copied a piece at a time.  An existing file is kept only if it already holds exactly
these bytes, so a second run never overwrites the first backup with edited data.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from bcdtool.errors import UnsafePathError, WriteError, write_failure
from bcdtool.write.fileio import READ_FLAGS, check_regular, create_new, identity


def save_original(path: str | os.PathLike, pieces: Iterable[bytes],
                  location: dict | None = None) -> None:
    """Write the bytes of `pieces` to `path` (fsync'd); WriteError if `path` holds something
    else; UnsafePathError if it is the very file they come from (`location`: the handle's)."""
    target = Path(path)
    try:
        info = os.lstat(target) if os.path.lexists(target) else None
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise UnsafePathError("the backup path is a symlink, FIFO or device; name a new or "
                                  "regular file; nothing was written", path=str(target))
        if info is not None and (info.st_dev, info.st_ino) in _sources(location or {}):
            raise UnsafePathError("the backup path is the store (or image) being written "
                                  "itself, so it would hold the edited bytes, not a backup; "
                                  "name a new file outside the target; nothing was written",
                                  path=str(target))
        if info is not None:
            if not _holds(target, pieces):
                raise WriteError("the backup file exists and holds something else; nothing was "
                                 "written", path=str(target))
            return
        create_new(target, pieces, mode=0o600)
    except OSError as exc:
        raise write_failure(exc, "cannot write the backup; nothing was written",
                            path=str(target)) from None


def _holds(target: Path, pieces: Iterable[bytes]) -> bool:
    """Whether the regular file `target` holds exactly the bytes of `pieces` (compared a piece at
    a time)."""
    fd = os.open(target, READ_FLAGS)
    try:
        check_regular(fd, str(target))
        offset = 0
        for piece in pieces:
            if os.pread(fd, len(piece), offset) != piece:
                return False
            offset += len(piece)
        return not os.pread(fd, 1, offset)
    finally:
        os.close(fd)


def _sources(location: dict) -> set[tuple[int, int]]:
    """(device, inode) of the local file a handle's `location` reads the store from: the hive
    file, the store inside a folder, or the image or device."""
    target, inside = location.get("target"), location.get("path")
    if location.get("kind") == "file":
        names = [inside]
    elif location.get("kind") == "directory" and isinstance(inside, str):
        names = [os.path.join(str(target), inside)]
    else:
        names = [target]
    return {found for name in names if isinstance(name, str) and (found := identity(name))}

