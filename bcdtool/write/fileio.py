"""Files inside a target, reached without ever leaving it: a directory fd of the target's folder,
every component below it opened with O_NOFOLLOW, only regular files read, sizes capped first.

Used by every sink that writes files (hive files, mounted folders, Linux guest roots), by the
journal (its own files) and by the audit log.  Whole-file replacement goes through a temporary
file in the same folder (the old file's mode, owner and extended attributes — SELinux labels on
RHEL guests — copied onto it), fsync, rename over the original, fsync of the folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from bcdtool.errors import (ImageError, LimitError, NotFoundError, UnsafePathError, WriteError,
                            medium_text, write_failure)

TEMP_SUFFIX = ".bcdtool-tmp"
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
#: What a read of a file inside a target uses: no link followed, no FIFO or device waited on.
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
_LINK_HINT = ("bcdtool never follows a symbolic link inside a target; replace the link by the "
              "file it points to (cp --remove-destination) or pass the real folder as the target")


def next_step(exc: OSError) -> str:
    """`exc`'s text with what to do about it (errors.medium_text)."""
    return medium_text(exc)


def check_regular(fd: int, name: str, *, cap: int | None = None) -> os.stat_result:
    """fstat `fd`: UnsafePathError unless a regular file, LimitError if larger than `cap`."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePathError("not a regular file (a FIFO, device, socket or folder); bcdtool "
                              "reads and writes only regular files: remove it or name another",
                              path=name)
    if cap is not None and info.st_size > cap:
        raise LimitError(f"the file is {info.st_size} bytes, more than the {cap}-byte cap "
                            "for it; it is not read (a store or log this large is not genuine: "
                            "move it aside)", path=name)
    return info


def read_fd(fd: int, name: str, *, cap: int | None = None) -> bytes:
    """All bytes of the regular file open at `fd` (checked and capped before reading)."""
    size = check_regular(fd, name, cap=cap).st_size
    parts, got = [], 0
    while True:       # read to the end, but never past the cap (a file growing meanwhile)
        # the size fstat gave at once (a single part is joined without a copy)
        limit = (cap + 1 - got) if cap is not None else max(size - got, 1 << 20)
        try:
            chunk = os.pread(fd, min(max(size - got, 1 << 16), limit), got)
        except OSError as exc:  # EIO: bad sectors under the file
            raise ImageError(f"cannot read: {exc.strerror}; if the disk is failing, copy what "
                             "is readable first (ddrescue) and give the copy", path=name,
                             offset=got) from None
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
        if cap is not None and got > cap:
            raise LimitError(f"the file grew past the {cap}-byte cap while read", path=name)
    return b"".join(parts)


def open_error(exc: OSError, name: str) -> Exception:
    """The BcdToolError an os.open failure inside a target means."""
    if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and os.path.islink(name)):
        return UnsafePathError(f"is a symbolic link; {_LINK_HINT}", path=name)
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return NotFoundError("no such file", path=name)
    return NotFoundError(f"cannot open: {exc.strerror}", path=name)


def read_file(path: str | os.PathLike, *, cap: int | None = None, follow: bool = False) -> bytes:
    """A whole regular file by path, O_RDONLY (`follow`: the user named it, a link is fine)."""
    flags = READ_FLAGS & ~(0 if not follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise open_error(exc, str(path)) from None
    try:
        return read_fd(fd, str(path), cap=cap)
    except OSError as exc:
        raise NotFoundError(f"cannot read: {exc.strerror}", path=str(path)) from None
    finally:
        os.close(fd)


class Folder:
    """A folder of a target, held open; every name below it is reached with O_NOFOLLOW."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.path.abspath(path)
        try:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
        except OSError as exc:
            raise NotFoundError(f"cannot open the folder: {exc.strerror}", path=self.path) from None

    def close(self) -> None:
        """Release the folder's descriptor."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def name(self, rel: str) -> str:
        """`rel` as a path for messages."""
        return os.path.join(self.path, rel)

    def parent(self, rel: str, *, create: bool = False) -> tuple[int, str]:
        """(fd of the folder holding `rel`, last component), each folder opened O_NOFOLLOW; the
        caller closes the fd.  `create` makes missing folders (0755, like a package manager)."""
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            raise UnsafePathError("the path leaves the target (empty or '..')", path=self.name(rel))
        fd = os.dup(self.fd)
        try:
            for i, part in enumerate(parts[:-1]):
                where = self.name("/".join(parts[:i + 1]))
                try:
                    new = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC,
                                  dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise NotFoundError("no such folder", path=where) from None
                    os.mkdir(part, 0o755, dir_fd=fd)
                    new = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC,
                                  dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise UnsafePathError(f"a folder on the path is a symbolic link or not "
                                              f"a folder; {_LINK_HINT}", path=where) from None
                    raise NotFoundError(f"cannot open: {exc.strerror}", path=where) from None
                os.close(fd)
                fd = new
        except BaseException:
            os.close(fd)
            raise
        return fd, parts[-1]

    def lstat(self, rel: str) -> os.stat_result | None:
        """The entry `rel` itself (a link is not followed), None when absent."""
        try:
            fd, last = self.parent(rel)
        except NotFoundError:
            return None
        try:
            return os.stat(last, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        finally:
            os.close(fd)

    def open(self, rel: str, flags: int, mode: int = 0o600) -> int:
        """os.open of `rel` with O_NOFOLLOW below this folder; UnsafePathError for a link."""
        fd, last = self.parent(rel, create=bool(flags & os.O_CREAT))
        try:
            return os.open(last, flags | os.O_NOFOLLOW | _CLOEXEC, mode, dir_fd=fd)
        except OSError as exc:
            raise open_error(exc, self.name(rel)) from None
        finally:
            os.close(fd)

    def _open_existing(self, rel: str) -> int | None:
        """`rel` opened for reading, None when it does not exist (a name that exists but cannot
        be opened raises)."""
        try:
            return self.open(rel, READ_FLAGS)
        except NotFoundError:
            if self.lstat(rel) is None:
                return None
            raise

    def read(self, rel: str, *, cap: int | None = None) -> bytes | None:
        """The bytes of regular file `rel`, None when it does not exist."""
        fd = self._open_existing(rel)
        if fd is None:
            return None
        try:
            return read_fd(fd, self.name(rel), cap=cap)
        except OSError as exc:
            raise NotFoundError(f"cannot read: {exc.strerror}", path=self.name(rel)) from None
        finally:
            os.close(fd)

    def size(self, rel: str, *, cap: int | None = None) -> int | None:
        """The size of regular file `rel` (LimitError over `cap`), None when it does not
        exist."""
        fd = self._open_existing(rel)
        if fd is None:
            return None
        try:
            return check_regular(fd, self.name(rel), cap=cap).st_size
        finally:
            os.close(fd)

    def read_range(self, rel: str, offset: int, length: int) -> bytes:
        """`length` bytes at `offset` of regular file `rel` (short at its end)."""
        fd = self.open(rel, READ_FLAGS)
        try:
            check_regular(fd, self.name(rel))
            return os.pread(fd, length, offset)
        finally:
            os.close(fd)

    def listdir(self, rel: str) -> list[str]:
        """Names in folder `rel` ("" for this folder), reached without following links."""
        if rel in ("", "."):
            return os.listdir(self.fd)
        fd = self.open(rel, os.O_RDONLY | os.O_DIRECTORY)
        try:
            return os.listdir(fd)
        finally:
            os.close(fd)

    def replace(self, rel: str, data: bytes) -> None:
        """Atomically give file `rel` the content `data` (temporary file, rename), keeping mode,
        owner and xattrs when it exists; a symlink or special file there is refused."""
        fd, last = self.parent(rel, create=True)
        try:
            _replace_at(fd, last, data, self.name(rel))
        finally:
            os.close(fd)

    def symlink(self, rel: str, target: str) -> None:
        """Create symlink `rel` -> `target` (refused if anything is there already)."""
        fd, last = self.parent(rel, create=True)
        try:
            os.symlink(target, last, dir_fd=fd)
            os.fsync(fd)
        except OSError as exc:
            raise write_failure(exc, "cannot create symlink", path=self.name(rel)) from None
        finally:
            os.close(fd)

    def remove(self, rel: str) -> None:
        """Remove file or symlink `rel` (never what a link points to); absent is fine."""
        try:
            fd, last = self.parent(rel)
        except NotFoundError:
            return
        try:
            os.unlink(last, dir_fd=fd)
            os.fsync(fd)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise write_failure(exc, "cannot remove", path=self.name(rel)) from None
        finally:
            os.close(fd)

    def remove_temporaries(self, rel: str) -> None:
        """Delete `.NAME.*.bcdtool-tmp` files a replace killed before its rename left beside
        `rel`."""
        try:
            fd, last = self.parent(rel)
        except NotFoundError:
            return
        try:
            for name in os.listdir(fd):
                if name.startswith(f".{last}.") and name.endswith(TEMP_SUFFIX):
                    os.unlink(name, dir_fd=fd)
        finally:
            os.close(fd)


def _replace_at(dir_fd: int, name: str, data: bytes, shown: str, new_mode: int = 0o644) -> None:
    # os.urandom is what secrets.token_hex reads; importing secrets would load random and hmac
    # into every read-only command (this module is on the path that checks pending markers)
    tmp = f".{name}.{os.urandom(4).hex()}{TEMP_SUFFIX}"
    try:
        try:
            before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            before = None
        if before is not None and not stat.S_ISREG(before.st_mode):
            raise UnsafePathError(f"not a regular file (a symlink, FIFO or device); {_LINK_HINT}",
                                  path=shown)
        # A new file gets `new_mode` less the umask; an existing one its own mode, set below.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC,
                     new_mode if before is None else 0o600, dir_fd=dir_fd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if before is not None:
                os.fchmod(fd, before.st_mode & 0o7777)
                _copy_xattrs(dir_fd, name, fd, shown)
                if (before.st_uid, before.st_gid) != (os.geteuid(), os.getegid()):
                    os.fchown(fd, before.st_uid, before.st_gid)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        os.fsync(dir_fd)
    except OSError as exc:
        _unlink_quietly(tmp, dir_fd)
        raise write_failure(exc, "cannot write file", path=shown) from None
    except BaseException:
        _unlink_quietly(tmp, dir_fd)
        raise


def _unlink_quietly(name: str, dir_fd: int) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


def _copy_xattrs(dir_fd: int, name: str, fd: int, shown: str) -> None:
    try:
        src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return
    try:
        try:
            names = os.listxattr(src)
        except OSError:
            return  # the file system has no xattrs: nothing to keep
        for attr in names:
            try:
                os.setxattr(fd, attr, os.getxattr(src, attr))
            except OSError as exc:
                raise WriteError(f"cannot keep extended attribute {attr}: {exc.strerror}",
                                 path=shown) from None
    finally:
        os.close(src)


def create_new(path: str | os.PathLike, data: bytes | Iterable[bytes], *,
               mode: int = 0o666) -> None:
    """Create `path` holding `data` (bytes, or pieces of them written in turn; fsync'd), never
    over anything already there — not even a symlink — with `mode` less the umask.  A plain
    exclusive create, not a temporary file and a link, so it also works on a mounted FAT ESP; a
    failed write removes the file it created.
    Raises OSError (FileExistsError when the name is taken) for the caller to word."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC, mode)
    try:
        try:
            for piece in [data] if isinstance(data, bytes | bytearray | memoryview) else data:
                view = memoryview(piece)
                while view:
                    view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_folder(os.path.dirname(os.path.abspath(path)))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)     # O_EXCL made it ours: nothing else is removed
        raise


