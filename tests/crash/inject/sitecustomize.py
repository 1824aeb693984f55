"""Loaded by every Python process the crash tests start (PYTHONPATH points here): arms the fault
the environment asks for through bcdtool's write observer (bcdtool/write/observe.py).

* `BCDTOOL_FAULT_AFTER_WRITES=N` — the process dies (`os._exit(FAULT_EXIT)`, no cleanup, no
  `finally`, like a power cut for everything but the page cache) when it is about to start
  write N+1 of a transaction (a write or a restore);
* `BCDTOOL_FAULT_MODE=enospc|eio|erofs` — instead of dying, write N+1 fails with that OSError:
  once for a full disk or an I/O error (the rollback's rewrites then succeed), every write from
  N+1 on for a medium that turned read-only (the rollback fails too and must say how to undo).

Batch workers fork from a forkserver started by such a process, so they are armed too (each
counts its own writes).
"""

import errno
import os
import sys

FAULT_EXIT = 86
_ERRORS = {"enospc": errno.ENOSPC, "erofs": errno.EROFS, "eio": errno.EIO}


def _arm() -> None:
    armed = os.environ.get("BCDTOOL_FAULT_AFTER_WRITES")
    if not armed:
        return
    from bcdtool.write import observe

    limit, mode, count = int(armed), os.environ.get("BCDTOOL_FAULT_MODE", "exit"), [0]

    def fault(what: str) -> None:
        count[0] += 1
        if count[0] <= limit:
            return
        if mode == "exit":
            sys.stderr.write(
                f"bcdtool: fault injected: exit after {limit} writes (before {what})\n"
            )
            sys.stderr.flush()
            os._exit(FAULT_EXIT)
        if mode == "erofs" or count[0] == limit + 1:
            raise OSError(_ERRORS[mode], os.strerror(_ERRORS[mode]), what or None)

    observe.install(fault)


_arm()
