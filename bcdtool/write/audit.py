"""The audit trail: one JSON line per write, appended to `audit.jsonl` (or `--audit-log FILE`).

Pipelines and examiners need to know afterwards what bcdtool wrote where: time, target, store
path, operations, sha256 before/after and the undo journal.  The line is appended with a single
O_APPEND write, so concurrent bcdtool runs never interleave their lines.  The log is opened
before the target is touched, and a log that cannot be opened or whose file system is read-only
or nearly full refuses the write (nothing written); a line that still fails after a verified
write is a warning (the write stands), never a failed command.  The log must be a
regular file: a symlink is not followed, and a FIFO or device is refused instead of blocking.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

from bcdtool.errors import BcdToolError, UnsafePathError, write_failure
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


#: Room the audit log's file system must have before a write starts (a line is ~1 KiB; more
#: margin than that, so a log that is nearly full refuses instead of failing after the write).
ROOM = 64 * 1024


class Log:
    """The audit log held open from before the write to its line: what the line is appended
    to is the file checked (a name swapped in between changes nothing)."""

    def __init__(self, fd: int, where: Path, *, created: bool = False) -> None:
        self.fd, self.where, self.created = fd, where, created
        #: Why the line could not be appended (set by `record` when it returns None).
        self.failure = ""
        self.wrote = False

    @classmethod
    def open(cls, path: str | os.PathLike | None) -> Log:
        """Open (create 0600) the log for appending; WriteError, nothing written, when it
        cannot be opened or its file system is read-only or has less than ROOM bytes free."""
        where = Path(path) if path else default_path()
        try:
            if path is None:
                private_folder(where.parent)
            created = not os.path.lexists(where)
            fd = open_append(where, "the audit log")
        except BcdToolError as exc:
            raise type(exc)(f"{exc.message}; nothing was written", path=str(where)) from None
        try:
            room = os.fstatvfs(fd)
            if room.f_flag & os.ST_RDONLY:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
            if room.f_bavail * room.f_frsize < ROOM:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            os.close(fd)
            raise write_failure(exc, "cannot append to the audit log (or give --audit-log FILE "
                                "elsewhere); nothing was written", path=str(where)) from None
        return cls(fd, where, created=created)

    def record(self, *, target: str, store: dict | str, operation: str, changes: list,
               result) -> dict | None:
        """Append one line for a completed, verified write (`result`: its WriteResult); None,
        with `failure` saying why, when the medium refuses it: the write stands (it was
        verified and its journal undoes it), so this is a warning, not a failed write."""
        journal = result.journal
        entry = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "target": stored(target), "store": store, "operation": scrub(operation),
                 "changes": changes, "sha256_before": result.sha256_before,
                 "sha256_after": result.sha256_after, "journal": journal,
                 "journal_id": Path(journal).parent.name if journal else None,
                 "verified": result.verified}
        line = (json.dumps(entry, sort_keys=True) + "\n").encode()
        try:
            self.wrote = True
            if os.write(self.fd, line) != len(line):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(self.fd)
        except OSError as exc:
            self.failure = (f"the write succeeded and was verified, but its audit line could not "
                            f"be appended to {self.where}: {next_step(exc)} (journal: {journal})")
            return None
        return entry

    def close(self) -> None:
        """Release the log; one this run created and never wrote (the write was refused) is
        removed again, so a refusal leaves nothing behind."""
        try:
            if self.created and not self.wrote:
                held, now = os.fstat(self.fd), os.lstat(self.where)
                if held.st_size == 0 and (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino):
                    os.unlink(self.where)
        except OSError:
            pass                    # gone or replaced: not ours to remove
        finally:
            os.close(self.fd)
