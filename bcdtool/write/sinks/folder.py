"""Files inside a folder: a hive file (its folder is the target's folder), a store in a mounted
volume or copy, or a Linux guest root.  Every name is reached from a directory fd of the folder
with O_NOFOLLOW (write/fileio.Folder); the lock is an exclusive flock on the store file (or, with
no store file, on the folder), so a folder target and the hive file inside it share it."""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
from collections.abc import Callable

from bcdtool.errors import BcdToolError, UnsafePathError, WriteError, write_failure
from bcdtool.fs.base import VolumeFacts
from bcdtool.write import lock
from bcdtool.write.fileio import READ_FLAGS, Folder, check_regular, identity, is_below
from bcdtool.write.refuse import Facts, hard_link_refusal, in_place_files


class FolderSink:
    """Bytes of files below `root` (an absolute folder path)."""

    kind = "folder"

    def __init__(self, root: str, *, target: str, key: str, cap: int, lock_file: str | None = None,
                 facts: Callable[[], VolumeFacts] | None = None, label_links: bool = False) -> None:
        self.root = os.path.abspath(root)
        self.target, self.key, self.cap = target, key, cap
        self.lock_file = lock_file          # the store, relative to root (None: lock the folder)
        self._volume_facts = facts
        self.label_links = label_links      # SELinux: label a new symlink like its folder
        self.folder = Folder(self.root)
        #: (device, inode) of the store file while it is locked: what every write must reach.
        self._locked: tuple[int, int] | None = None
        # Opening a store looks for interrupted-write markers; a guest root has no such open.
        self.marks_pending = lock_file is not None

    def spec(self) -> dict:
        """How undo reopens this sink."""
        return {"kind": self.kind, "root": self.root, "target": self.target, "key": self.key,
                "cap": self.cap, "lock_file": self.lock_file, "label_links": self.label_links}

    @classmethod
    def from_spec(cls, spec: dict) -> FolderSink:
        """The sink a journal names (types checked by the caller)."""
        return cls(spec["root"], target=spec["target"], key=spec["key"], cap=spec["cap"],
                   lock_file=spec.get("lock_file"), label_links=bool(spec.get("label_links")))

    @staticmethod
    def spec_ok(spec: dict) -> bool:
        """Whether a journal's spec holds together: its key is the one this root and store give."""
        root, store = spec.get("root"), spec.get("lock_file")
        if (
            not isinstance(root, str)
            or not os.path.isabs(root)
            or not isinstance(spec.get("cap"), int)
        ):
            return False
        if store is None:
            return spec["key"] == "linux:" + root
        return isinstance(store, str) and spec["key"] == "file:" + os.path.join(root, store)

    def allows(self, file: str) -> bool:
        """A hive's journal may touch only the store and its logs; a guest's, any file in it."""
        return self.lock_file is None or same_store_or_log(file, self.lock_file)

    def owns(self, path: str | os.PathLike) -> bool:
        """Whether the local file `path` (named by the user for bcdtool's own output: an audit
        log, a journal folder) is part of this target: anything below a guest root; the store
        or one of its logs of a hive's folder."""
        if self.lock_file is None:
            return is_below(path, self.root)
        mine = identity(path)
        if mine is None:
            return False
        folder = posixpath.dirname(self.lock_file)
        for name in self.folder.listdir(folder):
            rel = posixpath.join(folder, name) if folder else name
            info = self.folder.lstat(rel) if same_store_or_log(rel, self.lock_file) else None
            if info is not None and (info.st_dev, info.st_ino) == mine:
                return True
        return False

    # -- reading ----------------------------------------------------------------------------------
    def read(self, file: str) -> bytes | None:
        """The bytes of regular file `file`, None if absent."""
        return self.folder.read(file, cap=self.cap)

    def read_range(self, file: str, offset: int, length: int) -> bytes:
        """`length` bytes at `offset` of regular file `file` (short at its end)."""
        return self.folder.read_range(file, offset, length)

    def size(self, file: str) -> int | None:
        """The size of regular file `file` (LimitError over the cap), None if absent."""
        return self.folder.size(file, cap=self.cap)

    def lstat_link(self, file: str) -> str | None:
        """A symlink's target, None if `file` is not a symlink."""
        info = self.folder.lstat(file)
        if info is None or not stat.S_ISLNK(info.st_mode):
            return None
        fd, last = self.folder.parent(file)
        try:
            return os.readlink(last, dir_fd=fd)
        finally:
            os.close(fd)

    def identity(self, file: str) -> tuple | None:
        """What `file` is now: its type, device, inode and size (a link is not followed), None
        when absent."""
        info = self.folder.lstat(file)
        return None if info is None else _identity(info)

    def entry_kind(self, file: str) -> str | None:
        """"file", "link", "other" or None (absent), without following a link."""
        info = self.folder.lstat(file)
        if info is None:
            return None
        if stat.S_ISLNK(info.st_mode):
            return "link"
        return "file" if stat.S_ISREG(info.st_mode) else "other"

    def listdir(self, folder: str) -> list[str]:
        """Names in `folder` (relative; "" is the root)."""
        return self.folder.listdir(folder)

    # -- policy and lock ---------------------------------------------------------------------------
    def facts(self, phases) -> Facts:
        """Write access, the volume's state (a hibernated Windows folder...) and files of
        `phases` the folder refuses to write (see `_hard_links`)."""
        facts = Facts(volume=self._volume_facts() if self._volume_facts else None)
        checks = [self.lock_file] if self.lock_file else []
        for rel in checks:
            fd, last = self.folder.parent(rel)
            try:
                writable = os.access(last, os.W_OK, dir_fd=fd, follow_symlinks=False) and \
                    os.access(".", os.W_OK, dir_fd=fd)
            finally:
                os.close(fd)
            if not writable:
                facts.read_only = ("no write access (read-only media, permissions or an "
                                   f"immutable file): {self.folder.name(rel)}")
        if not checks and not os.access(self.root, os.W_OK):
            facts.read_only = "no write access to the folder (read-only media or permissions)"
        facts.errors = self._hard_links(phases)
        if self._locked is not None:
            info = self.folder.lstat(self.lock_file)
            if info is None or (info.st_dev, info.st_ino) != self._locked:
                facts.errors.append(replaced(self.folder.name(self.lock_file)))
        return facts

    def check_locked(self, file: str, info: os.stat_result) -> None:
        """UnsafePathError unless the file about to be written in place is the very store
        file locked (not one renamed over it since) and has no other hard links."""
        name = self.folder.name(file)
        if file == self.lock_file and self._locked is not None and \
                (info.st_dev, info.st_ino) != self._locked:
            raise replaced(name)
        if info.st_nlink > 1:
            raise hard_link_refusal(name, info.st_nlink)

    @contextlib.contextmanager
    def lock(self):
        """An exclusive flock on the store file (else the folder) for the whole transaction."""
        if self.lock_file is None:
            fd = os.dup(self.folder.fd)
        else:
            fd = self.folder.open(self.lock_file, READ_FLAGS)
        try:
            if self.lock_file is not None:
                info = check_regular(fd, self.folder.name(self.lock_file))
                self._locked = (info.st_dev, info.st_ino)
            with lock.exclusive(fd, self.folder.name(self.lock_file or "")):
                yield
        finally:
            self._locked = None
            os.close(fd)

    def _hard_links(self, phases) -> list[BcdToolError]:
        """Files written in place that have other hard links (`refuse.hard_link_refusal`)."""
        errors: list[BcdToolError] = []
        for file in in_place_files(phases):
            info = self.folder.lstat(file)
            if info is not None and stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
                errors.append(hard_link_refusal(self.folder.name(file), info.st_nlink))
        return errors

    # -- writing ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writer(self, expect: dict | None = None):
        """A writer whose in-place writes share one descriptor per file, fsynced by flush();
        with `expect` (file -> transaction.Expect), every file written in place is opened and
        checked first (the same inode, size and first bytes as when it was backed up), and a
        file replaced whole must still be the one checked when it is renamed over."""
        writer = _FolderWriter(self, expect or {})
        try:
            writer.check()
            yield writer
        finally:
            writer.close()

    def reopen(self) -> FolderSink:
        """The same folder, opened again from scratch."""
        return FolderSink(self.root, target=self.target, key=self.key, cap=self.cap,
                          lock_file=self.lock_file, facts=self._volume_facts,
                          label_links=self.label_links)

    def close(self) -> None:
        """Release the folder's descriptor."""
        self.folder.close()


