"""A hive (the BCD store, or `--path`) inside a disk image, read and written through libguestfs."""

from __future__ import annotations

import os
import posixpath

from bcdtool import journal as journals
from bcdtool.backends.guestfs import BCD_PATHS, GuestfsDisk
from bcdtool.errors import ImageError, InvalidArgumentError, NotFoundError, UnsafeVolumeError, WriteError
from bcdtool.regf.hive import Hive
from bcdtool.locate.handle import HiveHandle, WriteResult

#: The journal entry kind (and journal `extra["backend"]`) of files written through libguestfs.
ENTRY_KIND = "guestfs"


class GuestfsHive:
    """The Store of a HiveHandle whose bytes live in a file libguestfs reaches (LVM, any fs)."""

    kind = "guestfs"

    def __init__(self, disk: GuestfsDisk, filesystem: str, path: str) -> None:
        self.disk, self.filesystem, self.path = disk, filesystem, path
        self.read_only = not disk.writable
        self.key = f"guestfs:{os.path.realpath(disk.image)}:{filesystem}:{path}"

    def _logs(self) -> list[tuple[str, bytes]]:
        logs = []
        for suffix in (".LOG", ".LOG1", ".LOG2"):
            real = self.disk.find(self.path + suffix)
            if real is not None:
                logs.append((posixpath.basename(real), self.disk.read(real)))
        return logs

    def load(self) -> tuple[Hive, bytes]:
        """Read the hive (and replay its logs in memory when it is dirty)."""
        from bcdtool.locate.interrupted import check_not_interrupted

        data = self.disk.read(self.path)
        logs = self._logs()
        check_not_interrupted(self.key, self.path, data, logs)
        return Hive.from_bytes(data, name=self.path, logs=logs), data

    def commit(self, original: bytes, new_image: bytes, *, dry_run: bool, backup_dir, operation: str,
               diff: list | None, planned=None) -> tuple[WriteResult, Hive | None]:
        """Back up the file into a journal, write it whole through libguestfs, re-read, verify."""
        from bcdtool.locate.plan import pages_in, plan_commit, read_back, verify_plan

        final, steps = plan_commit(original, new_image)
        result = WriteResult(target=self.disk.image, dry_run=dry_run, size=len(final),
                             sha256_before=journals.sha256(original),
                             sha256_after=journals.sha256(final),
                             plan=[(off, len(data)) for off, data in steps],
                             pages_written=0 if dry_run else pages_in(steps),
                             # libguestfs rewrites the file whole (its file system allocates)
                             bytes_written=0 if dry_run else len(final))
        result.notices.append(f"written through libguestfs: {self.filesystem}:{self.path}")
        verify_plan(original, final, planned=planned, name=self.path)
        if dry_run:
            return result, None
        if self.disk.read(self.path) != original:
            raise WriteError("the file changed since it was read; nothing was written",
                             path=self.path)
        journal = journals.Journal.start(os.path.abspath(self.disk.image), operation,
                                         backup_dir=backup_dir, diff=diff, target_key=self.key)
        journal.extra.update(backend=ENTRY_KIND, kind=self.kind, size=len(original),
                             sha256_before=result.sha256_before)
        journal.backup_data(ENTRY_KIND, self.disk.image, original, after=final,
                            device={"filesystem": self.filesystem, "file": self.path})
        result.journal = str(journal.path)
        journal.mark("writing")
        try:
            self.disk.write(self.path, final)
            written = self.disk.read(self.path)
            hive = read_back(written, final, name=self.path)
        except BaseException:
            self.disk.write(self.path, original)
            journal.mark("restored")
            raise
        journal.mark("done")
        result.verified = True
        return result, hive

    def close(self) -> None:
        """Flush and shut the appliance down."""
        self.disk.close()


def open_hive_guestfs(spec: str, *, partition: int | None, path: str | None, read_only: bool,
                      kind: str) -> HiveHandle:
    """Open the BCD store (or the hive at `path`) of image `spec` through libguestfs."""
    if kind == "hive" and path is None:
        raise InvalidArgumentError("say which hive with --path (e.g. Windows/System32/config/SYSTEM)",
                                   path=spec)
    wanted = ["/" + path.replace("\\", "/").lstrip("/")] if path else list(BCD_PATHS)
    disk = GuestfsDisk(spec, writable=not read_only)
    try:
        filesystems = disk.filesystems()
        if partition is not None:
            # libguestfs names the first disk /dev/sda; LVM volumes have no partition number.
            filesystems = [fs for fs in filesystems if fs == f"/dev/sda{partition}"]
            if not filesystems:
                raise NotFoundError(f"no file system on partition {partition}", path=spec)
        for candidate in wanted:        # firmware order first, then file system order
            for fs in filesystems:
                try:
                    disk.mount(fs)
                except ImageError:
                    continue            # not mountable here (e.g. an unsupported type)
                real = disk.find(candidate)
                if real is None:
                    continue
                if not read_only and _hibernated(disk, fs):
                    raise UnsafeVolumeError("refusing to write: the Windows volume is hibernated "
                                            "(hiberfil.sys is in use)", path=spec)
                store = GuestfsHive(disk, fs, real)
                why = f"{real} on {fs} (libguestfs)"
                return HiveHandle(store, description=f"{real} in {spec}: {fs}",
                                  location={"target": spec, "kind": "guestfs", "filesystem": fs,
                                            "path": real, "reason": why})
        disk.umount()
        raise NotFoundError(f"no {' or '.join(wanted)} on any file system libguestfs sees "
                            f"({', '.join(filesystems) or 'none'})", path=spec)
    except BaseException:
        disk.close()
        raise


def _hibernated(disk: GuestfsDisk, fs: str) -> bool:
    """True when the mounted volume holds a non-empty hiberfil.sys starting with 'hibr'/'HIBR'."""
    real = disk.find("/hiberfil.sys")
    if real is None:
        return False
    return disk.g.pread(real, 4, 0).lower() in (b"hibr", b"wake")
