"""Pending markers: the small file a write (or undo) keeps in the state folder while it runs,
so that the next open of its store notices an interrupted write.

Every open of a store looks for its marker (locate.interrupted); only when there is one does
it read the journal the marker names (write.journal, with its signatures), so reading a store
nobody is writing loads no journal code.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from bcdtool.errors import BcdToolError
from bcdtool.write.fileio import READ_FLAGS, read_fd

#: How deeply journal.json or a marker may nest (Python's parser recurses; a hostile file must
#: not crash it).
MAX_DEPTH = 64


def state_dir() -> Path:
    """bcdtool's state folder: $XDG_STATE_HOME/bcdtool, else ~/.local/state/bcdtool."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "bcdtool"


def marker_path(target_key: str) -> Path:
    """Where the pending marker of store `target_key` (write.keys) lies."""
    # surrogateescape: a path with bytes that are not UTF-8 (any Linux file name may hold them)
    # names its store by those very bytes
    digest = hashlib.sha256(target_key.encode("utf-8", "surrogateescape")).hexdigest()
    return state_dir() / "pending" / (digest[:32] + ".json")


def raised(target_key: str) -> bool:
    """Whether a pending marker (of any kind of file) names store `target_key`."""
    return os.path.lexists(marker_path(target_key))


def nesting(raw: bytes) -> int:
    """The deepest bracket nesting of a JSON text (strings skipped), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def marker_doc(raw: bytes):
    """A pending marker's JSON; ValueError for one no bcdtool wrote (nested past MAX_DEPTH,
    which json.loads would answer with a RecursionError on every open of the store)."""
    if nesting(raw) > MAX_DEPTH:
        raise ValueError("pending marker nests too deeply")
    return json.loads(raw)


def started(pid: int) -> str | None:
    """When process `pid` started (field 22 of /proc/PID/stat, clock ticks since boot), None if
    it is gone: with the pid it tells a live process from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read(4096)
    except OSError:
        return None
    fields = raw.rpartition(b")")[2].split()
    return fields[19].decode() if len(fields) > 19 else None


def writer_alive(target_key: str) -> int | None:
    """The pid of another process still writing (or undoing) store `target_key` under its
    pending marker — a write in progress, not an interrupted one — else None."""
    try:
        fd = os.open(marker_path(target_key), READ_FLAGS)
    except OSError:
        return None
    try:
        doc = marker_doc(read_fd(fd, "pending marker", cap=64 * 1024))
    except (OSError, ValueError, BcdToolError):
        return None
    finally:
        os.close(fd)
    pid = doc.get("pid") if isinstance(doc, dict) else None
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or pid == os.getpid():
        return None
    started_at = doc.get("started")
    return pid if started_at is not None and started(pid) == started_at else None