class _FolderWriter:
    def __init__(self, sink: FolderSink, expect: dict) -> None:
        self.sink, self.expect = sink, expect
        self.fds: dict[str, int] = {}
        #: Whether any byte may have changed (a failure before the first write restores nothing).
        self.wrote = False

    def check(self) -> None:
        """Open every expected file that exists (in-place writes keep that descriptor), each
        checked against what the transaction backed up, before the first byte is written."""
        for file, expect in self.expect.items():
            if expect.in_place and expect.identity is not None:
                self._fd(file)

    def _fd(self, file: str) -> int:
        if file not in self.fds:
            name = self.sink.folder.name(file)
            fd = self.sink.folder.open(file, os.O_RDWR | os.O_NONBLOCK)
            try:
                info = check_regular(fd, name)
                self.sink.check_locked(file, info)
                expect = self.expect.get(file)
                if expect is not None and (
                        _identity(info) != expect.identity or
                        os.pread(fd, len(expect.head), expect.offset) != expect.head):
                    raise changed(name)
            except BaseException:
                os.close(fd)
                raise
            self.fds[file] = fd
        return self.fds[file]

    def write(self, file: str, offset: int, data: bytes, *, size: int | None = None) -> None:
        fd = self._fd(file)
        # The name must still lead to the descriptor's file: one renamed over it since the
        # check would keep its own bytes while the write went to a file nobody can reach.
        now, held = self.sink.folder.lstat(file), os.fstat(fd)
        if now is None or (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
            name = self.sink.folder.name(file)
            raise replaced(name) if file == self.sink.lock_file else changed(name)
        self.wrote = True
        done = 0
        while done < len(data):
            done += os.pwrite(fd, data[done:], offset + done)
        if size is not None:
            os.ftruncate(fd, size)

    def replace(self, file: str, data: bytes) -> None:
        expect = self.expect.get(file)
        if expect is not None and (
                self.sink.identity(file) != expect.identity or (
                    expect.head and
                    self.sink.read_range(file, expect.offset, len(expect.head)) != expect.head)):
            raise changed(self.sink.folder.name(file))
        self.wrote = True
        self.sink.folder.replace(file, data)

    def symlink(self, file: str, target: str) -> None:
        self.wrote = True
        if self.sink.folder.lstat(file) is not None:
            raise WriteError(
                "the symlink to create already exists", path=self.sink.folder.name(file)
            )
        self.sink.folder.symlink(file, target)
        if self.sink.label_links:
            _copy_label(self.sink.folder, file)

    def remove(self, file: str) -> None:
        self.wrote = True
        self.sink.folder.remove(file)
        self.sink.folder.remove_temporaries(file)

    def flush(self) -> None:
        for file, fd in self.fds.items():
            try:
                os.fsync(fd)
            except OSError as exc:
                raise write_failure(exc, "fsync failed", path=self.sink.folder.name(file)) from None

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


def replaced(name: str) -> UnsafePathError:
    """The store file was renamed over (or removed) after bcdtool locked it."""
    return UnsafePathError("the store file was replaced (renamed over or deleted) while bcdtool "
                           "held its lock; nothing was written to the file now at that name: "
                           "find out what else writes this folder, then run the command again",
                           path=name)


def changed(name: str) -> UnsafePathError:
    """A file bcdtool checked and backed up was swapped, truncated, grown or rewritten before
    its write: the write would land in a file whose bytes the journal does not hold."""
    return UnsafePathError("the file changed (replaced, renamed over, truncated, grown or "
                           "rewritten) after bcdtool checked and backed it up; nothing was "
                           "written to it: find out what else writes this folder, then run the "
                           "command again", path=name)


def _identity(info: os.stat_result) -> tuple:
    """A file's identity as a folder sees it: type, device, inode, size."""
    return stat.S_IFMT(info.st_mode), info.st_dev, info.st_ino, info.st_size


def same_store_or_log(file: str, store: str) -> bool:
    """`file` is `store` or one of its `.LOG`, `.LOG1`, `.LOG2` (same folder, any case)."""
    folder, name = posixpath.split(store)
    other_folder, other = posixpath.split(file)
    return other_folder == folder and other.upper() in {
        (name + suffix).upper() for suffix in ("", ".LOG", ".LOG1", ".LOG2")}


def _copy_label(folder: Folder, rel: str) -> None:
    """Label a new symlink like its folder (SELinux: systemd_unit_file_t in unit folders)."""
    fd, last = folder.parent(rel)
    try:
        try:
            label = os.getxattr(fd, "security.selinux")
        except OSError:
            return
        path = f"/proc/self/fd/{fd}/{last}"
        os.setxattr(path, "security.selinux", label, follow_symlinks=False)
    except OSError as exc:
        raise WriteError(f"cannot label the new symlink: {exc.strerror}",
                         path=folder.name(rel)) from None
    finally:
        os.close(fd)
