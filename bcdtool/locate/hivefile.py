"""A hive that is a plain file (a BCD file, or a hive found in a folder): read through the
folder's descriptor (O_NOFOLLOW below the target's folder, regular files only, size capped
first); locate/commit.py writes it through a folder sink of the one write transaction."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable

from bcdtool.errors import NotFoundError
from bcdtool.fs.base import VolumeFacts
from bcdtool.limits import MAX_BCD_BYTES, MAX_HIVE_BYTES
from bcdtool.locate.interrupted import check_not_interrupted
from bcdtool.regf.hive import Hive
from bcdtool.regf.logs import LOG_SUFFIXES, is_dirty
from bcdtool.write.fileio import Folder


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
        self.root, self.store, self.target, self.cap, self.facts = root, store, target, cap, facts
        self.path = os.path.join(root, store)
        self.key = "file:" + self.path
        self.folder = Folder(root)

    def load(self) -> tuple[Hive, bytes]:
        """Read the hive, and its logs only when it is dirty (replayed in memory then)."""
        return load_from_sink(lambda file: self.folder.read(file, cap=self.cap), self.store,
                              lambda: log_names(self.folder, self.store), key=self.key,
                              name=self.path)

    def close(self) -> None:
        """Release the folder's descriptor."""
        self.folder.close()


def log_names(sink, store: str) -> list[str]:
    """The files `STORE.LOG`, `.LOG1`, `.LOG2` beside `store` in a folder (or folder sink),
    matched case-insensitively (the folder's own names), in that order."""
    folder = posixpath.dirname(store)
    wanted = {(posixpath.basename(store) + suffix).upper(): rank
              for rank, suffix in enumerate(LOG_SUFFIXES)}
    found: dict[int, str] = {}
    for name in sorted(sink.listdir(folder)):
        rank = wanted.get(name.upper())
        if rank is not None and rank not in found:
            found[rank] = posixpath.join(folder, name) if folder else name
    return [found[rank] for rank in sorted(found)]


def load_from_sink(read: Callable[[str], bytes | None], store: str,
                   logs: Callable[[], list[str]], *, key: str, name: str) -> tuple[Hive, bytes]:
    """A store read with `read` (a regular file's bytes, capped; None if absent), with its logs
    read only when the store is dirty; an interrupted write is refused with the journal that
    undoes it."""
    data = read(store)
    if data is None:
        raise NotFoundError("no such file", path=name)
    found = []
    if len(data) >= 512 and data[:4] == b"regf" and is_dirty(data):
        for log in logs():
            raw = read(log)
            if raw is not None:
                found.append((posixpath.basename(log), raw))
    check_not_interrupted(key, name, data, found)
    return Hive.from_bytes(data, name=name, logs=found), data


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
