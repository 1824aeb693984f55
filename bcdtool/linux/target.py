"""Open a `linux check`/`fix` TARGET: a mounted root directory, or a disk image / block device."""

from __future__ import annotations

import os

from bcdtool.errors import GuestError, NotFoundError, UnsupportedError
from bcdtool.linux.paths import GuestRoot, open_directory


def open_guest(spec: str, *, backend: str = "auto", partition: int | None = None) -> GuestRoot:
    """A guest root for `spec` (directory → as is; image/device → ext read natively)."""
    if backend == "guestfs":
        try:
            import guestfs  # noqa: F401  (optional; only imported when asked for)
        except ImportError:
            raise UnsupportedError("the guestfs backend needs libguestfs' Python binding: "
                                   "apt-get install python3-guestfs (it is not on PyPI)") from None
        raise UnsupportedError("the guestfs backend is not implemented yet; mount the root "
                               "file system and pass the directory")
    if os.path.isdir(spec):
        root = open_directory(spec)
        if root.kind("/etc") != "dir":
            raise GuestError("this folder is not a Linux root (it has no etc folder); pass the "
                             "folder where the guest's root file system is mounted", path=spec)
        return root
    if not os.path.exists(spec):
        raise NotFoundError("no such directory, image or device", path=spec)
    from bcdtool.linux.image import open_image_root
    return open_image_root(spec, partition=partition)
