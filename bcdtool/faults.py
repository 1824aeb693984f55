"""Test-only fault injection at the places where bcdtool writes target bytes.

Inert unless the environment arms it (the crash-injection tests run bcdtool in a subprocess with):

* `BCDTOOL_FAULT_AFTER_WRITES=N` — the process dies (`os._exit(FAULT_EXIT)`, no cleanup, no
  `finally`, like a power cut for everything but the page cache) right after its N-th write,
  i.e. when it is about to start write N+1;
* `BCDTOOL_FAULT_MODE=enospc|eio|erofs` (with `BCDTOOL_FAULT_AFTER_WRITES=N`) — instead of dying,
  write N+1 fails with that OSError: once for a full disk or an I/O error (the rollback's
  rewrites of already-allocated bytes then succeed), every write from N+1 on for a medium that
  turned read-only (the rollback fails too and must say how to undo later).

Writes are counted at the lowest level (a `pwrite` of a raw image or device, a hive file's data,
a transaction log's neutralisation, the rename that replaces a hive file), never the layers of
views and image formats above them, so N counts real writes.
"""

from __future__ import annotations

import errno
import os
import sys

#: Exit status of a process killed by an armed fault.
FAULT_EXIT = 86

_ERRORS = {"enospc": errno.ENOSPC, "erofs": errno.EROFS, "eio": errno.EIO}
_count = 0


def before_write(what: str = "") -> None:
    """Count one write about to happen; act if the armed fault is due (no-op when unarmed)."""
    global _count
    armed = os.environ.get("BCDTOOL_FAULT_AFTER_WRITES")
    if not armed:
        return
    _count += 1
    if _count <= int(armed):
        return
    mode = os.environ.get("BCDTOOL_FAULT_MODE", "exit")
    if mode == "exit":
        sys.stderr.write(f"bcdtool: fault injected: exit after {armed} writes (before {what})\n")
        sys.stderr.flush()
        os._exit(FAULT_EXIT)
    if mode == "erofs" or _count == int(armed) + 1:
        code = _ERRORS[mode]
        raise OSError(code, os.strerror(code), what or None)
