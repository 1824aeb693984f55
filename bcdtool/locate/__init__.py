"""Open a TARGET (hive file, directory, block device or disk image) and find the hive to work on."""

from __future__ import annotations

import os
from pathlib import Path

from bcdtool.errors import InvalidArgumentError
from bcdtool.locate import detect
from bcdtool.locate.handle import HiveHandle, WriteResult

__all__ = ["HiveHandle", "WriteResult", "open_hive"]


def open_hive(spec: str | os.PathLike, *, partition: int | None = None, path: str | None = None,
              read_only: bool = False, kind: str = "bcd", backend: str = "native") -> HiveHandle:
    """Open the BCD store (kind="bcd") or the hive at `path` (kind="hive") on target `spec`
    (backend="guestfs": a disk image read and written through libguestfs)."""
    if kind not in ("bcd", "hive"):
        raise InvalidArgumentError(f"unknown hive kind {kind!r} (bcd or hive)")
    if backend == "guestfs":
        from bcdtool.backends.guestfs_hive import open_hive_guestfs

        return open_hive_guestfs(str(spec), partition=partition, path=path, read_only=read_only,
                                 kind=kind)
    if backend != "native":
        raise InvalidArgumentError(f"unknown backend {backend!r} (native or guestfs)")
    what = detect.detect_kind(spec)
    if what == detect.HIVE:
        if partition is not None or path is not None:
            raise InvalidArgumentError("--partition and --path apply to disks and folders, "
                                       "not to a hive file", path=str(spec))
        from bcdtool.locate.hivefile import HiveFile

        # Write the real file: replacing a symlink by a new file would leave the store unchanged.
        real = os.path.realpath(spec)
        return HiveHandle(HiveFile(real, read_only=read_only), description=f"hive file {spec}",
                          location={"target": str(spec), "kind": "file", "path": real})
    if what == detect.DIRECTORY:
        return _open_in_directory(Path(spec), partition=partition, path=path, read_only=read_only,
                                  kind=kind)
    from bcdtool.locate.disk import open_on_disk

    return open_on_disk(str(spec), device=what == detect.DEVICE, partition=partition, path=path,
                        read_only=read_only, kind=kind)


def _open_in_directory(root: Path, *, partition, path, read_only, kind) -> HiveHandle:
    from bcdtool.locate.directory import find_store
    from bcdtool.locate.hivefile import HiveFile

    if partition is not None:
        raise InvalidArgumentError("--partition applies to disks, not to a folder", path=str(root))
    if kind == "hive" and path is None:
        raise InvalidArgumentError("say which hive with --path (e.g. Windows/System32/config/SYSTEM)",
                                   path=str(root))
    found, inside, why, volume = find_store(root, path=path)
    return HiveHandle(HiveFile(found, read_only=read_only, facts=volume.facts),
                      description=f"{inside} in folder {root}: {why}",
                      location={"target": str(root), "kind": "directory", "path": inside,
                                "reason": why})
