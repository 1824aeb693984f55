"""An opened hive on some target (`HiveHandle`) and what committing a new image did (`WriteResult`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol

from bcdtool.errors import ReadOnlyError

if TYPE_CHECKING:
    from bcdtool.regf.hive import Hive
    from bcdtool.regf.planned import Planned


@dataclass
class WriteResult:
    """The outcome (or, for a dry run, the plan) of one commit."""

    target: str
    dry_run: bool
    size: int
    sha256_before: str
    sha256_after: str
    #: (hive offset, length) of every write, in the order the commit protocol does them.
    plan: list[tuple[int, int]]
    pages_written: int
    bytes_written: int
    journal: str | None = None
    verified: bool = False
    notices: list[str] = field(default_factory=list)
    #: Inside disks: (byte offset on the disk, length) of every write, logs' headers included.
    device_writes: list[tuple[int, int]] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-ready dictionary."""
        doc = asdict(self)
        doc["plan"] = [{"offset": off, "length": length} for off, length in self.plan]
        doc["device_writes"] = [{"offset": off, "length": length}
                                for off, length in self.device_writes]
        return doc


class Store(Protocol):
    """Where a hive's bytes live (a plain file, or a file inside a volume on a device)."""

    key: str
    read_only: bool

    def load(self) -> tuple["Hive", bytes]: ...
    def commit(self, original: bytes, new_image: bytes, *, dry_run: bool, backup_dir, operation: str,
               diff: list | None, planned: "Planned | None" = None
               ) -> tuple[WriteResult, "Hive | None"]: ...
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

    def commit(self, new_image: bytes, *, dry_run: bool = False, backup_dir=None, operation: str = "",
               diff: list | None = None, planned: "Planned | None" = None) -> WriteResult:
        """Write `new_image` (the edited hive) back: plan, back up, write, verify (dry run: plan and
        verify the planned image).  `planned` is the editor's record of the edits
        (`HiveEditor.planned`): verification then proves nothing else changed."""
        if self.read_only and not dry_run:
            raise ReadOnlyError("the target was opened read-only; nothing was written",
                                path=self.location.get("target"))
        result, hive = self._store.commit(self._original, bytes(new_image), dry_run=dry_run,
                                          backup_dir=backup_dir, operation=operation, diff=diff,
                                          planned=planned)
        if hive is not None:
            self.hive, self._original = hive, hive.original
        if result.journal:
            result.notices.append(f"undo journal written; restore with `bcdtool undo {result.journal}`")
        return result

    def close(self) -> None:
        """Release files and devices."""
        self._store.close()

    def __enter__(self) -> "HiveHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
