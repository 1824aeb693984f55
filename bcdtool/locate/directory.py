"""Stores and hives inside a directory (a mounted Windows volume, ESP, System Reserved or a
copy)."""

from __future__ import annotations

from pathlib import Path

from bcdtool.errors import NotFoundError
from bcdtool.fs.directory import DirectoryVolume

#: Where firmware finds the store, in the order we prefer them when a folder holds several:
#: a folder holding both is most likely a UEFI system's copy, whose firmware reads the ESP store.
BCD_PATHS = (
    ("EFI/Microsoft/Boot/BCD", "the UEFI system store (ESP)"),
    ("Boot/BCD", "the BIOS system store (System Reserved / active partition)"),
    ("BCD", "a store at the top of the folder"),
)


def find_store(root: Path, *, path: str | None = None) -> tuple[Path, str, str, DirectoryVolume]:
    """(real path, path inside `root`, why chosen, volume) of the store (or of `path`) in a folder.

    Lookups are case-insensitive and never follow a symlink out of the folder.
    """
    volume = DirectoryVolume(root)
    if path is not None:
        ref = volume.find(path)
        return volume.path_of(ref), ref.path, f"{path} (chosen with --path)", volume
    present = []
    for rel, why in BCD_PATHS:
        try:
            present.append((volume.find(rel), why))
        except NotFoundError:
            continue
    if not present:
        raise NotFoundError("no BCD store in the folder (looked for "
                            + ", ".join(rel for rel, _ in BCD_PATHS) + ")", path=str(root))
    (ref, why), others = present[0], present[1:]
    if others:
        why += "; also present: " + ", ".join(other.path for other, _ in others)
    return volume.path_of(ref), ref.path, why, volume
