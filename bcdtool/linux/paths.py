"""Safe access to an untrusted guest root: every path is resolved inside the root.

Symlinks are followed by hand, one component at a time, relative to the guest root (an absolute
target restarts at the guest root, `..` never climbs above it), with a bounded number of hops.
The host's own path resolution is never trusted with a guest path: a backend only ever sees a
list of components that contains no symlink, `.` or `..`.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Protocol

from bcdtool.errors import GuestError, NotFoundError

#: Symlinks followed while resolving one path (Linux allows 40).
MAX_HOPS = 40
#: Largest configuration file we read; boot configs are a few KiB, grub.cfg rarely 100 KiB.
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Most directory entries we list in one folder.
MAX_DIR_ENTRIES = 10_000
MAX_PATH_COMPONENTS = 256

Parts = tuple[str, ...]


class GuestFS(Protocol):
    """What a backend (host directory, ext4 inside an image) gives the resolver."""

    def kind(self, parts: Parts) -> str | None:
        """'dir', 'file', 'link', 'other', or None if absent; never follows a symlink."""

    def readlink(self, parts: Parts) -> str:
        """The stored target of the symlink at `parts`."""

    def read(self, parts: Parts, limit: int) -> bytes:
        """Up to `limit` + 1 bytes of the regular file at `parts` (never follows a symlink)."""

    def listdir(self, parts: Parts) -> list[str]:
        """Entry names of the directory at `parts`."""


def split(path: str) -> list[str]:
    """Components of a guest path, relative to the guest root."""
    return [c for c in path.split("/") if c not in ("", ".")]


def join(parts: Parts) -> str:
    """The guest path (absolute, inside the guest) of resolved components."""
    return "/" + "/".join(parts)


@dataclass
class GuestRoot:
    """A guest's root file system: resolves, reads and lists guest paths safely."""

    fs: GuestFS
    description: str

    def resolve(self, path: str, *, follow_last: bool = True) -> Parts:
        """The symlink-free components of `path` inside the guest (the last may not exist)."""
        todo = split(path)
        if len(todo) > MAX_PATH_COMPONENTS:
            raise GuestError("guest path has too many components", path=path)
        done: list[str] = []
        hops = 0
        while todo:
            name = todo.pop(0)
            if name == "..":
                if done:
                    done.pop()
                continue
            if name == ".":
                continue
            candidate = tuple(done) + (name,)
            kind = self.fs.kind(candidate)
            if kind == "link" and (todo or follow_last):
                hops += 1
                if hops > MAX_HOPS:
                    raise GuestError("too many symbolic links (a loop?) in the guest", path=path)
                target = self.fs.readlink(candidate)
                if target.startswith("/"):
                    done = []
                new = split(target)
                if len(new) + len(todo) > MAX_PATH_COMPONENTS:
                    raise GuestError("guest symlink target is too long", path=join(candidate))
                todo = new + todo
                continue
            if todo and kind not in ("dir", "link"):
                # A missing or non-directory component: the path cannot exist.
                return tuple(done) + (name,) + tuple(c for c in todo if c not in ("..", "."))
            done.append(name)
        return tuple(done)

    def kind(self, path: str, *, follow_last: bool = True) -> str | None:
        """What `path` is inside the guest ('dir', 'file', 'link', 'other') or None."""
        parts = self.resolve(path, follow_last=follow_last)
        # resolve() may return an impossible path below a file; check each parent is a dir.
        for i in range(1, len(parts)):
            if self.fs.kind(parts[:i]) != "dir":
                return None
        return self.fs.kind(parts) if parts else "dir"

    def exists(self, path: str) -> bool:
        """True when `path` resolves to something inside the guest."""
        return self.kind(path) is not None

    def _regular(self, path: str) -> Parts:
        """The resolved parts of `path`, which must be a regular guest file."""
        parts = self.resolve(path)
        kind = self.kind(join(parts), follow_last=False)
        if kind is None:
            raise NotFoundError("no such file in the guest", path=path)
        if kind != "file":
            raise GuestError(f"not a regular file in the guest ({kind})", path=path)
        return parts

    def read(self, path: str, *, limit: int = MAX_FILE_BYTES) -> bytes:
        """The bytes of a regular guest file; GuestError when oversized or not a file."""
        parts = self._regular(path)
        data = self.fs.read(parts, limit)
        if len(data) > limit:
            raise GuestError(f"guest file is larger than {limit} bytes", path=path)
        return data

    def read_head(self, path: str, size: int) -> bytes:
        """The first `size` bytes of a regular guest file of any length."""
        return self.fs.read(self._regular(path), size)[:size]

    def readlink(self, path: str) -> str | None:
        """The target of the symlink `path` itself (its parents resolved), or None."""
        parts = self.resolve(path, follow_last=False)
        if self.kind(join(parts), follow_last=False) != "link":
            return None
        return self.fs.readlink(parts)

    def listdir(self, path: str) -> list[str]:
        """Sorted entry names of a guest directory (empty when absent)."""
        parts = self.resolve(path)
        if self.kind(join(parts), follow_last=False) != "dir":
            return []
        names = self.fs.listdir(parts)
        if len(names) > MAX_DIR_ENTRIES:
            raise GuestError("guest directory has implausibly many entries", path=path)
        return sorted(n for n in names if n not in (".", "..") and "/" not in n)

    def glob(self, directory: str, suffix: str = "") -> list[str]:
        """Guest paths of the entries of `directory` whose names end with `suffix`, sorted."""
        base = directory.rstrip("/")
        return [f"{base}/{n}" for n in self.listdir(directory) if n.endswith(suffix)]

    def host_path(self, path: str, *, follow_last: bool = True) -> str:
        """The host path of a guest path (only for a guest that is a host directory)."""
        host = getattr(self.fs, "host_path", None)
        if host is None:
            raise GuestError("this guest is not a mounted directory; writing needs a mounted "
                             "root or --backend guestfs", path=path)
        return host(self.resolve(path, follow_last=follow_last))


