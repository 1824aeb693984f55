"""An opened hive on some target (`HiveHandle`), for reading; writing it back is
`locate.commit.commit(handle, ...)`, kept apart so that reading never imports the write path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bcdtool.regf.hive import Hive

__all__ = ["HiveHandle", "Store"]


class Store(Protocol):
    """Where a hive's bytes live (a plain file, a file inside a volume on a device, ...); how
    each kind is written is in locate/commit.py."""

    key: str
    read_only: bool

    def load(self) -> tuple[Hive, bytes]: ...
    def pieces(self) -> Iterator[bytes]: ...    # the whole file, slack included, in pieces
    def close(self) -> None: ...


class HiveHandle:
    """A hive found on a target: read it through `.hive`; `locate.commit.commit(handle, image)`
    writes a new image (`original`: the bytes `hive` was read from)."""

    def __init__(self, store: Store, *, description: str, location: dict) -> None:
        self.store = store
        self.description = description
        self.location = location
        self.hive, self.original = store.load()

    @property
    def read_only(self) -> bool:
        """True when the target was opened without write access (forensic mode)."""
        return self.store.read_only

    def file_pieces(self) -> Iterator[bytes]:
        """The store file's bytes as they are now, whole (the slack after the hive too, which
        `original` leaves out), a piece of at most 1 MiB at a time: for `--backup` copies."""
        return self.store.pieces()

    def close(self) -> None:
        """Release files and devices."""
        self.store.close()

    def __enter__(self) -> HiveHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
