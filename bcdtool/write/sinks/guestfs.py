"""Files inside a disk image reached through libguestfs (LVM, any file system it mounts): the
appliance reads and writes them; links are never followed (lstat first), special files refused."""

from __future__ import annotations

import contextlib
import os
import stat

from bcdtool.backends.guestfs import GuestfsDevice, GuestfsDisk
from bcdtool.errors import BcdToolError, LimitError, UnsafePathError, WriteError
from bcdtool.fs.volume import open_volume
from bcdtool.fs.base import VolumeFacts
from bcdtool.fs.probe import probe
from bcdtool.write import lock
from bcdtool.write.fileio import identity
from bcdtool.write.keys import guestfs_key
from bcdtool.write.refuse import Facts, hard_link_refusal, in_place_files
from bcdtool.write.sinks.folder import same_store_or_log


#: Bytes asked of libguestfs per pread.
_PREAD_MAX = 1 << 20


class GuestfsSink:
    """Files below / of the file system (or OS) `mount` of `disk`."""

    kind = "guestfs"

    def __init__(self, disk: GuestfsDisk, *, mount: str, key: str, cap: int,
                 store: str | None = None, target: str | None = None,
                 volume: VolumeFacts | None = None, owned: bool = False) -> None:
        self.disk, self.mount, self.key, self.cap, self.store = disk, mount, key, cap, store
        self.image = os.path.abspath(disk.image)
        self.target = target or disk.image
        self.volume = volume
        self.owned = owned              # close() shuts the appliance down (undo's own sink)
        self.marks_pending = store is not None

    def spec(self) -> dict:
        """How undo reopens this sink."""
        return {"kind": self.kind, "image": self.image, "target": self.target, "mount": self.mount,
                "key": self.key, "cap": self.cap, "store": self.store}

    @staticmethod
    def spec_ok(spec: dict) -> bool:
        """Whether a journal's spec holds together (its key names this image and mount)."""
        image, mount, store = spec.get("image"), spec.get("mount"), spec.get("store")
        if not (isinstance(image, str) and isinstance(mount, str)
                and isinstance(spec.get("cap"), int) and isinstance(store, (str, type(None)))):
            return False
        return spec["key"] == guestfs_key(image, mount, store)

    def allows(self, file: str) -> bool:
        """A hive's journal may touch only the store and its logs; a guest's, any file in it."""
        return self.store is None or same_store_or_log(file, self.store)

    def owns(self, path: str | os.PathLike) -> bool:
        """Whether the local file `path` (bcdtool's own output) is the image itself."""
        mine = identity(path)
        return mine is not None and identity(self.image) == mine

    @classmethod
    def from_spec(cls, spec: dict) -> GuestfsSink:
        """The sink a journal names: the image opened writable, mounted as it was written."""
        disk = GuestfsDisk(spec["image"], writable=True)
        try:
            if spec["mount"] == "os":
                disk.mount_os()
            else:
                disk.mount(spec["mount"])
        except BaseException:
            disk.close()
            raise
        return cls(disk, mount=spec["mount"], key=spec["key"], cap=spec["cap"],
                   store=spec["store"], target=spec["target"], owned=True)

    @staticmethod
    def _path(file: str) -> str:
        return "/" + file

    # -- reading ----------------------------------------------------------------------------------
    def _regular(self, file: str) -> dict | None:
        st = self.disk.lstat(self._path(file))
        if st is None:
            return None
        if not stat.S_ISREG(st["st_mode"]):
            raise UnsafePathError("not a regular file (a symlink, FIFO or device); bcdtool does "
                                  "not follow or write it: remove it", path=self._path(file))
        if st["st_size"] > self.cap:
            raise LimitError(f"the file is {st['st_size']} bytes, more than the {self.cap}-byte "
                                "cap; it is not read", path=self._path(file))
        return st

    def read(self, file: str) -> bytes | None:
        """The whole regular file, None if absent."""
        if self._regular(file) is None:
            return None
        return self.disk.read(self._path(file))

    def size(self, file: str) -> int | None:
        """The size of regular file `file` (LimitError over the cap), None if absent."""
        st = self._regular(file)
        return None if st is None else st["st_size"]

    def read_range(self, file: str, offset: int, length: int) -> bytes:
        """`length` bytes at `offset` (short at the end of the file), read a MiB at a time
        (libguestfs answers a few MiB per call at most: its protocol's message limit)."""
        if self._regular(file) is None:
            return b""
        parts = []
        try:
            while length > 0:
                part = self.disk.g.pread(self._path(file), min(length, _PREAD_MAX), offset)
                if not part:
                    break
                parts.append(part)
                offset, length = offset + len(part), length - len(part)
        except RuntimeError as exc:
            raise WriteError(
                f"cannot read through libguestfs: {exc}", path=self._path(file)
            ) from None
        return b"".join(parts)

    def lstat_link(self, file: str) -> str | None:
        """A symlink's target, None if `file` is not a symlink."""
        st = self.disk.lstat(self._path(file))
        if st is None or not stat.S_ISLNK(st["st_mode"]):
            return None
        return self.disk.g.readlink(self._path(file))

    def identity(self, file: str) -> tuple | None:
        """What `file` is now inside the image: type, device, inode and size (a link is not
        followed), None when absent."""
        st = self.disk.lstat(self._path(file))
        if st is None:
            return None
        return stat.S_IFMT(st["st_mode"]), st["st_dev"], st["st_ino"], st["st_size"]

    def entry_kind(self, file: str) -> str | None:
        """"file", "link", "other" or None (absent), without following a link."""
        st = self.disk.lstat(self._path(file))
        if st is None:
            return None
        if stat.S_ISLNK(st["st_mode"]):
            return "link"
        return "file" if stat.S_ISREG(st["st_mode"]) else "other"

    # -- policy and lock ---------------------------------------------------------------------------
    def facts(self, phases) -> Facts:
        """Write access, the mounted volume's state, and for a hive every refusal the disk
        sink applies that libguestfs' own file system driver would not make: Windows
        hibernated on another file system of the disk, and files of `phases` written in place
        that have other hard links."""
        facts = Facts(volume=self.volume)
        if not os.access(self.image, os.W_OK):
            facts.read_only = "no write access to the image (read-only media or permissions)"
        if self.store is not None:
            facts.neighbours = self._neighbours()
        for file in in_place_files(phases):
            st = self.disk.lstat(self._path(file))
            if st is not None and stat.S_ISREG(st["st_mode"]) and st["st_nlink"] > 1:
                facts.errors.append(hard_link_refusal(self._path(file), st["st_nlink"]))
        return facts

    def _neighbours(self) -> list[tuple[str, VolumeFacts]]:
        """Facts of every other NTFS file system libguestfs sees on the disk, read by bcdtool's
        own NTFS reader through the appliance (~300 KB each; nothing is mounted)."""
        found = []
        for device in self.disk.filesystems():
            if device == self.mount:
                continue
            try:
                view = GuestfsDevice(self.disk, device)
                if probe(view) == "ntfs":
                    found.append((device, open_volume(view).facts()))
            except BcdToolError:
                continue            # an unreadable neighbour is not ours to judge here
        return found

    def lock(self):
        """An exclusive flock on the image (other bcdtools) for the whole transaction; the
        appliance's QEMU holds the image locks other virtual machines test for."""
        return lock.exclusive_path(self.image)

    # -- writing ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writer(self, expect: dict | None = None):
        """The appliance itself writes; flush() syncs it.  With `expect` (file ->
        transaction.Expect), every file must first be the one checked (same inode and size,
        same first bytes): one replaced, moved or rewritten inside the image since is not
        written."""
        for file, want in (expect or {}).items():
            if self.identity(file) != want.identity or (
                    want.head and self.read_range(file, want.offset, len(want.head)) != want.head):
                raise UnsafePathError("the file was replaced, moved or rewritten inside the image "
                                      "after bcdtool checked and backed it up; nothing was "
                                      "written: find out what else writes the image, then run "
                                      "the command again", path=self._path(file))
        yield _GuestfsWriter(self)

    def reopen(self) -> GuestfsSink:
        """The same appliance with its caches dropped (restarting it costs 8–25 s under TCG)."""
        try:
            self.disk.g.sync()
            self.disk.g.drop_caches(3)
        except RuntimeError as exc:
            raise WriteError(f"libguestfs cannot flush: {exc}", path=self.image) from None
        return GuestfsSink(self.disk, mount=self.mount, key=self.key, cap=self.cap,
                           store=self.store, target=self.target, volume=self.volume)

    def close(self) -> None:
        """Shut the appliance down if this sink opened it."""
        if self.owned:
            self.disk.close()