def fsync_folder(folder: str | os.PathLike) -> None:
    """fsync a folder, so the names just created in it survive a crash (OSError on failure;
    a file system that cannot fsync folders, EINVAL, is taken as having nothing to flush)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


#: Kernel interfaces that show their files as regular ones: writing a JSON line into one
#: reconfigures the machine (sysfs, efivarfs) or fails in odd ways (procfs refuses the seek).
KERNEL_FILESYSTEMS = frozenset({
    "proc", "sysfs", "debugfs", "tracefs", "securityfs", "configfs", "efivarfs", "pstore",
    "bpf", "cgroup", "cgroup2", "fusectl", "devpts", "devtmpfs", "mqueue", "hugetlbfs",
    "binfmt_misc", "rpc_pipefs", "nsfs", "selinuxfs"})
_MOUNTINFO_CAP = 16 << 20


def kernel_filesystem(info: os.stat_result) -> str | None:
    """The kernel interface file system (`proc`, `sysfs`, ...) the file `info` lives on, or None
    (decided from /proc/self/mountinfo by device number; None where that table is unreadable)."""
    device = f"{os.major(info.st_dev)}:{os.minor(info.st_dev)}"
    try:
        with open("/proc/self/mountinfo", "rb") as table:
            text = table.read(_MOUNTINFO_CAP).decode("utf-8", "replace")
    except OSError:
        return None
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[2] == device and " - " in line:
            kind = line.split(" - ", 1)[1].split()[:1]
            return kind[0] if kind and kind[0] in KERNEL_FILESYSTEMS else None
    return None


def open_append(path: str | os.PathLike, what: str, *, mode: int = 0o600) -> int:
    """An fd appending to the user-named file `path` (created `mode` if absent): never through
    a symlink, never a FIFO, device or folder (opened non-blocking, then fstat'ed: no wait for
    a reader), never a file with other hard links (the lines would land under its other names
    too), never a kernel interface under /proc, /sys and the like.  `what` names the file in
    errors ("the batch output"); UnsafePathError otherwise."""
    name = str(path)
    try:        # before opening: opening some of them for writing already acts
        kernel = kernel_filesystem(os.lstat(path))
    except OSError:
        kernel = None
    if kernel:
        raise UnsafePathError(f"{what} is a kernel interface ({kernel}), not a file for lines: "
                              "name a file on a disk", path=name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                     | _CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(f"{what} is a symbolic link; bcdtool does not follow it: name "
                                  "the real file", path=name) from None
        if exc.errno in (errno.EISDIR, errno.ENXIO, errno.ENODEV, errno.EOPNOTSUPP):
            raise UnsafePathError(f"{what} is not a regular file (a folder, FIFO, device or "
                                  "socket): name a regular file", path=name) from None
        raise write_failure(exc, f"cannot open {what}", path=name) from None
    try:
        info = check_regular(fd, name)
        if info.st_nlink > 1:
            raise UnsafePathError(f"{what} has {info.st_nlink} hard links (its lines would land "
                                  "in another file too): name a file of its own", path=name)
    except BaseException:
        os.close(fd)
        raise
    return fd


def identity(path: str | os.PathLike) -> tuple[int, int] | None:
    """(device, inode) of the file at `path` (a user-named path: links followed), None when
    there is none."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_dev, info.st_ino


