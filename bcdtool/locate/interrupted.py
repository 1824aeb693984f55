"""Noticing, on open, that an earlier write to a store never finished.

A write raises a pending marker while it runs (write.pending); only when a marker names the store,
or the hive looks half-written, is the journal read, through the readers registered as
"interrupted-journal" and "latest-journal" in blockdev.openers (write.journal: the CLI registers
them lazily, so opening a store nobody was writing loads no journal code).
"""

from __future__ import annotations

import struct

from bcdtool.blockdev.openers import reader_for
from bcdtool.errors import DirtyHiveError, InterruptedWriteError, LockedError
from bcdtool.regf.checksums import regf_checksum
from bcdtool.regf.layout_packed import (BB_CHECKSUM, BB_PRIMARY_SEQUENCE, BB_SECONDARY_SEQUENCE,
                                        CHECKSUM_COVERED)
from bcdtool.write import pending


def check_not_interrupted(key: str, where: str, data: bytes, logs: list[tuple[str, bytes]]) -> None:
    """Raise InterruptedWriteError if a journal for store `key` is still "writing", or if the hive
    is half-written: sequence numbers differ and no transaction log could repair it (our commit
    makes the logs inert before its first write, so a torn commit looks exactly like this)."""
    journal = reader_for("interrupted-journal", path=where)(key) if pending.raised(key) else None
    if journal is not None and (pid := pending.writer_alive(key)) is not None:
        raise LockedError(f"another bcdtool (pid {pid}) is writing this store now; run the "
                          "command again when it has finished (nothing was written)", path=where)
    if journal is not None and journal.state == "undoing":
        raise InterruptedWriteError(
            f"an undo of this store was interrupted ({journal.operation or 'commit'}, "
            f"{journal.created}); finish it with `bcdtool undo {journal.path}`", path=where)
    if journal is not None:
        raise InterruptedWriteError(
            f"an earlier write to this store was interrupted ({journal.operation or 'commit'}, "
            f"{journal.created}); restore it with `bcdtool undo {journal.path}`", path=where)
    if _torn(data) and not any(raw[:4] == b"regf" for _, raw in logs):
        latest = reader_for("latest-journal", path=where)(key)
        if latest is None:
            # No journal of ours names this store: Windows (or another tool) left it dirty
            # without logs; calling it our interrupted write would send the user to a
            # journal that does not exist.
            raise DirtyHiveError(
                "the hive is dirty (its sequence numbers differ: the program that wrote it last "
                "did not finish) and no transaction log beside it can repair it; `bcdtool hive "
                "ls/get/export --allow-dirty` read it as it is and `bcdtool hive check` lists "
                "what is wrong", path=where)
        raise InterruptedWriteError(
            "the store was left half-written (its sequence numbers differ and no transaction log "
            f"can repair it); restore it with `bcdtool undo {latest.path}`", path=where)


def _torn(data: bytes) -> bool:
    """A base block that is intact (signature, checksum) but whose sequence numbers differ: what
    a commit leaves when it stops between its first and last base-block write.  A bad checksum
    is damage, not an interrupted commit, and is left to the reader to report."""
    if len(data) < 512 or data[:4] != b"regf":
        return False
    field = struct.Struct("<I")
    return (regf_checksum(data[:CHECKSUM_COVERED]) == field.unpack_from(data, BB_CHECKSUM)[0]
            and field.unpack_from(data, BB_PRIMARY_SEQUENCE)[0]
            != field.unpack_from(data, BB_SECONDARY_SEQUENCE)[0])
