"""A hive inside a filesystem on a disk image or block device, read and written in place.

The write path (design.md §3): the new image keeps the file's exact size, so only the file's
data bytes change — through the extents the filesystem layer reported — and no filesystem
metadata is touched.  Every original byte is saved in an undo journal before the first write;
afterwards the target is re-opened from scratch and the store is read back and verified.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
from pathlib import PurePosixPath

from bcdtool import journal as journals
from bcdtool.blockdev.base import RangeView
from bcdtool.blockdev.detect import open_image
from bcdtool.errors import (BcdToolError, ReadOnlyError, UnsafeVolumeError,
                            UnsupportedError, VerifyError, WriteError)
from bcdtool.fs.base import write_extents
from bcdtool.regf.hive import Hive
from bcdtool.regf.logs import is_dirty
from bcdtool.locate.discover import locate
from bcdtool.locate.handle import HiveHandle, WriteResult
from bcdtool.locate.inuse import exclusive, refuse_if_in_use
from bcdtool.locate.interrupted import check_not_interrupted
from bcdtool.urls import is_url, redact, resolve, stored

#: ioctl returning a Linux block device's read-only flag.
_BLKROGET = 0x125E
#: Granularity of the writes (and of the base-block copy at the head of a transaction log).
PAGE = 512


def open_on_disk(spec: str, *, device: bool, partition: int | None, path: str | None,
                 read_only: bool, kind: str) -> HiveHandle:
    """Open the store (or hive) found on disk image or block device `spec`."""
    store = DiskStore(spec, device=device, partition=partition, path=path, read_only=read_only,
                      kind=kind)
    try:
        return HiveHandle(store, description=store.description(), location=store.location())
    except BaseException:
        store.close()
        raise


class DiskStore:
    """The bytes of one hive file on a disk, with its logs, and how to write them in place."""

    def __init__(self, spec: str, *, device: bool, partition: int | None, path: str | None,
                 read_only: bool, kind: str) -> None:
        self.spec = spec                # may hold a URL's secret: used to open, never shown
        self.shown = redact(spec)
        self.remote = is_url(spec)
        self.kind = "device" if device else "image"
        self.read_only = read_only
        # Reading always goes through a read-only open; a writable one exists only inside commit.
        self.dev = open_image(spec, writable=False)
        try:
            self.loc = locate(self.dev, partition=partition, path=path, kind=kind)
        except BaseException:
            self.dev.close()
            raise
        where = self.shown if self.remote else os.path.realpath(spec)
        self.key = f"disk:{where}#{self.loc.index}:{self.loc.ref.path.lower()}"

    # -- what the handle shows ---------------------------------------------------------------------
    def description(self) -> str:
        """One line saying which store this is and why it was chosen."""
        return f"{self.loc.ref.path} in {self.shown}: {self.loc.reason}"

    def location(self) -> dict:
        """Where the store is, for JSON output and the undo journal."""
        loc = self.loc
        return {"target": self.shown, "kind": self.kind, "format": type(self.dev).__name__,
                "chain": self.dev.chain(),
                "scheme": loc.scheme, "partition": loc.index, "partition_start": loc.start,
                "filesystem": loc.fs, "path": loc.ref.path, "size": loc.ref.size,
                "extents": [[loc.start + off, n] for off, n in loc.ref.extents],
                "logs": [log.path for log in loc.logs], "reason": loc.reason,
                "notices": list(loc.notices)}

    # -- reading -----------------------------------------------------------------------------------
    def load(self) -> tuple[Hive, bytes]:
        """Read the hive and its logs through their extents; refuse one left half-written."""
        loc = self.loc
        data = loc.volume.read(loc.ref)
        # Logs matter only to a dirty hive; a clean one is read without touching them.
        dirty = len(data) >= PAGE and data[:4] == b"regf" and is_dirty(data)
        logs = [(PurePosixPath(log.path).name, loc.volume.read(log)) for log in loc.logs] \
            if dirty else []
        check_not_interrupted(self.key, self.shown, data, logs)
        hive = Hive.from_bytes(data, name=f"{self.shown}:{loc.ref.path}", logs=logs)
        hive.notices[:0] = loc.notices      # backup GPT used, partitions skipped: CLIs show these
        return hive, data

    def _log_head(self, log) -> bytes:
        return b"".join(self.loc.volume.dev.read_at(off, n)
                        for off, n in log.locate(0, min(PAGE, log.size)))

    # -- writing -----------------------------------------------------------------------------------
    def commit(self, original: bytes, new_image: bytes, *, dry_run: bool, backup_dir, operation: str,
               diff: list | None) -> tuple[WriteResult, Hive | None]:
        """Plan, refuse if unsafe, back up, write changed pages in protocol order, verify."""
        from bcdtool.locate.plan import pages_in, plan_commit

        loc = self.loc
        if len(new_image) != len(original):
            raise UnsupportedError(
                f"the edited store is {len(new_image)} bytes but its file on the disk is "
                f"{len(original)}: inside disks bcdtool writes in place and keeps a file's exact "
                "size (so no filesystem metadata changes); nothing was written",
                path=self.spec)
        final, steps = plan_commit(original, new_image)
        # Like regf.commit: any log whose base block is not all zeros could be replayed later.
        stale_logs = [(log, head) for log in loc.logs if log.size and log.extents
                      and any(head := self._log_head(log))]
        result = WriteResult(target=self.shown, dry_run=dry_run, size=len(final),
                             sha256_before=journals.sha256(original),
                             sha256_after=journals.sha256(final),
                             plan=[(off, len(data)) for off, data in steps],
                             pages_written=pages_in(steps) + len(stale_logs),
                             bytes_written=sum(len(d) for _, d in steps)
                             + sum(len(head) for _, head in stale_logs))
        # Commit protocol order, with a flush between phases: stale log headers zeroed, base
        # block with Sequence1 bumped, the changed pages, then the final base block.
        phases = [[(log, 0, bytes(len(head))) for log, head in stale_logs],
                  [(loc.ref, *steps[0])],
                  [(loc.ref, offset, data) for offset, data in steps[1:-1]],
                  [(loc.ref, *steps[-1])]]
        result.device_writes = [(loc.start + off, n) for phase in phases
                                for ref, offset, data in phase
                                for off, n in ref.locate(offset, len(data))]
        if stale_logs:
            result.notices.append("makes stale transaction logs harmless (first 512 bytes zeroed): "
                                  + ", ".join(log.path for log, _ in stale_logs))
        refusal = self._refusal()
        if dry_run:
            result.pages_written = result.bytes_written = 0
            if refusal is not None:
                result.notices.append(f"a real write would be refused: {refusal.message}")
            return result, None
        if refusal is not None:
            raise refusal
        if loc.volume.read(loc.ref) != original:
            raise WriteError("the store changed since it was read; nothing was written",
                             path=self.spec)
        device = self.kind == "device"
        if not self.remote:
            refuse_if_in_use(self.spec, device=device)
        with contextlib.ExitStack() as held:
            if not self.remote:
                held.enter_context(exclusive(self.spec, device=device))
            wdev = held.enter_context(contextlib.closing(open_image(self.spec, writable=True)))
            self._refuse_if_changed(wdev)
            failure = None
            # The medium's own lock (a page blob's lease) covers writing and verifying; it is
            # released before a restore, which takes it again itself.
            with wdev.lock():
                view = RangeView(wdev, loc.start, loc.volume_size)
                self._preflight(wdev, [w for phase in phases for w in phase])
                journal = self._back_up(original, final, stale_logs, backup_dir, operation, diff)
                if getattr(_container(wdev), "lease_id", None):   # undo takes over a lease
                    journal.extra["lease_id"] = _container(wdev).lease_id  # a killed write left
                result.journal = str(journal.path)
                journal.mark("writing")  # journal.json with every saved range is durable first
                try:
                    for phase in phases:
                        for ref, offset, data in phase:
                            write_extents(view, ref, offset, data)
                        wdev.flush_device()
                    hive = self._verify(final)
                except BaseException as exc:
                    failure = exc
            if failure is not None:
                self._fail(journal, failure)
        journal.mark("done")
        result.verified = True
        return result, hive

    def _refuse_if_changed(self, wdev) -> None:
        """A remote disk whose version (ETag) moved since we read it holds another writer's
        bytes: the plan was made from stale data."""
        before = getattr(_container(self.dev), "etag", "")
        now = getattr(_container(wdev), "etag", "")
        if before and now and before != now:
            raise WriteError("the disk changed on the server since it was read (its ETag "
                             "changed: another writer?); run the command again; nothing was "
                             "written", path=self.shown)

    def _preflight(self, wdev, writes) -> None:
        """Let the device refuse (write-protected block device) and the image format refuse
        (snapshot-shared, compressed or unallocated blocks) before anything is backed up."""
        if self.kind == "device" and _block_device_read_only(self.spec):
            raise ReadOnlyError("the block device is read-only (write-protected); nothing was "
                                "written", path=self.spec)
        check = getattr(wdev, "check_write", None)     # only mapped formats can refuse
        if check is None:
            return
        for ref, offset, data in writes:
            for off, n in ref.locate(offset, len(data)):
                check(self.loc.start + off, n)

    def _fail(self, journal: journals.Journal, exc: BaseException) -> None:
        """Restore the original bytes, then re-raise saying so."""
        try:
            restore(journal.path, secrets=[self.spec], lease_id=journal.extra.get("lease_id"))
        except BcdToolError as failed:
            raise WriteError(f"the write failed ({exc}) and restoring the original bytes failed "
                             f"too ({failed}); run `bcdtool undo {journal.path}` once the target "
                             "is writable", path=self.spec) from None
        if isinstance(exc, VerifyError):
            raise VerifyError(f"{exc.message}; the original bytes were restored",
                              path=exc.path, offset=exc.offset) from None
        if isinstance(exc, BcdToolError):
            raise WriteError(f"{exc}; the original bytes were restored", path=self.spec) from None
        raise exc

    def _refusal(self) -> BcdToolError | None:
        """Why the volume or the files must not be written (BitLocker, hibernation, dirty
        filesystem; compressed, sparse, encrypted or resident data), as the error to raise."""
        reasons = self.loc.volume.facts().unsafe_reasons() + self._hibernated_elsewhere()
        if reasons:
            return UnsafeVolumeError(f"refusing to write to the {self.loc.fs} volume: "
                                     + "; ".join(reasons) + "; nothing was written", path=self.spec)
        for ref in [self.loc.ref] + self.loc.logs:
            if ref.refusal:
                return UnsupportedError(f"cannot rewrite {ref.path} in place: {ref.refusal}; "
                                        "nothing was written", path=self.spec)
        return None

    def _hibernated_elsewhere(self) -> list[str]:
        """Windows hibernated on another partition of this disk (C: beside System Reserved)
        keeps the boot configuration in memory and writes it back when it resumes, over ours.
        Only asked at commit time: it opens each other NTFS volume (~300 KB of reads each)."""
        from bcdtool.blockdev.partitions import read_partitions
        from bcdtool.fs import open_volume
        from bcdtool.fs.probe import probe

        try:
            parts = read_partitions(self.dev)
        except BcdToolError:
            return []               # no partition table: the store's volume is the whole disk
        found = []
        for part in parts:
            if part.index == self.loc.index:
                continue
            try:
                view = part.view(self.dev)
                if probe(view) == "ntfs" and open_volume(view).facts().hibernated:
                    found.append(f"Windows on partition {part.index} is hibernated (hiberfil.sys "
                                 "is active) and would write its boot configuration back when it "
                                 "resumes; boot Windows and shut it down fully, or disable Fast "
                                 "Startup")
            except BcdToolError:
                continue            # an unreadable neighbour is not ours to judge here
        return found

    def _back_up(self, original: bytes, final: bytes, stale_logs, backup_dir, operation: str,
                 diff: list | None) -> journals.Journal:
        loc = self.loc
        journal = journals.Journal.start(stored(self.spec), operation or "commit",
                                         backup_dir=backup_dir, diff=diff, target_key=self.key)
        journal.extra.update(location=dict(self.location(), target=stored(self.spec)),
                             size=len(original),
                             sha256_before=journals.sha256(original),
                             sha256_after=journals.sha256(final))
        device = {"partition": loc.index, "partition_start": loc.start, "kind": self.kind}
        pos = 0
        for off, n in loc.ref.extents:
            journal.backup_extent(self.spec, loc.start + off, original[pos:pos + n],
                                  after=final[pos:pos + n], device=dict(device, file=loc.ref.path),
                                  save=False)
            pos += n
        for log, head in stale_logs:
            pos = 0
            for off, n in log.locate(0, len(head)):
                journal.backup_extent(self.spec, loc.start + off, head[pos:pos + n],
                                      after=bytes(n), device=dict(device, file=log.path),
                                      save=False)
                pos += n
        return journal

    def _verify(self, final: bytes) -> Hive:
        """Re-open the target from scratch, find the store again, and check it is what we planned."""
        from bcdtool.locate.plan import verify_image

        fresh_dev = open_image(self.spec, writable=False)
        try:
            fresh = locate(fresh_dev, partition=self.loc.index, path=self.loc.ref.path, kind="hive")
            if fresh.ref.extents != self.loc.ref.extents:
                raise VerifyError("the store moved on the disk while it was written", path=self.spec)
            data = fresh.volume.read(fresh.ref)
            hive = verify_image(data, final, name=f"{self.spec}:{fresh.ref.path}")
        except BaseException:
            fresh_dev.close()
            raise
        self.dev.close()
        fresh.reason, fresh.notices = self.loc.reason, self.loc.notices
        self.dev, self.loc = fresh_dev, fresh
        return hive

    def close(self) -> None:
        """Close the device."""
        self.dev.close()


def _block_device_read_only(path: str) -> bool:
    """The kernel's read-only flag of a block device (BLKROGET); O_RDWR opens succeed regardless."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return struct.unpack("i", fcntl.ioctl(fd, _BLKROGET, bytes(4)))[0] != 0
    except OSError:
        return False
    finally:
        os.close(fd)


def restore(journal_path, *, secrets: list[str] | tuple[str, ...] = (),
            lease_id: str | None = None) -> journals.Journal:
    """Put back every byte an undo journal saved, reopening each image writable once (a remote
    disk under its lease; `secrets`: full URLs whose SAS the journal, holding only the redacted
    URL, lacks; `lease_id`: the lease an interrupted write left on a page blob, taken over)."""
    devices: dict[str, object] = {}
    with contextlib.ExitStack() as held:
        def open_device(entry: journals.Entry):
            if entry.path not in devices:
                dev = held.enter_context(contextlib.closing(
                    open_image(resolve(entry.path, secrets), writable=True)))
                if lease_id and hasattr(_container(dev), "lease_id"):
                    _container(dev).lease_id = lease_id
                held.enter_context(dev.lock())
                devices[entry.path] = dev
            return devices[entry.path]

        return journals.undo(journal_path, open_device=open_device)


def _container(dev):
    """The innermost device under image-format layers (the file, URL or blob itself)."""
    while hasattr(dev, "container"):
        dev = dev.container
    return dev
