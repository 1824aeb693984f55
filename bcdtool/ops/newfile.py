"""Operations layer: the one way a command creates a new file (`new-store`, `hive new`,
`bcdedit /createstore` and `/export`): never over an existing name, nothing for `--dry-run`, a
refusal for `--read-only`, and the same `changes` entry in every result.

A new file has no undo journal (removing it undoes it) and no original to `--backup`.
"""

from __future__ import annotations

import errno
import os

from bcdtool.errors import BcdToolError, ReadOnlyError, WriteError, medium_text, write_failure
from bcdtool.ops.edits import WriteOptions
from bcdtool.write.fileio import create_new

#: What the medium says when it is full, read-only or failing (WriteError/MediaError with their
#: next steps, whichever command creates the file).
_MEDIUM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


def create_file(path: str | os.PathLike, data: bytes, opts: WriteOptions, *,
                error: type[BcdToolError], exists: str,
                failed: type[BcdToolError] = WriteError) -> list[dict]:
    """Create `path` holding `data` (unless `opts.dry_run`); the one change it makes.

    Raises:
        ReadOnlyError: with `opts.read_only` (forensic mode creates nothing).
        error: `exists` when the name is taken (a file, link, FIFO, ...).
        failed: the OS's reason the file cannot be created.
    """
    change = {"action": "create", "path": str(path), "size": len(data)}
    if opts.read_only:
        raise ReadOnlyError("--read-only: nothing is created; run it without --read-only",
                            path=str(path))
    if opts.dry_run:
        return [change]
    try:
        create_new(path, data)
    except FileExistsError:
        raise error(exists, path=str(path)) from None
    except OSError as exc:
        if exc.errno in _MEDIUM:        # a full, read-only or failing medium, for every command
            raise write_failure(exc, "cannot create the file", path=str(path)) from None
        raise failed(f"cannot create the file: {medium_text(exc)}", path=str(path)) from None
    return [change]
