"""A hive (the BCD store, or `--path`) inside a disk image, read through libguestfs (and written
by locate/commit.py through the same sink).

Loaded only when `--backend guestfs` is chosen: its opener is registered in
bcdtool.backends.HIVE_OPENERS (by the CLI: cli/lazy.py)."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from bcdtool.backends.guestfs import BCD_PATHS, GuestfsDisk
from bcdtool.errors import ImageError, InvalidArgumentError, NotFoundError
from bcdtool.fs.base import VolumeFacts
from bcdtool.limits import MAX_BCD_BYTES, MAX_HIVE_BYTES
from bcdtool.locate.handle import HiveHandle
from bcdtool.locate.hivefile import file_pieces, load_from_sink
from bcdtool.regf.hive import Hive
from bcdtool.write.keys import guestfs_key
from bcdtool.write.sinks.guestfs import GuestfsSink


class GuestfsHive:
    """The Store of a HiveHandle whose bytes live in a file libguestfs reaches (LVM, any fs)."""

    kind = "guestfs"

    def __init__(self, disk: GuestfsDisk, filesystem: str, path: str, *, kind: str,
                 volume: VolumeFacts) -> None:
        self.disk, self.filesystem, self.path = disk, filesystem, path
        self.read_only = not disk.writable
        self.store = path.lstrip("/")
        cap = MAX_BCD_BYTES if kind == "bcd" else MAX_HIVE_BYTES
        self.key = guestfs_key(disk.image, filesystem, self.store)
        self.sink = GuestfsSink(disk, mount=filesystem, key=self.key, cap=cap, store=self.store,
                                target=disk.image, volume=volume)

    def logs(self) -> list[str]:
        """The logs beside the store (real names, found case-insensitively), whatever they
        are: a log that is a symlink or FIFO is then refused by the commit, never skipped."""
        found = []
        for suffix in (".LOG", ".LOG1", ".LOG2"):
            real = self.disk.find(self.path + suffix, any_kind=True)
            if real is not None:
                found.append(real.lstrip("/"))
        return found

    def load(self) -> tuple[Hive, bytes]:
        """Read the hive (and its logs, replayed in memory, only when it is dirty)."""
        return load_from_sink(self.sink, self.store, self.logs, key=self.key, name=self.path,
                              cap=self.sink.cap)

    def pieces(self) -> Iterator[bytes]:
        """The store file whole (through the appliance), a piece at a time."""
        return file_pieces(self.sink.size(self.store) or 0,
                           functools.partial(self.sink.read_range, self.store))

    def close(self) -> None:
        """Flush and shut the appliance down."""
        self.disk.close()


def open_hive_guestfs(spec: str, *, partition: int | None, path: str | None, read_only: bool,
                      kind: str) -> HiveHandle:
    """Open the BCD store (or the hive at `path`) of image `spec` through libguestfs."""
    if kind == "hive" and path is None:
        raise InvalidArgumentError(
            "say which hive with --path (e.g. Windows/System32/config/SYSTEM)", path=spec
        )
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
                # The refusal policy of the transaction judges these facts, as for any sink.
                volume = VolumeFacts(fs=disk.g.vfs_type(fs), hibernated=_hibernated(disk, fs))
                store = GuestfsHive(disk, fs, real, kind=kind, volume=volume)
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
