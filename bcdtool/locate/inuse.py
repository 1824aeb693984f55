"""Is a disk in use by another program?  A mounted or claimed block device, or an image file that
someone holds a lock on (QEMU locks the images of running virtual machines)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import struct

from bcdtool.errors import UnsafeVolumeError

#: struct flock on Linux/x86-64 and arm64: l_type, l_whence, l_start, l_len, l_pid.
_FLOCK = struct.Struct("hh4xqqi4x")


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
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        query = _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        held = _FLOCK.unpack(fcntl.fcntl(fd, fcntl.F_OFD_GETLK, query))[0] != fcntl.F_UNLCK
    except OSError:
        held = False    # the filesystem has no locks: nothing to learn
    finally:
        os.close(fd)
    if held:
        raise UnsafeVolumeError("another process holds a lock on the image (a running virtual "
                                "machine?); stop it first; nothing was written", path=path)


@contextlib.contextmanager
def exclusive(path: str, *, device: bool):
    """Hold a shared advisory lock on an image file for the duration of a commit.

    QEMU and `refuse_if_in_use` test for a conflicting lock before writing, so a virtual machine
    starting meanwhile (or another bcdtool) fails instead of racing us.  A read-only descriptor
    can hold only a shared lock, which is all that test needs to see.
    """
    if device:
        yield
        return
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with contextlib.suppress(OSError):  # a filesystem without locks: nothing to hold
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _FLOCK.pack(fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0))
        yield
    finally:
        os.close(fd)
