"""Recipes layer: `--backup PATH` — a plain copy of the original hive bytes, before any write.

The undo journal already holds every overwritten byte; this copy is for people who want the whole
original file beside them (to open in other tools).  An existing file is kept only if it already
holds exactly these bytes, so a second run never overwrites the first backup with edited data.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bcdtool.errors import UnsafePathError, WriteError
from bcdtool.write.fileio import create_new, read_file


def save_original(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` (fsync'd); WriteError if `path` holds something else."""
    target = Path(path)
    try:
        info = os.lstat(target) if os.path.lexists(target) else None
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise UnsafePathError("the backup path is a symlink, FIFO or device; name a new or "
                                  "regular file; nothing was written", path=str(target))
        if info is not None:
            if info.st_size == len(data) and read_file(target, cap=len(data)) == data:
                return
            raise WriteError("the backup file exists and holds something else; nothing was "
                             "written", path=str(target))
        create_new(target, data, mode=0o600)
    except OSError as exc:
        raise WriteError(f"cannot write the backup: {exc.strerror}", path=str(target)) from None
