"""Read a guest root straight from a disk image: ext2/3/4 through pytsk3, nothing mounted.

The root is the ext partition that holds /etc/os-release (or /etc/fstab); a disk without a
partition table is tried as one whole file system.  Read only: `linux fix` needs a mounted root.
"""

from __future__ import annotations

import pytsk3

from bcdtool.blockdev.disk import Disk
from bcdtool.errors import GuestError, ImageError, UnsupportedError
from bcdtool.linux.paths import MAX_DIR_ENTRIES, GuestRoot, Parts, join
from bcdtool.urls import redact

EXT_MAGIC_OFFSET = 1024 + 0x38
EXT_MAGIC = b"\x53\xef"


class TskFS:
    """A GuestFS over an ext2/3/4 file system inside a block device (pytsk3)."""

    def __init__(self, dev) -> None:
        self._t = pytsk3
        self.device = dev

        class _Img(pytsk3.Img_Info):
            def __init__(self) -> None:
                super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

            def close(self) -> None:
                pass

            def read(self, offset: int, size: int) -> bytes:
                size = max(0, min(size, dev.size - offset))
                return dev.read_at(offset, size) if size else b""

            def get_size(self) -> int:
                return dev.size

        self._img = _Img()
        try:
            # Only ext: auto-detection probes every file system type (YAFFS2 alone reads
            # hundreds of 64 KiB pages across the image).
            self._fs = pytsk3.FS_Info(self._img, type=pytsk3.TSK_FS_TYPE_EXT_DETECT)
        except OSError as exc:
            raise ImageError(f"cannot open the ext file system: {exc}", path=dev.name) from None

    def _open(self, parts: Parts):
        try:
            return self._fs.open(join(parts))
        except OSError:
            return None

    def kind(self, parts: Parts) -> str | None:
        if not parts:
            return "dir"
        f = self._open(parts)
        if f is None or f.info.meta is None:
            return None
        t = f.info.meta.type
        if t == self._t.TSK_FS_META_TYPE_DIR:
            return "dir"
        if t == self._t.TSK_FS_META_TYPE_REG:
            return "file"
        if t == self._t.TSK_FS_META_TYPE_LNK:
            return "link"
        return "other"

    def readlink(self, parts: Parts) -> str:
        f = self._open(parts)
        if f is None or f.info.meta is None:
            raise GuestError("cannot read guest symlink", path=join(parts))
        target = f.info.meta.link
        if not target:
            size = min(f.info.meta.size, 4096)
            target = f.read_random(0, size) if size else b""
        if isinstance(target, bytes):
            target = target.decode("utf-8", "surrogateescape")
        return target

    def read(self, parts: Parts, limit: int) -> bytes:
        f = self._open(parts)
        if f is None or f.info.meta is None:
            raise GuestError("cannot open guest file", path=join(parts))
        size = min(f.info.meta.size, limit + 1)
        try:
            return f.read_random(0, size) if size else b""
        except OSError as exc:
            raise GuestError(f"cannot read guest file: {exc}", path=join(parts)) from None

    def listdir(self, parts: Parts) -> list[str]:
        try:
            directory = self._fs.open_dir(join(parts))
        except OSError:
            return []
        names = []
        for entry in directory:
            name = entry.info.name.name
            if isinstance(name, bytes):
                name = name.decode("utf-8", "surrogateescape")
            names.append(name)
            if len(names) > MAX_DIR_ENTRIES:
                break
        return names


class MountedFS:
    """A root file system with other file systems mounted on folders (a separate /boot)."""

    def __init__(self, root, mounts: dict[Parts, object]) -> None:
        self.root = root
        self.mounts = mounts
        self.device = root.device

    def _route(self, parts: Parts):
        for prefix, fs in self.mounts.items():
            if parts[:len(prefix)] == prefix:
                return fs, parts[len(prefix):]
        return self.root, parts

    def kind(self, parts: Parts) -> str | None:
        fs, rest = self._route(parts)
        return fs.kind(rest)

    def readlink(self, parts: Parts) -> str:
        fs, rest = self._route(parts)
        return fs.readlink(rest)

    def read(self, parts: Parts, limit: int) -> bytes:
        fs, rest = self._route(parts)
        return fs.read(rest, limit)

    def listdir(self, parts: Parts) -> list[str]:
        fs, rest = self._route(parts)
        return fs.listdir(rest)


_BOOT_MARKERS = ("/grub/grub.cfg", "/grub2/grub.cfg", "/loader/entries", "/grub/grub.conf")


def _is_ext(dev) -> bool:
    return dev.size > EXT_MAGIC_OFFSET + 2 and dev.read_at(EXT_MAGIC_OFFSET, 2) == EXT_MAGIC


def open_image_root(path: str, *, partition: int | None = None) -> GuestRoot:
    """The guest root inside a disk image or block device (read only)."""

    disk = Disk.open(path)
    if partition is not None:
        candidates = [(partition, disk.volume(partition)[1])]
    else:
        candidates = [(p.index, p.view(disk.dev)) for p in disk.partitions] or [(0, disk.dev)]
    roots, boots = [], []
    for index, view in candidates:
        if not _is_ext(view):
            continue
        fs = TskFS(view)
        probe = GuestRoot(fs, description="")
        if partition is not None or probe.kind("/etc") == "dir":
            roots.append((index, fs))
        elif any(probe.exists(m) for m in _BOOT_MARKERS):
            boots.append((index, fs))
    if not roots and boots:
        roots, boots = boots[:1], boots[1:]   # a lone /boot: still worth checking
    if roots:
        index, fs = roots[0]
        where = f"{redact(path)} partition {index}" if index else redact(path)
        root = GuestRoot(fs, description=where)
        if boots and not any(root.exists("/boot" + m) for m in _BOOT_MARKERS):
            # A separate /boot partition (RHEL's default layout): mount it where it belongs.
            boot_index, boot_fs = boots[0]
            root = GuestRoot(MountedFS(fs, {("boot",): boot_fs}),
                             description=f"{where} with /boot from partition {boot_index}")
        return root
    raise UnsupportedError("no ext2/3/4 root file system found in the image; for XFS, Btrfs or "
                           "LVM use --backend guestfs or mount the root", path=path)