def is_below(path: str | os.PathLike, folder: str) -> bool:
    """Whether `path` (links followed, as the user named it) is `folder` or lies inside it."""
    real, top = os.path.realpath(path), os.path.realpath(folder)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


#: Links of procfs that lead to whatever a process holds open (the kernel's "magic links").
_MAGIC_NAMES = frozenset({"cwd", "root", "exe"})
_MAGIC_FOLDERS = frozenset({"fd", "map_files"})
_MAX_HOPS = 40


def process_link(path: str | os.PathLike) -> str | None:
    """The procfs link `path` passes through to reach a file some process holds open
    (`/dev/stdin` → `/proc/self/fd/0`, `/dev/fd/N`, `/proc/PID/cwd`...), None when it is an
    ordinary path.  Followed like the kernel does, one component at a time."""
    pending = [p for p in os.path.abspath(path).split(os.sep) if p]
    current, hops = os.sep, 0
    while pending:
        part = pending.pop(0)
        if part in (".", ".."):
            current = os.path.dirname(current) if part == ".." else current
            continue
        candidate = os.path.join(current, part)
        try:
            info = os.lstat(candidate)
        except (OSError, ValueError):
            return None                 # no such file: opening it says so
        if not stat.S_ISLNK(info.st_mode):
            current = candidate
            continue
        hops += 1
        if hops > _MAX_HOPS:
            return None
        if (part in _MAGIC_NAMES or os.path.basename(current) in _MAGIC_FOLDERS) and \
                kernel_filesystem(os.stat(current)) == "proc":
            return candidate
        target = os.readlink(candidate)
        pending = [p for p in target.split(os.sep) if p] + pending
        current = os.sep if target.startswith(os.sep) else current
    return None


def refuse_process_link(path: str | os.PathLike) -> None:
    """UnsafePathError if a target to be written is named through a process's open file
    (`/dev/stdin < FILE` hands bcdtool FILE to read; reopening it to write would write a file
    the user never named)."""
    link = process_link(path)
    if link is not None:
        raise UnsafePathError(f"names a file through {link}, a process's open file; bcdtool "
                              "writes only files named by their own path: name "
                              f"{os.path.realpath(path)} itself", path=str(path))


def replace_file(path: str | os.PathLike, data: bytes, *, new_mode: int = 0o600) -> None:
    """Atomically give `path` (bcdtool's own state files: private, 0600 when new) `data`."""
    path = Path(path)
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    try:
        _replace_at(folder, path.name, data, str(path), new_mode)
    finally:
        os.close(folder)
