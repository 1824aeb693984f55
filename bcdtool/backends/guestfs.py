"""A disk image opened through libguestfs: find, read and write files on any file system in it.

Used only when the user asks for `--backend guestfs` (LVM, file systems pytsk3/pyfatfs cannot
read).  The Python binding is a Debian package (`python3-guestfs`), not on PyPI, so it is
imported lazily and, when the running Python cannot import it, loaded from Debian's
dist-packages folder (or the folder BCDTOOL_GUESTFS_SYSTEM_DIR names) if it was built for this
Python version.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys

from bcdtool.blockdev.base import BlockDevice
from bcdtool.blockdev.detect import open_container, sniff
from bcdtool.errors import ImageError, NotFoundError, UnsupportedError, WriteError
from bcdtool.log import get_logger

log = get_logger(__name__)

INSTALL_HINT = ("the guestfs backend needs libguestfs' Python binding, which is not on PyPI: "
                "apt-get install python3-guestfs")
#: Where Debian installs the binding (guestfs.py + libguestfsmod.cpython-3XY-*.so).
SYSTEM_DIR = "/usr/lib/python3/dist-packages"
#: The folder to load a distribution's binding from instead (Fedora:
#: /usr/lib64/python3.X/site-packages); empty: only what the running Python imports.
SYSTEM_DIR_ENV = "BCDTOOL_GUESTFS_SYSTEM_DIR"
#: Where Windows keeps the BCD store, in the order firmware would use them (UEFI first).
BCD_PATHS = ("/EFI/Microsoft/Boot/BCD", "/Boot/BCD")


def load_module():
    """The `guestfs` module, or UnsupportedError saying how to install it."""
    try:
        import guestfs
        # Any folder named guestfs on sys.path imports as an empty
        # namespace package: only a module with GuestFS is the binding.
        if hasattr(guestfs, "GuestFS"):
            return guestfs
    except ImportError:
        pass
    folder = os.environ.get(SYSTEM_DIR_ENV, SYSTEM_DIR)
    if not folder:
        raise UnsupportedError(INSTALL_HINT)
    # Load only the binding's two files from the distribution's folder: putting the whole
    # folder on sys.path would let its other packages shadow the venv's.
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
    source = os.path.join(folder, "guestfs.py")
    natives = glob.glob(os.path.join(folder, f"libguestfsmod.{tag}-*.so"))
    if not os.path.exists(source):
        raise UnsupportedError(INSTALL_HINT)
    if not natives:
        found = glob.glob(os.path.join(folder, "libguestfsmod.*.so"))
        raise UnsupportedError(
            f"{INSTALL_HINT}; the installed binding ({', '.join(found) or 'none'}) "
            f"is not built for this Python ({tag}): run bcdtool with Debian's "
            "python3"
        )
    try:
        for name, path in (("libguestfsmod", natives[0]), ("guestfs", source)):
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
    except ImportError as exc:
        for name in ("libguestfsmod", "guestfs"):
            sys.modules.pop(name, None)
        raise UnsupportedError(f"{INSTALL_HINT} ({exc})") from None
    return sys.modules["guestfs"]


class GuestfsDisk:
    """One libguestfs appliance over one disk image (read-only unless `writable`)."""

    def __init__(self, image: str, *, writable: bool = False) -> None:
        module = load_module()
        if not os.path.exists(image):
            raise NotFoundError("no such disk image or device", path=image)
        # Measured here: without KVM the appliance only boots under TCG, and libguestfs does not
        # fall back to it by itself (launch fails); a user's own setting wins.
        os.environ.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
        self.image = image
        self.writable = writable
        fmt = image_format(image)
        self.g = module.GuestFS(python_return_dict=True)
        try:
            self.g.add_drive_opts(image, readonly=not writable, format=fmt)
            self.g.launch()
        except RuntimeError as exc:
            self.g.close()
            raise ImageError(f"libguestfs cannot open the image: {exc}", path=image) from None
        self.mounted: str | None = None

    # -- file systems -------------------------------------------------------------------------
    def filesystems(self) -> list[str]:
        """Devices holding a file system (partitions and LVM logical volumes), sorted."""
        return sorted(dev for dev, kind in self.g.list_filesystems().items()
                      if kind not in ("unknown", "swap", ""))

    def mount(self, device: str) -> None:
        """Mount `device` at / (read-only unless the disk is writable)."""
        self.umount()
        try:
            (self.g.mount if self.writable else self.g.mount_ro)(device, "/")
        except RuntimeError as exc:
            raise ImageError(f"cannot mount {device}: {exc}", path=self.image) from None
        self.mounted = device

    def mount_os(self) -> str:
        """Mount the operating system libguestfs' inspection finds (with /boot etc.); its root."""
        self.umount()
        roots = self.g.inspect_os()
        if not roots:
            return self._mount_etc_root()
        root = roots[0]
        points = self.g.inspect_get_mountpoints(root)
        for point in sorted(points, key=len):  # "/" before "/boot"
            try:
                (self.g.mount if self.writable else self.g.mount_ro)(points[point], point)
            except RuntimeError as exc:
                log.info("not mounting %s at %s: %s", points[point], point, exc)
        self.mounted = root
        return root

    def _mount_etc_root(self) -> str:
        """Inspection needs a complete OS; a root holding /etc/os-release or /etc/fstab will do."""
        for device in self.filesystems():
            try:
                self.mount(device)
            except ImageError:
                continue
            if any(self.lstat(p) is not None for p in ("/etc/os-release", "/etc/fstab")):
                return device
            self.umount()
        raise NotFoundError("libguestfs finds no Linux root (no /etc/os-release or /etc/fstab) in "
                            "the image", path=self.image)

    def umount(self) -> None:
        """Unmount whatever is mounted."""
        if self.mounted is not None:
            self.g.umount_all()
            self.mounted = None

    # -- files (paths on the mounted file system) -----------------------------------------
    def find(self, path: str, *, any_kind: bool = False) -> str | None:
        """The real-case path of `path` (matched case-insensitively), or None: a regular file
        only, unless `any_kind` (then also a symlink, FIFO, device or folder, not followed)."""
        try:
            real = self.g.case_sensitive_path(path)
        except RuntimeError:
            return None
        if any_kind:
            return real if self.lstat(real) is not None else None
        return real if self.g.is_file(real) else None

    def lstat(self, path: str) -> dict | None:
        """lstat of `path` (never follows a symlink), or None when absent."""
        try:
            return self.g.lstatns(path)
        except RuntimeError:
            return None

    def read(self, path: str) -> bytes:
        """The whole file."""
        try:
            return self.g.read_file(path)
        except RuntimeError as exc:
            raise NotFoundError(f"cannot read through libguestfs: {exc}", path=path) from None

    def write(self, path: str, data: bytes) -> None:
        """Replace the file's content (in place: mode and owner stay), then sync."""
        try:
            self.g.write(path, data)
            self.g.sync()
        except RuntimeError as exc:
            raise WriteError(f"cannot write through libguestfs: {exc}", path=path) from None

    def symlink(self, target: str, path: str) -> None:
        """Create symlink `path` -> `target` (parents created)."""
        try:
            self.g.mkdir_p(os.path.dirname(path))
            self.g.ln_s(target, path)
            self.g.sync()
        except RuntimeError as exc:
            raise WriteError(
                f"cannot create symlink through libguestfs: {exc}", path=path
            ) from None

    def remove(self, path: str) -> None:
        """Remove a file or symlink (absent is fine)."""
        try:
            self.g.rm_f(path)
            self.g.sync()
        except RuntimeError as exc:
            raise WriteError(f"cannot remove through libguestfs: {exc}", path=path) from None

    def close(self) -> None:
        """Unmount, flush and shut the appliance down."""
        try:
            self.umount()
            self.g.shutdown()
        except RuntimeError as exc:
            raise WriteError(f"libguestfs failed to flush the image: {exc}",
                             path=self.image) from None
        finally:
            self.g.close()


