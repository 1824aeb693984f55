"""Noticing, on open, that an earlier write to a store never finished."""

from __future__ import annotations

from bcdtool import journal as journals
from bcdtool.errors import InterruptedWriteError
from bcdtool.regf.logs import is_dirty


def check_not_interrupted(key: str, where: str, data: bytes, logs: list[tuple[str, bytes]]) -> None:
    """Raise InterruptedWriteError if a journal for store `key` is still "writing", or if the hive
    is half-written: sequence numbers differ and no transaction log could repair it (our commit
    makes the logs inert before its first write, so a torn commit looks exactly like this)."""
    journal = journals.interrupted(key)
    if journal is not None:
        raise InterruptedWriteError(
            f"an earlier write to this store was interrupted ({journal.operation or 'commit'}, "
            f"{journal.created}); restore it with `bcdtool undo {journal.path}`", path=where)
    if len(data) >= 512 and data[:4] == b"regf" and is_dirty(data) \
            and not any(raw[:4] == b"regf" for _, raw in logs):
        latest = journals.latest(key)
        hint = f"`bcdtool undo {latest.path}`" if latest is not None else \
            f"`bcdtool undo` and its journal (under {journals.state_dir() / 'journal'} or your " \
            "--backup-dir)"
        raise InterruptedWriteError(
            "the store was left half-written (its sequence numbers differ and no transaction log "
            f"can repair it); restore it with {hint}", path=where)
