"""A hive inside a filesystem on a disk image or block device, read here and written in place by
locate/commit.py.

The write path (design.md §3): the new image keeps the file's exact size, so only the file's
data bytes change — through the extents the filesystem layer reported — and no filesystem
metadata is touched.  Every original byte is saved in an undo journal before the first write;
afterwards the target is re-opened from scratch and the store is read back and verified.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import PurePosixPath

from bcdtool.blockdev.detect import open_image
from bcdtool.errors import LimitError
from bcdtool.fs.base import read_extents
from bcdtool.limits import MAX_BCD_BYTES, MAX_HIVE_BYTES, hive_cap
from bcdtool.locate.discover import locate
from bcdtool.locate.hivefile import file_pieces, hive_length
from bcdtool.locate.handle import HiveHandle
from bcdtool.locate.interrupted import check_not_interrupted
from bcdtool.regf.hive import Hive
from bcdtool.regf.logs import LogSource, is_dirty
from bcdtool.urls import redact
from bcdtool.write.keys import disk_key

#: Granularity of the base block (a hive shorter than this is not a hive).
PAGE = 512


def open_on_disk(spec: str, *, device: bool, partition: int | None, path: str | None,
                 read_only: bool, kind: str) -> HiveHandle:
    """Open the store (or hive) found on disk image or block device `spec`."""
    store = DiskStore(spec, device=device, partition=partition, path=path, read_only=read_only,
                      kind=kind)
    try:
        return HiveHandle(store, description=store.description(), location=store.location())
    except BaseException:
        store.close()
        raise


class DiskStore:
    """The bytes of one hive file on a disk, with its logs (written in place by locate.commit)."""

    def __init__(self, spec: str, *, device: bool, partition: int | None, path: str | None,
                 read_only: bool, kind: str) -> None:
        self.spec = spec                # may hold a URL's secret: used to open, never shown
        self.shown = redact(spec)
        self.kind = "device" if device else "image"
        self.read_only = read_only
        # Reading always goes through a read-only open; a writable one exists only inside commit.
        self.dev = open_image(spec, writable=False)
        try:
            self.loc = locate(self.dev, partition=partition, path=path, kind=kind)
        except BaseException:
            self.dev.close()
            raise
        self.key = disk_key(spec, self.loc.index, self.loc.ref.path)
        self.cap = MAX_BCD_BYTES if kind == "bcd" else MAX_HIVE_BYTES

    # -- what the handle shows ---------------------------------------------------------------------
    def description(self) -> str:
        """One line saying which store this is and why it was chosen."""
        return f"{self.loc.ref.path} in {self.shown}: {self.loc.reason}"

    def location(self) -> dict:
        """Where the store is, for JSON output and the undo journal."""
        loc = self.loc
        return {"target": self.shown, "kind": self.kind, "format": type(self.dev).__name__,
                "chain": self.dev.chain(),
                "scheme": loc.scheme, "partition": loc.index, "partition_start": loc.start,
                "filesystem": loc.fs, "path": loc.ref.path, "size": loc.ref.size,
                "extents": [[loc.start + off, n] for off, n in loc.ref.extents],
                "logs": [log.path for log in loc.logs], "reason": loc.reason,
                "notices": list(loc.notices)}

    # -- reading -----------------------------------------------------------------------------------
    def load(self) -> tuple[Hive, bytes]:
        """Read the hive and its logs through their extents; refuse one left half-written."""
        loc = self.loc
        for ref in [loc.ref] + loc.logs:      # declared sizes, before a byte is read
            if ref.size > self.cap:
                raise LimitError(f"{ref.path} declares {ref.size} bytes, more than the "
                                    f"{self.cap}-byte cap; it is not read (a store or log this "
                                    "large is not genuine: check the file system with fsck)",
                                    path=self.spec)
        # Only the base block and the bins it declares: slack after them is never read.
        head = read_extents(loc.volume.dev, loc.ref, 0, PAGE)
        data = read_extents(loc.volume.dev, loc.ref, 0, hive_length(
            head, loc.ref.size, cap=self.cap, name=f"{self.shown}:{loc.ref.path}",
            read=functools.partial(read_extents, loc.volume.dev, loc.ref)))
        # Logs matter only to a dirty hive; a clean one is read without touching them.
        dirty = len(data) >= PAGE and data[:4] == b"regf" and is_dirty(data)
        # read an entry at a time while they are replayed
        logs = [(PurePosixPath(log.path).name,
                 LogSource(log.size, functools.partial(read_extents, loc.volume.dev, log)))
                for log in loc.logs] if dirty else []
        check_not_interrupted(self.key, self.shown, data, logs)
        hive = Hive.from_bytes(data, name=f"{self.shown}:{loc.ref.path}", logs=logs,
                               file_size=loc.ref.size, max_size=hive_cap(self.cap))
        hive.notices[:0] = loc.notices      # backup GPT used, partitions skipped: CLIs show these
        return hive, data

    def pieces(self) -> Iterator[bytes]:
        """The store file whole (through its extents), a piece at a time."""
        ref = self.loc.ref
        return file_pieces(ref.size, functools.partial(read_extents, self.loc.volume.dev, ref))

    def close(self) -> None:
        """Close the device."""
        self.dev.close()

