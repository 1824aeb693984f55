"""Recipes layer: `--backup PATH` — a plain copy of the original hive bytes, before any write.

The undo journal already holds every overwritten byte; this copy is for people who want the whole
original file beside them (to open in other tools).  An existing file is kept only if it already
holds exactly these bytes, so a second run never overwrites the first backup with edited data.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from bcdtool.errors import LimitError, WriteError
from bcdtool.write.fileio import read_file


def save_original(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` (fsync'd); WriteError if `path` holds something else."""
    target = Path(path)
    try:
        if target.exists():
            # The user named it (a link is followed), but a FIFO or device is never waited on.
            with contextlib.suppress(LimitError):     # larger than the original: not a copy
                if read_file(target, cap=len(data), follow=True) == data:
                    return
            raise WriteError("the backup file exists and holds something else; nothing was "
                             "written", path=str(target))
        with open(target, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise WriteError(f"cannot write the backup: {exc.strerror}", path=str(target)) from None
