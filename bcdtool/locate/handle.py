"""An opened hive on some target (`HiveHandle`); committing goes through bcdtool/write."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from bcdtool.errors import ReadOnlyError
from bcdtool.write.result import WriteResult
from bcdtool.write.transaction import Audit

if TYPE_CHECKING:
    from bcdtool.regf.hive import Hive
    from bcdtool.regf.planned import Planned

__all__ = ["HiveHandle", "Store", "WriteResult"]


class Store(Protocol):
    """Where a hive's bytes live (a plain file, a file inside a volume on a device, ...)."""

    key: str
    read_only: bool

    def load(self) -> tuple[Hive, bytes]: ...
    def commit(
        self,
        original: bytes,
        new_image: bytes,
        *,
        file_size: int,
        dry_run: bool,
        backup_dir,
        operation: str,
        diff: list | None,
        audit: Audit | None,
        planned: Planned | None = None,
    ) -> tuple[WriteResult, Hive | None]: ...
    def close(self) -> None: ...


class HiveHandle:
    """A hive found on a target: read it through `.hive`, write a new image with `.commit()`."""

    def __init__(self, store: Store, *, description: str, location: dict) -> None:
        self._store = store
        self.description = description
        self.location = location
        self.hive, self._original = store.load()

    @property
    def read_only(self) -> bool:
        """True when the target was opened without write access (forensic mode)."""
        return self._store.read_only

    def commit(
        self,
        new_image: bytes,
        *,
        dry_run: bool = False,
        backup_dir=None,
        operation: str = "",
        diff: list | None = None,
        changes: list | None = None,
        audit_log=None,
        planned: Planned | None = None,
    ) -> WriteResult:
        """Write `new_image` (the edited hive) back through the one write transaction (dry run:
        plan and verify only); the write appends one audit line (`changes` describe it;
        `audit_log`: where).  `planned` is the editor's record of the edits
        (`HiveEditor.planned`): verification then proves that nothing else changed."""
        if self.read_only and not dry_run:
            raise ReadOnlyError("the target was opened read-only; nothing was written",
                                path=self.location.get("target"))
        audit = Audit(store=self.location, changes=list(changes if changes is not None
                                                         else diff or []), path=audit_log)
        result, hive = self._store.commit(self._original, bytes(new_image),
                                          file_size=self.hive.file_size, dry_run=dry_run,
                                          backup_dir=backup_dir, operation=operation, diff=diff,
                                          audit=audit, planned=planned)
        if hive is not None:
            self.hive, self._original = hive, hive.original
        if result.journal:
            result.notices.append(
                f"undo journal written; restore with `bcdtool undo {result.journal}`"
            )
        return result

    def close(self) -> None:
        """Release files and devices."""
        self._store.close()

    def __enter__(self) -> HiveHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
