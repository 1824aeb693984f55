"""Undo a write: put back the original bytes an undo journal saved, after checking it is safe."""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field

from bcdtool import journal as journals
from bcdtool.errors import BcdToolError, NotFoundError, VerifyError
from bcdtool.urls import is_url, resolve


@dataclass
class UndoResult:
    """What `undo` restored."""

    journal: str
    target: str
    operation: str
    entries: int
    sha256: str | None = None          # the store's sha256 after restoring (disk journals)
    notices: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-ready dictionary."""
        return dict(self.__dict__)


def undo(path: str | os.PathLike, *, force: bool = False, secrets: tuple[str, ...] = ()
         ) -> UndoResult:
    """Restore journal `path`; refuse (unless `force`) if the bytes changed since bcdtool wrote them.

    A journal of a remote disk stores its URL without the SAS: `secrets` are full URLs
    (`undo --target URL`) to open it with; an az:// disk needs none.
    """
    journal = journals.load(path)
    if journal.extra.get("backend") == "guestfs":   # written through libguestfs: restored by it
        from bcdtool.backends.guestfs_linux import undo_journal

        journal, sha = undo_journal(path, force=force)
        return UndoResult(journal=str(journal.path), target=journal.target,
                          operation=journal.operation, entries=len(journal.entries), sha256=sha)
    notices = []
    if journal.state == "restored":
        notices.append("this journal was already restored once; restoring again")
    # An interrupted write ("writing") leaves bytes that are neither before nor after: restoring
    # them is the point.  After a finished write, other bytes mean someone edited since.
    changed = [] if journal.state == "writing" or force else \
        [e for e in journal.entries
         if _current_sha(e, secrets) not in (e.sha256_after, e.sha256_before)]
    if changed:
        raise BcdToolError(f"{changed[0].path} changed after bcdtool wrote it; undoing would discard "
                           "those changes (use --force to restore anyway)", path=str(journal.path))
    from bcdtool.locate.disk import restore
    from bcdtool.locate.inuse import exclusive, refuse_if_in_use

    disks = sorted({e.path for e in journal.entries if e.kind == "extent"})
    with contextlib.ExitStack() as held:
        for disk in disks:      # never write under a running VM or a mounted device
            if is_url(disk):
                continue        # a remote disk is locked by its lease, taken by restore
            try:
                device = stat.S_ISBLK(os.stat(disk).st_mode)
            except OSError as exc:
                raise NotFoundError(f"cannot reach the journal's disk: {exc.strerror}",
                                    path=disk) from None
            refuse_if_in_use(disk, device=device)
            held.enter_context(exclusive(disk, device=device))
        restore(journal.path, secrets=secrets, lease_id=journal.extra.get("lease_id"))
    result = UndoResult(journal=str(journal.path), target=journal.target,
                        operation=journal.operation, entries=len(journal.entries), notices=notices)
    expected = journal.extra.get("sha256_before")
    if expected and journal.extra.get("location"):
        result.sha256 = _store_sha(journal.extra["location"], secrets)
        if result.sha256 != expected:
            raise VerifyError("after undo the store does not read back as the original "
                              f"(sha256 {result.sha256[:16]}, expected {expected[:16]})",
                              path=journal.target)
    return result


def _current_sha(entry: journals.Entry, secrets: tuple[str, ...] = ()) -> str | None:
    if entry.kind == "file":
        try:
            with open(entry.path, "rb") as handle:
                return journals.sha256(handle.read())
        except FileNotFoundError:
            return journals.sha256(b"") if not entry.existed else None
        except OSError:
            return None         # unreadable: treated as changed, so undo asks for --force
    from bcdtool.blockdev.detect import open_image

    with open_image(resolve(entry.path, secrets), writable=False) as dev:
        return journals.sha256(dev.read_at(entry.offset, entry.length))


def _store_sha(location: dict, secrets: tuple[str, ...] = ()) -> str:
    """sha256 of the store, re-found from scratch the way the journal's location describes it."""
    from bcdtool.locate import open_hive

    with open_hive(resolve(location["target"], secrets), partition=location.get("partition"),
                   path=location["path"], read_only=True, kind="hive") as handle:
        return journals.sha256(handle.hive.original)
