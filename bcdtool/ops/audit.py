"""Recipes layer: the audit trail — one JSON line per write, appended to `audit.jsonl`.

Pipelines and examiners need to know afterwards what bcdtool wrote where: time, target, store
path, operations, sha256 before/after and the undo journal.  The line is appended with a single
O_APPEND write, so concurrent bcdtool runs never interleave their lines.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from bcdtool.errors import WriteError
from bcdtool.journal import state_dir
from bcdtool.urls import scrub, stored

AUDIT_FILE = "audit.jsonl"


def default_path() -> Path:
    """`$XDG_STATE_HOME/bcdtool/audit.jsonl` (else ~/.local/state/bcdtool/audit.jsonl)."""
    return state_dir() / AUDIT_FILE


def record(*, target: str, store: dict | str, operation: str, changes: list, result,
           path: str | os.PathLike | None = None) -> dict:
    """Append one line for a completed write (`result`: the target layer's WriteResult)."""
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
        where.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(where, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise WriteError(f"the write succeeded but the audit log could not be appended: "
                         f"{exc.strerror}", path=str(where)) from None
    return entry
