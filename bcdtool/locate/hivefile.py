"""A hive that is a plain file (a BCD file, or a hive found in a directory), and its commit."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from bcdtool import journal as journals
from bcdtool.errors import (BcdToolError, NotFoundError, ReadOnlyError, UnsafeVolumeError,
                            VerifyError, WriteError)
from bcdtool.fs.base import VolumeFacts
from bcdtool.regf.hive import Hive
from bcdtool.regf.logs import find_log_files
from bcdtool.regf.planned import Planned
from bcdtool.locate.handle import WriteResult
from bcdtool.locate.interrupted import check_not_interrupted

def read_file(path: Path) -> bytes:
    """The whole file, opened with O_RDONLY (forensic mode relies on every open being read-only)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise NotFoundError("no such file", path=str(path)) from None
    except OSError as exc:
        raise NotFoundError(f"cannot open: {exc.strerror}", path=str(path)) from None
    try:
        with os.fdopen(fd, "rb", closefd=True) as handle:
            return handle.read()
    except OSError as exc:
        raise NotFoundError(f"cannot read: {exc.strerror}", path=str(path)) from None


class HiveFile:
    """A hive in a plain file; commits go through the regf layer's temp-file-and-rename writer."""

    kind = "file"

    def __init__(self, path: str | os.PathLike, *, read_only: bool = False,
                 facts: Callable[[], VolumeFacts] | None = None) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._facts = facts             # the folder's volume facts, when found in a folder
        self.key = "file:" + os.path.realpath(self.path)

    def load(self) -> tuple[Hive, bytes]:
        """Read the hive and its logs (replayed in memory when the hive is dirty)."""
        data = read_file(self.path)
        logs = [(p.name, read_file(p)) for p in find_log_files(self.path)]
        check_not_interrupted(self.key, str(self.path), data, logs)
        return Hive.from_bytes(data, name=str(self.path), logs=logs), data

    def commit(self, original: bytes, new_image: bytes, *, dry_run: bool, backup_dir,
               operation: str, diff: list | None, planned: Planned | None = None
               ) -> tuple[WriteResult, Hive | None]:
        """Plan, verify the plan, back up (journal), write via `write_hive_file` (which re-reads
        and verifies what landed), check it holds the planned bytes."""
        from bcdtool.locate.plan import PAGE, pages_in, plan_commit, verify_plan

        final, steps = plan_commit(original, new_image)
        result = WriteResult(target=str(self.path), dry_run=dry_run, size=len(final),
                             sha256_before=journals.sha256(original),
                             sha256_after=journals.sha256(final),
                             plan=[(off, len(data)) for off, data in steps],
                             pages_written=0 if dry_run else pages_in(steps),
                             # the file is replaced whole (temporary file and rename)
                             bytes_written=0 if dry_run else len(final))
        if len(final) != len(original):
            result.notices.append(f"the file changes size ({len(original)} -> {len(final)} "
                                  "bytes) and is rewritten whole")
        refusal = self._refusal()
        if dry_run:
            verify_plan(original, final, planned=planned, name=str(self.path))
            if refusal is not None:
                result.notices.append(f"a real write would be refused: {refusal.message}")
            return result, None
        if refusal is not None:
            raise refusal
        if read_file(self.path) != original:
            raise WriteError("the file changed since it was read; nothing was written",
                             path=str(self.path))
        from bcdtool.regf.commit import write_hive_file

        journal = journals.Journal.start(os.path.abspath(self.path), operation,
                                         backup_dir=backup_dir, diff=diff, target_key=self.key)
        journal.extra.update(kind=self.kind, size=len(original))
        journal.backup_file(self.path)
        for log in find_log_files(self.path):
            journal.backup_file(log)
        result.journal = str(journal.path)
        journal.mark("writing")
        try:
            write_hive_file(self.path, new_image, original=original, planned=planned)
            written = read_file(self.path)
            # The writer finalizes the base block itself (its own timestamp) and has verified
            # what it wrote; the rest must be what was planned.
            if written[PAGE:] != final[PAGE:]:
                raise VerifyError("the hive file does not hold the planned content",
                                  path=str(self.path))
            hive = Hive.from_bytes(written, name=str(self.path))
        except BaseException as exc:
            self._restore(journal, exc)
            raise
        result.sha256_after = journals.sha256(written)
        for entry in journal.entries:       # what undo later expects to find (logs zeroed, ...)
            entry.sha256_after = journals.sha256(read_file(Path(entry.path)))
        journal.mark("done")
        result.verified = True
        return result, hive

    @staticmethod
    def _restore(journal: journals.Journal, exc: BaseException) -> None:
        """Put back the hive and the logs it neutralised after a failed write, and say so."""
        try:
            journals.undo(journal.path)
        except BcdToolError as failure:
            raise WriteError(f"the write failed ({exc}) and restoring the original failed too "
                             f"({failure}); restore it with `bcdtool undo {journal.path}`",
                             path=str(journal.target)) from None
        if isinstance(exc, BcdToolError):
            exc.message = f"{exc.message}; the original file was restored"
            exc.args = (exc.message,)

    def _refusal(self) -> BcdToolError | None:
        """Why the file must not be written (no write access; a hibernated Windows folder)."""
        for where in (self.path, self.path.parent):   # the parent: temporary file and rename
            if not os.access(where, os.W_OK):
                return ReadOnlyError("no write access (read-only media or permissions); "
                                     "nothing was written", path=str(where))
        reasons = self._facts().unsafe_reasons() if self._facts else []
        if reasons:
            return UnsafeVolumeError("refusing to write: " + "; ".join(reasons)
                                     + "; nothing was written", path=str(self.path))
        return None

    def close(self) -> None:
        """Nothing stays open between calls."""
