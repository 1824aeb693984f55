"""A failing medium for the write-path tests: a FUSE pass-through file system over a folder whose
writes or fsyncs fail with a chosen errno (EIO, ENOSPC...) for chosen file names.

Device-mapper's `error`/`flakey` targets would be the kernel's own failing disk, but containers
often have no device-mapper; FUSE reaches the same system calls (`pwrite`, `fsync`, `rename`
answered -EIO by the file system itself) with only /dev/fuse.  Test-only code: the product never
imports it.

Run as `python -m tests.helpers.faultfs BACKING MOUNTPOINT RULES` (foreground until unmounted).
RULES is a JSON file read again on every call, so a test switches faults on after setting up:
`{"write": {"BCD": "EIO"}, "fsync": {"BCD.LOG1": "EIO"}, "create": {".journal.json.*": "ENOSPC@2"}}`
— operation ("write", "fsync", "rename", "create") → {pattern of the last path component
(fnmatch) → errno name, optionally "@N": the first N matching calls succeed}.  `mounted()`
is the fixture-side context manager.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import mfusepy as fuse

#: Seconds a mount may take to appear (the FUSE process imports Python, then mounts).
MOUNT_WAIT = 30


class FaultFS(fuse.Operations):
    """Every call passed to the folder `root`, unless RULES says to fail it."""

    def __init__(self, root: str, rules: str) -> None:
        self.root, self.rules = os.path.realpath(root), rules
        #: Matching calls seen per (operation, pattern), for "CODE@N" rules.
        self.calls: dict[tuple[str, str], int] = {}

    def _real(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def _fault(self, operation: str, path: str) -> None:
        """Raise the errno RULES names for `operation` on `path`'s last component (a pattern:
        fnmatch; "CODE@N" lets the first N matching calls through)."""
        try:
            with open(self.rules, encoding="utf-8") as handle:
                rules = json.load(handle).get(operation, {})
        except (OSError, ValueError):
            return
        name = os.path.basename(path)
        for pattern, code in rules.items():
            if not code or not fnmatch.fnmatchcase(name, pattern):
                continue
            code, _, after = code.partition("@")
            seen = self.calls.get((operation, pattern), 0)
            self.calls[(operation, pattern)] = seen + 1
            if seen >= int(after or 0):
                raise fuse.FuseOSError(getattr(errno, code))

    # -- metadata ---------------------------------------------------------------------------
    def getattr(self, path, fh=None):
        info = os.lstat(self._real(path))
        return {key: getattr(info, key) for key in (
            "st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime", "st_nlink", "st_size",
            "st_uid", "st_ino")}

    def readdir(self, path, fh):
        return [".", "..", *os.listdir(self._real(path))]

    def readlink(self, path):
        return os.readlink(self._real(path))

    def statfs(self, path):
        info = os.statvfs(self._real(path))
        return {key: getattr(info, key) for key in (
            "f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files",
            "f_flag", "f_frsize", "f_namemax")}

    def access(self, path, amode):
        if not os.access(self._real(path), amode):
            raise fuse.FuseOSError(errno.EACCES)
        return 0

    def chmod(self, path, mode):
        os.chmod(self._real(path), mode)
        return 0

    def chown(self, path, uid, gid):
        os.chown(self._real(path), uid, gid)
        return 0

    def utimens(self, path, times=None):
        os.utime(self._real(path), times)
        return 0

    def mkdir(self, path, mode):
        os.mkdir(self._real(path), mode)
        return 0

    def rmdir(self, path):
        os.rmdir(self._real(path))
        return 0

    def unlink(self, path):
        os.unlink(self._real(path))
        return 0

    def symlink(self, target, source):
        os.symlink(source, self._real(target))
        return 0

    def rename(self, old, new):
        self._fault("rename", new)
        os.rename(self._real(old), self._real(new))
        return 0

    # -- file contents ----------------------------------------------------------------------
    def open(self, path, flags):
        return os.open(self._real(path), flags)

    def create(self, path, mode, fi=None):
        self._fault("create", path)
        return os.open(self._real(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        self._fault("write", path)
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        self._fault("write", path)
        os.truncate(self._real(path), length)
        return 0

    def flush(self, path, fh):
        return 0

    def fsync(self, path, datasync, fh):
        self._fault("fsync", path)
        os.fsync(fh)
        return 0

    def release(self, path, fh):
        os.close(fh)
        return 0


@contextlib.contextmanager
def mounted(backing: Path, mountpoint: Path, rules: Path):
    """The backing folder mounted through FaultFS at `mountpoint` for the block (raises
    RuntimeError where FUSE cannot mount: the caller skips)."""
    rules.write_text("{}")
    mountpoint.mkdir(exist_ok=True)
    process = subprocess.Popen([sys.executable, "-m", "tests.helpers.faultfs", str(backing),
                                str(mountpoint), str(rules)],
                               cwd=Path(__file__).resolve().parents[2],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(MOUNT_WAIT * 10):
            if os.path.ismount(mountpoint) or process.poll() is not None:
                break
            time.sleep(0.1)
        if not os.path.ismount(mountpoint):
            process.kill()
            raise RuntimeError(f"FUSE did not mount: {process.communicate()[1].decode()[-500:]}")
        yield mountpoint
    finally:
        if os.path.ismount(mountpoint):
            subprocess.run(["fusermount", "-u", "-z", str(mountpoint)], check=False)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def fail(rules: Path, operation: str, name: str, code: str = "EIO") -> None:
    """From now on, `operation` ("write", "fsync", "rename", "create") on files called `name`
    fails with errno `code`."""
    doc = json.loads(rules.read_text() or "{}")
    doc.setdefault(operation, {})[name] = code
    rules.write_text(json.dumps(doc))


def main() -> None:
    """Mount in the foreground until unmounted."""
    backing, mountpoint, rules = sys.argv[1:4]
    fuse.FUSE(FaultFS(backing, rules), mountpoint, foreground=True, nothreads=True,
              default_permissions=True)


if __name__ == "__main__":
    main()
