"""Locks held across a whole transaction, and whether another program is using a disk.

Every sink holds one exclusive lock per store file and per image (`flock` on the file itself,
keyed by its inode: a folder target and the BCD inside it, or two paths to one image, meet on
the same lock).  A second writer waits `WAIT_SECONDS`, then fails with LockedError.  Images also
get a shared OFD lock while written, the kind QEMU tests before it opens an image, so a virtual
machine starting meanwhile fails instead of racing us; `refuse_if_in_use` is the converse test.
Sinks whose medium has its own locks (a cloud blob's lease) provide their own `lock()`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import struct
import time

from bcdtool.errors import LockedError, UnsafeVolumeError

#: How long a second writer waits for the first before giving up.
WAIT_SECONDS = 2.0
#: struct flock on Linux/x86-64 and arm64: l_type, l_whence, l_start, l_len, l_pid.
_FLOCK = struct.Struct("hh4xqqi4x")


@contextlib.contextmanager
def exclusive(fd: int, name: str, *, wait: float = WAIT_SECONDS):
    """Hold an exclusive flock on the open file `fd` for the duration of the block."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                break               # a filesystem without locks: nothing to hold
            if time.monotonic() >= deadline:
                raise LockedError("another bcdtool is writing this store or image; run the "
                                  "command again when it has finished (nothing was written)",
                                  path=name) from None
            time.sleep(0.05)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def exclusive_path(path: str):
    """`exclusive` on the file at `path` (an image or device: opened O_NONBLOCK, never written)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        with exclusive(fd, path):
            yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def qemu_shared(fd: int):
    """Hold a shared OFD lock on an image file (what QEMU's image locking tests for)."""
    with contextlib.suppress(OSError):  # a filesystem without locks: nothing to hold
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _FLOCK.pack(fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0))
    yield


def refuse_if_in_use(path: str, *, device: bool) -> None:
    """UnsafeVolumeError if writing `path` now could race another program."""
    if device:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_EXCL | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                raise UnsafeVolumeError("the device is in use (a partition is mounted, or it is "
                                        "claimed by device-mapper or RAID); unmount it first; "
                                        "nothing was written", path=path) from None
            return      # any other problem is reported by the writable open itself
        os.close(fd)
        return
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        query = _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        held = _FLOCK.unpack(fcntl.fcntl(fd, fcntl.F_OFD_GETLK, query))[0] != fcntl.F_UNLCK
    except OSError:
        held = False    # the filesystem has no locks: nothing to learn
    finally:
        os.close(fd)
    if held:
        raise UnsafeVolumeError("another process holds a lock on the image (a running virtual "
                                "machine, or another bcdtool writing it); stop the machine, or "
                                "run the command again when bcdtool has finished; nothing was "
                                "written", path=path)