class GuestfsDevice(BlockDevice):
    """A file system's device inside the appliance (/dev/sda2, an LVM volume), read-only: the
    bytes come through `pread_device`, so bcdtool's own file-system readers judge it exactly as
    they judge a partition of a disk image (hibernation, BitLocker, a dirty volume)."""

    #: Largest read per call (libguestfs' messages are limited to a few MiB).
    CHUNK = 1 << 20

    def __init__(self, disk: GuestfsDisk, device: str) -> None:
        try:
            size = disk.g.blockdev_getsize64(device)
        except RuntimeError as exc:
            raise ImageError(f"libguestfs cannot size {device}: {exc}", path=disk.image) from None
        super().__init__(size, name=f"{disk.image}:{device}")
        self.g, self.device = disk.g, device

    def _read(self, offset: int, length: int) -> bytes:
        parts = []
        for pos in range(offset, offset + length, self.CHUNK):
            n = min(self.CHUNK, offset + length - pos)
            try:
                parts.append(self.g.pread_device(self.device, n, pos))
            except RuntimeError as exc:
                raise ImageError(f"libguestfs cannot read {self.device}: {exc}",
                                 path=self.name, offset=pos) from None
        return b"".join(parts)


#: Our format names (blockdev.detect.sniff) as qemu spells them.
QEMU_FORMATS = {"raw": "raw", "qcow2": "qcow2", "vhd": "vpc", "vhdx": "vhdx", "vmdk": "vmdk",
                "vmdk-descriptor": "vmdk", "VirtualBox VDI": "vdi", "QED": "qed"}


def image_format(image: str) -> str:
    """The image's format for qemu, sniffed by magic like the native path: qemu's own probing is
    unsafe on untrusted images (libguestfs warns) and could read the disk differently from us."""
    container = open_container(image)
    try:
        kind = sniff(container)
    finally:
        container.close()
    if kind not in QEMU_FORMATS:
        raise UnsupportedError(f"libguestfs is not given {kind} images", path=image)
    return QEMU_FORMATS[kind]
