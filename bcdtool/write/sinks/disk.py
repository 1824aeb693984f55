"""Files inside a FAT or NTFS volume on a disk image or block device, written in place through
the extents the file system reported: the file keeps its exact size, so no file-system metadata
changes.  Only the named files (the store and its logs) are reachable; a journal entry naming
anything else has no extents here, so undo cannot touch any other byte of the disk."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import struct

from bcdtool.blockdev.base import BlockDevice, RangeView
from bcdtool.blockdev.detect import open_image
from bcdtool.blockdev.disk import Disk
from bcdtool.blockdev.partitions import read_partition_table
from bcdtool.errors import (BcdToolError, CorruptionError, UnsafePathError,
                            VerifyError)
from bcdtool.fs.volume import open_volume
from bcdtool.fs.base import FileRef, read_extents, write_extents
from bcdtool.fs.probe import probe
from bcdtool.write import lock
from bcdtool.write.keys import disk_key
from bcdtool.write.fileio import identity
from bcdtool.write.refuse import Facts
from bcdtool.write.sinks.folder import same_store_or_log

#: ioctl returning a Linux block device's read-only flag.
_BLKROGET = 0x125E


class DiskSink:
    """The files `refs` (path -> FileRef) of the volume at `partition` (0: the whole device)."""

    kind = "disk"
    marks_pending = True

    def __init__(self, image: str, *, dev: BlockDevice, partition: int, start: int,
                 volume_size: int, volume, refs: dict[str, FileRef], key: str, store: str,
                 target: str | None = None) -> None:
        self.image = os.path.abspath(image)
        self.target = target or image
        self.dev, self.partition, self.start, self.volume_size = dev, partition, start, volume_size
        self.volume, self.refs, self.key, self.store = volume, refs, key, store
        self.device = stat.S_ISBLK(os.stat(self.image).st_mode)

    def spec(self) -> dict:
        """How undo reopens this sink."""
        return {"kind": self.kind, "image": self.image, "target": self.target,
                "partition": self.partition, "store": self.store, "files": sorted(self.refs),
                "key": self.key}

    @classmethod
    def from_spec(cls, spec: dict) -> DiskSink:
        """The sink a journal names: the image opened and its files found again from scratch."""
        return open_files(spec["image"], partition=spec["partition"], files=spec["files"],
                          key=spec["key"], store=spec["store"], target=spec["target"])

    @staticmethod
    def spec_ok(spec: dict) -> bool:
        """Whether a journal's spec holds together: its key names this image, partition and
        store, and its files are that store and its logs."""
        image, part, store, files = (spec.get(k) for k in ("image", "partition", "store", "files"))
        if not (isinstance(image, str) and isinstance(part, int) and not isinstance(part, bool)
                and part >= 0 and isinstance(store, str) and isinstance(files, list)
                and all(isinstance(f, str) for f in files)):
            return False
        return spec["key"] == disk_key(image, part, store) and \
            all(same_store_or_log(f.lower(), store.lower()) for f in files)

    def allows(self, file: str) -> bool:
        """Only the store and its logs are reachable."""
        return file in self.refs
    def owns(self, path: str | os.PathLike) -> bool:
        """Whether the local file `path` (bcdtool's own output: an audit log, a journal
        folder) is the image or device, or a file it reads from (backing file, extent)."""
        mine = identity(path)
        return mine is not None and any(identity(name) == mine
                                        for name in [self.image, *self.dev.chain()])

    # -- reading ----------------------------------------------------------------------------------
    def _ref(self, file: str) -> FileRef:
        ref = self.refs.get(file)
        if ref is None:
            raise UnsafePathError("not one of the files this write may touch on the disk",
                                  path=f"{self.target}:{file}")
        return ref

    def read(self, file: str) -> bytes | None:
        """The whole file, through its extents."""
        return self.volume.read(self._ref(file))

    def read_range(self, file: str, offset: int, length: int) -> bytes:
        """`length` bytes at `offset` of the file (inside it: the extents say where)."""
        # resident or compressed: the file system's own copy in `content`
        return read_extents(self.volume.dev, self._ref(file), offset, length)

    def size(self, file: str) -> int | None:
        """The file's size (it never changes inside a disk)."""
        return self._ref(file).size

    def lstat_link(self, file: str) -> str | None:
        """FAT and NTFS files reached here are never symlinks."""
        return None

    def identity(self, file: str) -> tuple:
        """Where the file's bytes live now: its size and extents as the volume, opened afresh,
        reports them (the file may have been replaced or moved inside the image by another
        program since this sink found it)."""
        ref = self._located(self.dev, file)
        return ref.size, ref.extents

    def _located(self, dev: BlockDevice, file: str) -> FileRef:
        """`file` found again from scratch in the volume of `dev`."""
        self._ref(file)
        return open_volume(RangeView(dev, self.start, self.volume_size)).find(file)

    def device_ranges(self, file: str, offset: int, length: int) -> list[tuple[int, int]]:
        """(offset on the disk, length) of the bytes a write of the file touches."""
        return [(self.start + off, n) for off, n in self._ref(file).locate(offset, length)]

    # -- policy and lock ---------------------------------------------------------------------------
    def facts(self, phases) -> Facts:
        """The volume's state, hibernation on the disk's other partitions, files that cannot be
        rewritten in place, a write-protected device, and what the file system and the image
        format refuse for the writes of `phases` (see `medium_errors`)."""
        facts = Facts(volume=self.volume.facts(), neighbours=self._neighbours())
        facts.files = [f"cannot rewrite {ref.path} in place: {ref.refusal}"
                       for ref in self.refs.values() if ref.refusal]
        if self.device and _block_device_read_only(self.image):
            facts.read_only = "the block device is read-only (write-protected)"
        elif not self.device and not os.access(self.image, os.W_OK):
            facts.read_only = "no write access to the image (read-only media or permissions)"
        facts.errors = self.moved() + self.medium_errors(self.dev, phases)
        return facts

    def moved(self) -> list[BcdToolError]:
        """Files replaced, renamed or moved inside the image since they were found (their
        extents or size now differ): writing the old extents would land in free space or in
        another file."""
        errors: list[BcdToolError] = []
        for name, ref in self.refs.items():
            try:
                now = self._located(self.dev, name)
            except BcdToolError as exc:
                errors.append(moved(f"{self.target}:{name}", exc.message))
                continue
            if (now.size, now.extents) != (ref.size, ref.extents):
                errors.append(moved(f"{self.target}:{name}", "its extents changed"))
        return errors

    def medium_errors(self, dev: BlockDevice, phases) -> list[BcdToolError]:
        """The file system's refusal (the files' clusters or runs shared with another file,
        folder or file-system structure) and the image format's (snapshot-shared, compressed or
        unallocated blocks) of writing `phases` to `dev` (asked of the read-only open: a dry
        run opens nothing for writing)."""
        errors: list[BcdToolError] = []
        try:
            self.volume.check_files_exclusive(list(self.refs.values()))
        except CorruptionError as exc:
            errors.append(CorruptionError(exc.message, path=f"{self.target}:{exc.path}"))
        except BcdToolError as exc:         # a $MFT too large to check: LimitError
            errors.append(exc)
        try:
            for phase in phases:
                for step in phase:
                    for off, n in self.device_ranges(step.file, step.offset, len(step.data)):
                        dev.refuse_write(off, n)
        except BcdToolError as exc:
            errors.append(exc)
        return errors

    def _neighbours(self) -> list[tuple[str, object]]:
        """Facts of every other NTFS volume of the disk (~300 KB of reads each: only at commit)."""
        try:
            parts = read_partition_table(self.dev).looked_at
        except BcdToolError:
            return []               # no partition table: the store's volume is the whole disk
        found = []
        for part in parts:
            if part.index == self.partition:
                continue
            try:
                view = part.view(self.dev)
                if probe(view) == "ntfs":
                    found.append((f"partition {part.index}", open_volume(view).facts()))
            except BcdToolError:
                continue            # an unreadable neighbour is not ours to judge here
        return found

    @contextlib.contextmanager
    def lock(self):
        """Refuse a disk in use; hold an exclusive flock (other bcdtools) and, on images, the
        shared lock QEMU tests for, for the whole transaction."""
        lock.refuse_if_in_use(self.image, device=self.device)
        fd = os.open(self.image, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            self._same_image((info.st_dev, info.st_ino))
            with lock.exclusive(fd, self.image):
                if self.device:
                    yield
                else:
                    with lock.qemu_shared(fd):
                        yield
        finally:
            os.close(fd)

    def _same_image(self, found: tuple[int, int] | None) -> None:
        """UnsafePathError unless `found` (what the path names now) is the image file or device
        this sink read: one renamed over it since would get the writes at the old extents."""
        read = self.dev.file_identity()
        if read is not None and found != read:
            raise UnsafePathError("the image was replaced (renamed over or recreated) since "
                                  "bcdtool read it; nothing was written: find out what else "
                                  "writes it, then run the command again", path=self.image)

    # -- writing ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writer(self, expect: dict | None = None):
        """The image opened writable; writes go through the file's extents only.  With `expect`
        (file -> transaction.Expect), each file is found again through the writable open and
        must lie where it lay and start as it was backed up, before any byte is written."""
        with contextlib.closing(open_image(self.image, writable=True)) as wdev:
            self._same_image(wdev.file_identity())
            writer = _DiskWriter(self, wdev)
            writer.check(expect or {})
            yield writer

    def reopen(self) -> DiskSink:
        """The image opened again and the files found again from scratch; VerifyError if a file
        moved (its extents changed) while it was written."""
        fresh = open_files(self.image, partition=self.partition, files=sorted(self.refs),
                           key=self.key, store=self.store, target=self.target)
        for name, ref in self.refs.items():
            if fresh.refs[name].extents != ref.extents:
                fresh.close()
                raise VerifyError(
                    f"{name} moved on the disk while it was written", path=self.target
                )
        return fresh

    def close(self) -> None:
        """Close the device."""
        self.dev.close()


class _DiskWriter:
    def __init__(self, sink: DiskSink, wdev: BlockDevice) -> None:
        self.sink = sink
        self.view = RangeView(wdev, sink.start, sink.volume_size)
        self.wdev = wdev

    def check(self, expect: dict) -> None:
        """UnsafePathError unless every file of `expect` is, through this writable open, where
        the plan found it and starts with the bytes backed up."""
        for file, want in expect.items():
            ref = self.sink._ref(file)
            where = f"{self.sink.target}:{file}"
            try:
                now = self.sink._located(self.wdev, file)
            except BcdToolError as exc:
                raise moved(where, exc.message) from None
            if (now.size, now.extents) != want.identity or \
                    (now.size, now.extents) != (ref.size, ref.extents):
                raise moved(where, "its extents changed")
            if read_extents(self.view, ref, want.offset, len(want.head)) != want.head:
                raise moved(where, "its bytes changed")

    def write(self, file: str, offset: int, data: bytes, *, size: int | None = None) -> None:
        ref = self.sink._ref(file)
        if size is not None and size != ref.size:
            raise UnsafePathError("a file inside a disk keeps its size", path=file)
        write_extents(self.view, ref, offset, data)

    def replace(self, file: str, data: bytes) -> None:
        ref = self.sink._ref(file)
        if len(data) != ref.size:
            raise UnsafePathError("a file inside a disk keeps its size", path=file)
        write_extents(self.view, ref, 0, data)

    def symlink(self, file: str, target: str) -> None:
        raise UnsafePathError("no symlinks are created inside a disk", path=file)

    def remove(self, file: str) -> None:
        raise UnsafePathError("no files are removed inside a disk", path=file)

    def flush(self) -> None:
        self.wdev.flush_device()


def open_files(image: str, *, partition: int, files: list[str], key: str, store: str,
               target: str | None = None, sink_class: type | None = None) -> DiskSink:
    """A DiskSink (or `sink_class`, a kind of DiskSink) over `files` of the volume at
    `partition` (0: the whole device), opened now."""
    disk = Disk.open(image)
    dev = disk.dev
    try:
        start, view = disk.volume(partition)
        volume = open_volume(view)
        refs = {name: volume.find(name) for name in files}
        return (sink_class or DiskSink)(image, dev=dev, partition=partition, start=start,
                                        volume_size=view.size, volume=volume, refs=refs, key=key,
                                        store=store, target=target)
    except BaseException:
        dev.close()
        raise


def moved(where: str, why: str) -> UnsafePathError:
    """A file inside the image was replaced, renamed or moved (or rewritten) after bcdtool
    found it: its old extents may now be free space or another file's."""
    return UnsafePathError(f"the file was replaced, moved or rewritten inside the image since "
                           f"bcdtool read it ({why}; another program writing the image?); "
                           "nothing was written: close whatever else has the image open, then "
                           "run the command again", path=where)


def _block_device_read_only(path: str) -> bool:
    """The kernel's read-only flag of a block device (BLKROGET); O_RDWR opens succeed regardless."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return struct.unpack("i", fcntl.ioctl(fd, _BLKROGET, bytes(4)))[0] != 0
    except OSError:
        return False
    finally:
        os.close(fd)
