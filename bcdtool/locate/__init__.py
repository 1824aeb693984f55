"""Open a TARGET (hive file, directory, block device or disk image) and find the hive to work on."""

from __future__ import annotations

import os
from pathlib import Path

from bcdtool.backends import BACKENDS, HIVE_OPENERS
from bcdtool.errors import InvalidArgumentError
from bcdtool.locate import detect
from bcdtool.locate.directory import find_store
from bcdtool.locate.disk import open_on_disk
from bcdtool.locate.handle import HiveHandle
from bcdtool.locate.hivefile import open_file, open_in_folder
from bcdtool.urls import is_url
from bcdtool.write.fileio import refuse_process_link

__all__ = ["HiveHandle", "open_hive"]


def open_hive(spec: str | os.PathLike, *, partition: int | None = None, path: str | None = None,
              read_only: bool = False, kind: str = "bcd", backend: str = "native") -> HiveHandle:
    """Open the BCD store (kind="bcd") or the hive at `path` (kind="hive") on target `spec`
    (backend="guestfs": a disk image read and written through libguestfs, whose opener is
    registered in bcdtool.backends.HIVE_OPENERS).  Writing goes through locate.commit."""
    if kind not in ("bcd", "hive"):
        raise InvalidArgumentError(f"unknown hive kind {kind!r} (bcd or hive)")
    opener = _open_native if backend == "native" else HIVE_OPENERS.get(backend)
    if opener is None and backend in BACKENDS:
        raise InvalidArgumentError(f"backend {backend!r} is not registered (the bcdtool command "
                                   "registers it; a program using the library adds it to "
                                   "bcdtool.backends.HIVE_OPENERS)")
    if opener is None:
        raise InvalidArgumentError(f"unknown backend {backend!r} ({' or '.join(BACKENDS)})")
    if not read_only and not is_url(spec):
        refuse_process_link(spec)       # `/dev/stdin < FILE` was handed over to be read
    return opener(str(spec), partition=partition, path=path, read_only=read_only, kind=kind)


def _open_native(spec: str, *, partition, path, read_only, kind) -> HiveHandle:
    """Hive files, folders, disk images and block devices, read by bcdtool itself."""
    what = detect.detect_kind(spec)
    if what == detect.HIVE:
        if partition is not None or path is not None:
            raise InvalidArgumentError("--partition and --path apply to disks and folders, "
                                       "not to a hive file", path=str(spec))
        store = open_file(str(spec), read_only=read_only)
        return _handle(store, description=f"hive file {spec}",
                       location={"target": str(spec), "kind": "file", "path": store.path})
    if what == detect.DIRECTORY:
        return _open_in_directory(Path(spec), partition=partition, path=path, read_only=read_only,
                                  kind=kind)
    return open_on_disk(str(spec), device=what == detect.DEVICE, partition=partition, path=path,
                        read_only=read_only, kind=kind)


def _handle(store, *, description: str, location: dict) -> HiveHandle:
    try:
        return HiveHandle(store, description=description, location=location)
    except BaseException:
        store.close()
        raise


def _open_in_directory(root: Path, *, partition, path, read_only, kind) -> HiveHandle:
    if partition is not None:
        raise InvalidArgumentError("--partition applies to disks, not to a folder", path=str(root))
    if kind == "hive" and path is None:
        raise InvalidArgumentError(
            "say which hive with --path (e.g. Windows/System32/config/SYSTEM)", path=str(root)
        )
    found, inside, why, volume = find_store(root, path=path)
    store = open_in_folder(str(root), str(found), kind=kind, read_only=read_only,
                           facts=volume.facts)
    return _handle(store, description=f"{inside} in folder {root}: {why}",
                   location={"target": str(root), "kind": "directory", "path": inside,
                             "reason": why})
