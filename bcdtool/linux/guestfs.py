"""A Linux guest inside a disk image through libguestfs: the GuestFS the resolver reads and the
sink `linux fix` writes it through (any root libguestfs can mount: LVM, xfs, ...)."""

from __future__ import annotations

from bcdtool.backends.guestfs import GuestfsDisk
from bcdtool.errors import GuestError
from bcdtool.linux.paths import GuestRoot, Parts, join, kind_of_mode


#: libguestfs caps one message at a few MiB: the head of a big file is read in pieces.
_PREAD_CHUNK = 1 << 20


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
        path = join(parts)
        st = self.disk.lstat(path)
        if st is not None and st["st_size"] > limit:
            # The protocol's "at most limit + 1 bytes": the caller refuses an oversized file, or
            # keeps the head it asked for (a UKI's headers and .cmdline).
            return self._head(path, limit + 1)
        return self.disk.read(path)

    def _head(self, path: str, size: int) -> bytes:
        chunks, total = [], 0
        try:
            while total < size:
                chunk = self.disk.g.pread(path, min(_PREAD_CHUNK, size - total), total)
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
        except RuntimeError as exc:
            raise GuestError(f"cannot read guest file: {exc}", path=path) from None
        return b"".join(chunks)

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
