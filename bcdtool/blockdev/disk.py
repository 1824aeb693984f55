"""A disk opened once with its partition table: the one place commands open a disk to look at
its partitions (BCD stores, Windows volumes, Linux roots, the disk sink's files)."""

from __future__ import annotations

import os

from bcdtool.blockdev.base import BlockDevice
from bcdtool.blockdev.detect import open_image
from bcdtool.blockdev.partitions import Partition, PartitionTable, read_partition_table


class Disk:
    """A disk image, block device or disk URL, its partition table, and the volumes on it.

    The caller closes it (or uses it as a context manager); `dev` stays open as long as it.
    """

    def __init__(self, dev: BlockDevice, table: PartitionTable) -> None:
        self.dev = dev
        self.table = table

    @classmethod
    def open(cls, spec: str | os.PathLike, *, writable: bool = False) -> Disk:
        """Open `spec` (read-only unless `writable`) and read its partition table."""
        dev = open_image(spec, writable=writable)
        try:
            return cls(dev, read_partition_table(dev))
        except BaseException:
            dev.close()
            raise

    @property
    def partitions(self) -> list[Partition]:
        """The partitions looked into (a hostile table may claim thousands)."""
        return self.table.looked_at

    def volume(self, index: int) -> tuple[int, BlockDevice]:
        """Where the volume the user chose with `--partition index` starts, and its bytes as a
        device: partition `index`, or the whole disk for 0 on a disk without a partition table
        (anything else is refused as PartitionTable.select says)."""
        part = self.table.select(index, path=self.dev.name)
        return (part.start, part.view(self.dev)) if part else (0, self.dev)

    def close(self) -> None:
        """Close the device."""
        self.dev.close()

    def __enter__(self) -> Disk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
