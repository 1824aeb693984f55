"""The audit trail: one JSON line per write, appended to `audit.jsonl` (or `--audit-log FILE`).

Pipelines and examiners need to know afterwards what bcdtool wrote where: time, target, store
path, operations, sha256 before/after and the undo journal.  The line is appended with a single
O_APPEND write, so concurrent bcdtool runs never interleave their lines.  The log must be a
regular file: a symlink is not followed, and a FIFO or device is refused instead of blocking.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

from bcdtool.errors import BcdToolError, UnsafePathError, WriteError
from bcdtool.write.fileio import kernel_filesystem, next_step, open_append
from bcdtool.urls import scrub, stored
from bcdtool.write.journal import private_folder, state_dir

AUDIT_FILE = "audit.jsonl"


def default_path() -> Path:
    """`$XDG_STATE_HOME/bcdtool/audit.jsonl` (else ~/.local/state/bcdtool/audit.jsonl)."""
    return state_dir() / AUDIT_FILE


def check(path: str | os.PathLike | None) -> None:
    """Refuse, before anything is written, an audit log that is a symlink, FIFO, device or
    kernel interface (/proc, /sys...)."""
    where = Path(path) if path else default_path()
    try:
        info = os.lstat(where)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UnsafePathError(f"cannot use the audit log: {exc.strerror}; nothing was written",
                              path=str(where)) from None
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePathError("the audit log is not a regular file (a symlink, FIFO or device); "
                              "name a regular file with --audit-log; nothing was written",
                              path=str(where))
    kernel = kernel_filesystem(info)
    if kernel:
        raise UnsafePathError(f"the audit log is a kernel interface ({kernel}), not a file for "
                              "lines; name a file on a disk with --audit-log; nothing was "
                              "written", path=str(where))
    if info.st_nlink > 1:   # appending would also change the same file under other names
        raise UnsafePathError(f"the audit log has {info.st_nlink} hard links (its lines would "
                              "land in another file too); name a file of its own with "
                              "--audit-log; nothing was written", path=str(where))


def record(*, target: str, store: dict | str, operation: str, changes: list, result,
           path: str | os.PathLike | None = None) -> dict:
    """Append one line for a completed write (`result`: its WriteResult)."""
    journal = result.journal
    entry = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "target": stored(target), "store": store, "operation": scrub(operation),
             "changes": changes, "sha256_before": result.sha256_before,
             "sha256_after": result.sha256_after, "journal": journal,
             "journal_id": Path(journal).parent.name if journal else None,
             "verified": result.verified}
    line = (json.dumps(entry, sort_keys=True) + "\n").encode()
    where = Path(path) if path else default_path()
    try:
        if path is None:
            private_folder(where.parent)
        fd = open_append(where, "the audit log")
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
    except (OSError, BcdToolError) as exc:
        why = next_step(exc) if isinstance(exc, OSError) else exc.message
        raise WriteError(f"the write succeeded but the audit log could not be appended: {why}",
                         path=str(where)) from None
    return entry
