"""What a transaction did (or, for a dry run, would do)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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
    #: The audit line appended for this write (None for a dry run).
    audit: dict | None = None

    def to_dict(self) -> dict:
        """A JSON-ready dictionary."""
        doc = asdict(self)
        doc["plan"] = [{"offset": off, "length": length} for off, length in self.plan]
        doc["device_writes"] = [{"offset": off, "length": length}
                                for off, length in self.device_writes]
        return doc
