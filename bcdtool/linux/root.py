"""Open a `linux check`/`fix` TARGET: a mounted root directory, or a disk image / block device."""

from __future__ import annotations

import os

from bcdtool.backends.guestfs import load_module
from bcdtool.errors import GuestError, NotFoundError, UnsupportedError
from bcdtool.linux.guestfs import open_guest_guestfs
from bcdtool.linux.image import open_image_root
from bcdtool.linux.paths import GuestRoot, open_directory
from bcdtool.urls import is_url
from bcdtool.write.fileio import refuse_process_link


def open_guest(spec: str, *, backend: str = "auto", partition: int | None = None,
               writable: bool = False) -> GuestRoot:
    """A guest root for `spec` (directory → as is; image/device → ext read natively, or any
    root libguestfs finds with backend="guestfs", mounted writable when asked)."""
    if writable and not is_url(spec):
        refuse_process_link(spec)
    if backend == "guestfs":
        load_module()   # a missing binding is the first thing to tell the user
        if os.path.isdir(spec):
            raise UnsupportedError("--backend guestfs opens disk images and devices; a mounted "
                                   "root folder needs no backend", path=spec)
        if partition is not None:
            raise UnsupportedError("--backend guestfs finds the root by inspection; "
                                   "--partition does not apply", path=spec)
        return open_guest_guestfs(spec, writable=writable)
    if os.path.isdir(spec):
        root = open_directory(spec)
        if root.kind("/etc") != "dir":
            raise GuestError("this folder is not a Linux root (it has no etc folder); pass the "
                             "folder where the guest's root file system is mounted", path=spec)
        return root
    if not is_url(spec) and not os.path.exists(spec):
        raise NotFoundError("no such directory, image or device", path=spec)
    return open_image_root(spec, partition=partition)