class DirectoryFS:
    """A guest root that is a directory on the host (a mounted disk)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def host_path(self, parts: Parts) -> str:
        """Host path of symlink-free guest components."""
        return os.path.join(self.root, *parts)

    def kind(self, parts: Parts) -> str | None:
        try:
            mode = os.lstat(self.host_path(parts)).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise GuestError(f"cannot inspect guest path: {exc.strerror}",
                             path=join(parts)) from None
        return kind_of_mode(mode)

    def readlink(self, parts: Parts) -> str:
        try:
            return os.readlink(self.host_path(parts))
        except OSError as exc:
            raise GuestError(f"cannot read guest symlink: {exc.strerror}",
                             path=join(parts)) from None

    def _open(self, parts: Parts) -> int:
        """Open a file one component at a time, never following a symlink (no race to the host)."""
        nofollow = os.O_NOFOLLOW | os.O_NONBLOCK
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for name in parts[:-1]:
                nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY | nofollow, dir_fd=fd)
                os.close(fd)
                fd = nxt
            return os.open(parts[-1], os.O_RDONLY | nofollow, dir_fd=fd)
        finally:
            os.close(fd)

    def read(self, parts: Parts, limit: int) -> bytes:
        try:
            fd = self._open(parts)
        except OSError as exc:
            raise GuestError(f"cannot open guest file: {exc.strerror}", path=join(parts)) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise GuestError("not a regular file in the guest", path=join(parts))
            chunks, total = [], 0
            while total <= limit:
                chunk = os.read(fd, min(1 << 20, limit + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
            return b"".join(chunks)
        except OSError as exc:
            raise GuestError(f"cannot read guest file: {exc.strerror}", path=join(parts)) from None
        finally:
            os.close(fd)

    def listdir(self, parts: Parts) -> list[str]:
        try:
            names = []
            with os.scandir(self.host_path(parts)) as it:
                for entry in it:
                    names.append(entry.name)
                    if len(names) > MAX_DIR_ENTRIES:
                        break
            return names
        except OSError as exc:
            raise GuestError(f"cannot list guest folder: {exc.strerror}",
                             path=join(parts)) from None


def open_directory(path: str) -> GuestRoot:
    """A guest root for a mounted directory."""
    if not os.path.isdir(path):
        raise NotFoundError("no such directory", path=path)
    return GuestRoot(DirectoryFS(path), description=f"directory {path}")


def kind_of_mode(mode: int) -> str:
    """"link", "dir", "file" or "other" for an lstat st_mode (any guest backend)."""
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return "other"
