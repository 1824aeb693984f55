"""Undo a write: put back the original bytes an undo journal saved (bcdtool/write/undo.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from bcdtool.errors import VerifyError
from bcdtool.urls import remember
from bcdtool.write import undo as write_undo


@dataclass
class UndoResult:
    """What `undo` restored."""

    journal: str
    target: str
    operation: str
    entries: int
    sha256: str | None = None          # the store's sha256 after restoring (hive journals)
    notices: list[str] = field(default_factory=list)
    #: What was put back: one object per journal entry (file, kind, offset, length).
    changes: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-ready dictionary."""
        return dict(self.__dict__)


def undo(path: str | os.PathLike, *, force: bool = False, secrets: tuple[str, ...] = (),
         trust: bool = False) -> UndoResult:
    """Restore journal `path`; refuse (unless `force`) if the bytes changed since bcdtool wrote
    them, and (unless `trust`) a journal this user's bcdtool did not sign.  A remote disk's
    journal keeps its URL without the SAS: `secrets` are the full URLs (`undo --target URL`) to
    open it with (an az:// disk needs none)."""
    for url in secrets:
        remember(url)
    journal, shas = write_undo.undo(path, force=force, trust=trust)
    notices = []
    if journal.extra.get("converted_from_version") == 1:
        notices.append("a version 1 journal (an older bcdtool's), read as version 2")
    if journal.extra.get("restored_before"):
        notices.append("this journal was already restored once; restoring again")
    result = UndoResult(journal=str(journal.path), target=journal.target,
                        operation=journal.operation, entries=len(journal.entries), notices=notices,
                        changes=[{"action": "restore", "path": e.file, "kind": e.kind,
                                  "offset": e.offset, "length": e.length}
                                 for e in journal.entries])
    store = journal.extra.get("store")
    if isinstance(store, str) and store in shas:
        result.sha256 = shas[store]
        expected = next(e.sha256_before for e in journal.entries if e.file == store)
        if result.sha256 != expected:
            raise VerifyError("after undo the store does not read back as the original "
                              f"(sha256 {str(result.sha256)[:16]}, expected {expected[:16]})",
                              path=journal.target)
    return result
