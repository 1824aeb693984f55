"""A hive that is a plain file (a BCD file, or a hive found in a folder): read through the
folder's descriptor (O_NOFOLLOW below the target's folder, regular files only, size capped
first); locate/commit.py writes it through a folder sink of the one write transaction."""

from __future__ import annotations

import functools
import os
import posixpath
from collections.abc import Callable, Iterator

from bcdtool.errors import LimitError, NotFoundError
from bcdtool.fs.base import VolumeFacts
from bcdtool.limits import MAX_BCD_BYTES, MAX_HIVE_BYTES, hive_cap
from bcdtool.locate.interrupted import check_not_interrupted
from bcdtool.regf.hive import Hive, stored_length
from bcdtool.regf.logs import LOG_SUFFIXES, LogSource, is_dirty
from bcdtool.write.fileio import Folder


#: `--backup` copies the store file a piece at a time (a padded 64 MiB store stays out of memory).
PIECE = 1 << 20


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
        return load_from_sink(self, self.store, lambda: log_names(self.folder, self.store),
                              key=self.key, name=self.path, cap=self.cap)

    def size(self, file: str) -> int | None:
        """The size of regular file `file` below the folder (LimitError over the cap), None if
        absent."""
        return self.folder.size(file, cap=self.cap)

    def read_range(self, file: str, offset: int, length: int) -> bytes:
        """`length` bytes at `offset` of regular file `file` (short at its end)."""
        return self.folder.read_range(file, offset, length)

    def pieces(self) -> Iterator[bytes]:
        """The store file whole, a piece at a time."""
        return file_pieces(self.size(self.store) or 0,
                           functools.partial(self.read_range, self.store))

    def close(self) -> None:
        """Release the folder's descriptor."""
        self.folder.close()


def file_pieces(size: int, read: Callable[[int, int], bytes]) -> Iterator[bytes]:
    """`size` bytes from `read(offset, length)`, at most PIECE at a time (short reads end it:
    a file that shrank meanwhile)."""
    for offset in range(0, size, PIECE):
        piece = read(offset, min(PIECE, size - offset))
        if piece:
            yield piece
        if len(piece) < min(PIECE, size - offset):
            return


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


def load_from_sink(reader, store: str, logs: Callable[[], list[str]], *, key: str, name: str,
                   cap: int) -> tuple[Hive, bytes]:
    """A store read through `reader` (`size(file)`: a regular file's size, capped, None if
    absent; `read_range(file, offset, length)`), with its logs read only when the store is
    dirty, an entry at a time; an interrupted write is refused with the journal that undoes
    it.  Only the hive's base block and declared bins are read, never the slack after them."""
    size = reader.size(store)           # checked against the cap before a byte is read
    if size is None:
        raise NotFoundError("no such file", path=name)
    data = reader.read_range(store, 0, hive_length(reader.read_range(store, 0, 512), size,
                                                   cap=cap, name=name,
                                                   read=functools.partial(reader.read_range,
                                                                          store)))
    found = []
    if len(data) >= 512 and data[:4] == b"regf" and is_dirty(data):
        for log in logs():
            length = reader.size(log)
            if length is not None:
                found.append((posixpath.basename(log),
                              LogSource(length, functools.partial(reader.read_range, log))))
    check_not_interrupted(key, name, data, found)
    return Hive.from_bytes(data, name=name, logs=found, file_size=size,
                           max_size=hive_cap(cap)), data


def hive_length(head: bytes, size: int, *, cap: int, name: str,
                read: Callable[[int, int], bytes] | None = None) -> int:
    """How many bytes of a hive file of `size` bytes (first bytes `head`) to read: the base
    block and the bins it declares, never its slack (`regf.hive.stored_length`); LimitError
    when that is over the hive cap of a file capped at `cap` (checked before reading them);
    `read(offset, length)` lets a damaged base block be measured by its hive bins."""
    length = stored_length(head, size, read)
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
