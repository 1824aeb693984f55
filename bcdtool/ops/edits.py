"""Operations layer: what a changing command is asked to do (`WriteOptions`) and what it did
(`EditResult`) — apart from the recipe runner, so commands that only read (bcdedit /enum) can
report in the same shape without importing the write path."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WriteOptions:
    """How a write is made: the options every changing command takes (cli/options.py)."""

    dry_run: bool = False
    backup_dir: str | None = None
    backup: str | None = None          # also copy the original bytes of the hive here
    read_only: bool = False            # forensic: open nothing with write access
    audit_log: str | None = None

    @property
    def opens_read_only(self) -> bool:
        """True when the target is opened without write access."""
        return self.dry_run or self.read_only


@dataclass
class EditResult:
    """What a recipe did (or, for a dry run, would do): the result of every changing command."""

    operation: str
    location: dict                    # where the hive is (the handle's location)
    description: str
    dry_run: bool
    changes: list[dict] = field(default_factory=list)
    journal: str | None = None
    write: dict | None = None
    audit: dict | None = None
    notices: list[str] = field(default_factory=list)
    #: What a recipe adds (repair boot: the re-pointed devices and what it could not repair).
    details: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """`{"operation", "location", "description", "dry_run", "changes", "journal", ...}`."""
        return {"operation": self.operation, "location": self.location,
                "description": self.description, "dry_run": self.dry_run,
                "changes": self.changes, "journal": self.journal, "write": self.write,
                "audit": self.audit, "notices": self.notices, **self.details}
