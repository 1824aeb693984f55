"""Opening the filesystem on a block device: FAT or NTFS, chosen by its magic.

FAT (every EFI system partition) is read here; NTFS through the reader registered as "ntfs" in
blockdev.openers (fs.ntfs, with pytsk3), so a command on a disk without NTFS never loads it.
"""

from __future__ import annotations

from bcdtool.blockdev.base import BlockDevice
from bcdtool.blockdev.openers import reader_for
from bcdtool.errors import FormatError, UnsafeVolumeError
from bcdtool.fs.fat import FatVolume
from bcdtool.fs.probe import probe


def open_volume(dev: BlockDevice):
    """A FatVolume or NtfsVolume for the filesystem on `dev`, chosen by its magic."""
    kind = probe(dev)
    if kind == "fat":
        return FatVolume(dev)
    if kind == "ntfs":
        return reader_for("ntfs", path=dev.name)(dev)
    if kind == "bitlocker":
        raise UnsafeVolumeError("the volume is BitLocker-encrypted; unlock it first (for example "
                                "with dislocker) and point bcdtool at the unlocked volume",
                                path=dev.name)
    raise FormatError(f"no FAT or NTFS filesystem found (probe: {kind or 'unknown'})",
                      path=dev.name)