class _GuestfsWriter:
    def __init__(self, sink: GuestfsSink) -> None:
        self.sink = sink
        self.g = sink.disk.g

    def write(self, file: str, offset: int, data: bytes, *, size: int | None = None) -> None:
        path = self.sink._path(file)
        if self.sink.entry_kind(file) != "file":
            raise UnsafePathError("not a regular file; bcdtool writes only regular files",
                                  path=path)
        try:
            self.g.pwrite(path, data, offset)
            if size is not None:
                self.g.truncate_size(path, size)
        except RuntimeError as exc:
            raise WriteError(f"cannot write through libguestfs: {exc}", path=path) from None

    def replace(self, file: str, data: bytes) -> None:
        if self.sink.entry_kind(file) not in (None, "file"):
            raise UnsafePathError("not a regular file; bcdtool never replaces a link or device",
                                  path=self.sink._path(file))
        self.sink.disk.write(self.sink._path(file), data)

    def symlink(self, file: str, target: str) -> None:
        if self.sink.entry_kind(file) is not None:
            raise WriteError("the symlink to create already exists", path=self.sink._path(file))
        self.sink.disk.symlink(target, self.sink._path(file))

    def remove(self, file: str) -> None:
        self.sink.disk.remove(self.sink._path(file))

    def flush(self) -> None:
        try:
            self.g.sync()
        except RuntimeError as exc:
            raise WriteError(f"libguestfs cannot flush: {exc}", path=self.sink.image) from None
