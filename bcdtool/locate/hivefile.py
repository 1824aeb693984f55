"""A hive that is a plain file (a BCD file, or a hive found in a folder): read through a folder
sink (O_NOFOLLOW below the target's folder, regular files only, size capped first) and committed
through the one write transaction."""

from __future__ import annotations

import functools
import os
import posixpath
from collections.abc import Callable

from bcdtool.errors import LimitError, NotFoundError
from bcdtool.fs.base import VolumeFacts
from bcdtool.limits import MAX_BCD_BYTES, MAX_HIVE_BYTES, hive_cap
from bcdtool.locate.handle import WriteResult
from bcdtool.locate.interrupted import check_not_interrupted
from bcdtool.regf.hive import Hive, stored_length
from bcdtool.regf.logs import LogSource, is_dirty
from bcdtool.write.hive import commit_hive, log_names
from bcdtool.write.sinks.folder import FolderSink


def cap_for(name: str, kind: str) -> int:
    """The size cap of a store and its logs: a BCD store's, else any hive's."""
    return MAX_BCD_BYTES if kind == "bcd" or posixpath.basename(name).upper() == "BCD" \
        else MAX_HIVE_BYTES


class HiveFile:
    """A hive in a plain file: `store` relative to the folder `root` (both real paths)."""

    kind = "file"

    def __init__(self, root: str, store: str, *, target: str, cap: int, read_only: bool = False,
                 facts: Callable[[], VolumeFacts] | None = None) -> None:
        self.read_only = read_only
        self.store = store
        self.path = os.path.join(root, store)
        self.key = "file:" + self.path
        self.sink = FolderSink(root, target=target, key=self.key, cap=cap, lock_file=store,
                               facts=facts)

    def load(self) -> tuple[Hive, bytes]:
        """Read the hive, and its logs only when it is dirty (replayed in memory then)."""
        return load_from_sink(self.sink, self.store, lambda: log_names(self.sink, self.store),
                              key=self.key, name=self.path)

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
        audit=None,
        planned=None,
    ) -> tuple[WriteResult, Hive | None]:
        """The new image written in place through the transaction (the file may change size)."""
        return commit_hive(self.sink, store=self.store, logs=log_names(self.sink, self.store),
                           original=original, file_size=file_size, new_image=new_image,
                           same_size=False,
                           dry_run=dry_run, backup_dir=backup_dir, operation=operation, diff=diff,
                           audit=audit, name=self.path,
                           planned=planned)

    def close(self) -> None:
        """Release the folder's descriptor."""
        self.sink.close()


def load_from_sink(sink, store: str, logs: Callable[[], list[str]], *, key: str,
                   name: str) -> tuple[Hive, bytes]:
    """A store read through a sink (regular file, capped), with its logs read only when the store
    is dirty; an interrupted write is refused with the journal that undoes it."""
    size = sink.size(store)             # checked against the cap before a byte is read
    if size is None:
        raise NotFoundError("no such file", path=name)
    data = sink.read_range(store, 0, hive_length(sink.read_range(store, 0, 512), size,
                                                 cap=sink.cap, name=name))
    found = []
    if len(data) >= 512 and data[:4] == b"regf" and is_dirty(data):
        for log in logs():          # read an entry at a time while they are replayed
            length = sink.size(log)
            if length is not None:
                found.append((posixpath.basename(log),
                              LogSource(length, functools.partial(sink.read_range, log))))
    check_not_interrupted(key, name, data, found)
    return Hive.from_bytes(data, name=name, logs=found, file_size=size,
                           max_size=hive_cap(sink.cap)), data


def hive_length(head: bytes, size: int, *, cap: int, name: str) -> int:
    """How many bytes of a hive file of `size` bytes (first bytes `head`) to read: the base
    block and the bins it declares, never its slack (`regf.hive.stored_length`); LimitError
    when that is over the hive cap of a file capped at `cap` (checked before reading them)."""
    length = stored_length(head, size)
    if length > hive_cap(cap):
        raise LimitError(f"the hive declares {length} bytes, more than the {hive_cap(cap)}-byte "
                         "cap for the hive inside such a file (real BCD stores hold at most "
                         "about 1 MiB); it is not read: restore the store from a backup or "
                         "build a new one (`bcdtool new-store`)", path=name)
    return length


def open_file(spec: str, *, read_only: bool) -> HiveFile:
    """A hive file the user named (a symlink the user names is followed: it is the target)."""
    real = os.path.realpath(spec)
    root, store = os.path.split(real)
    # Any hive can be named directly (`hive ls SYSTEM`): the name says whether it is a store.
    return HiveFile(root, store, target=str(spec), cap=cap_for(store, "hive"), read_only=read_only)


def open_in_folder(root: str, found: str, *, kind: str, read_only: bool,
                   facts: Callable[[], VolumeFacts]) -> HiveFile:
    """A hive found at real path `found` inside folder `root`: reached from the folder's own
    descriptor, one O_NOFOLLOW component at a time."""
    real_root = os.path.realpath(root)
    rel = os.path.relpath(found, real_root)
    if rel.startswith("..") or os.path.isabs(rel):
        raise NotFoundError("the store is not inside the folder", path=found)
    return HiveFile(real_root, rel.replace(os.sep, "/"), target=str(root), cap=cap_for(rel, kind),
                    read_only=read_only, facts=facts)
