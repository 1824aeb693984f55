"""A Linux guest inside a disk image through libguestfs: the GuestFS the resolver reads and the
sink `linux fix` writes it through (any root libguestfs can mount: LVM, xfs, ...)."""

from __future__ import annotations

from bcdtool.backends.guestfs import GuestfsDisk
from bcdtool.errors import GuestError
from bcdtool.linux.paths import GuestRoot, Parts, join, kind_of_mode


class GuestfsTree:
    """The GuestFS protocol over the mounted guest (paths given are already symlink-free)."""

    def __init__(self, disk: GuestfsDisk) -> None:
        self.disk = disk

    def kind(self, parts: Parts) -> str | None:
        st = self.disk.lstat(join(parts))
        if st is None:
            return None
        return kind_of_mode(st["st_mode"])

    def readlink(self, parts: Parts) -> str:
        try:
            return self.disk.g.readlink(join(parts))
        except RuntimeError as exc:
            raise GuestError(f"cannot read guest symlink: {exc}", path=join(parts)) from None

    def read(self, parts: Parts, limit: int) -> bytes:
        st = self.disk.lstat(join(parts))
        if st is not None and st["st_size"] > limit:
            raise GuestError(f"guest file is larger than {limit} bytes", path=join(parts))
        return self.disk.read(join(parts))

    def close(self) -> None:
        """Flush the image and shut the appliance down."""
        self.disk.close()

    def listdir(self, parts: Parts) -> list[str]:
        try:
            return self.disk.g.ls(join(parts))
        except RuntimeError as exc:
            raise GuestError(f"cannot list guest folder: {exc}", path=join(parts)) from None


def open_guest_guestfs(image: str, *, writable: bool = False) -> GuestRoot:
    """The guest root libguestfs' inspection finds in `image`, mounted (read-only unless
    writable)."""
    disk = GuestfsDisk(image, writable=writable)
    try:
        root = disk.mount_os()
    except BaseException:
        disk.close()
        raise
    return GuestRoot(fs=GuestfsTree(disk), description=f"{image} ({root}, libguestfs)")
