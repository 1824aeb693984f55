"""Recipes layer: the disk a BCD store lives on, as the boot manager sees it — its identity, the
partition each device element names, and whether the files it will load are there.

Shared by `doctor`, `repair boot`, `new-store --disk` and the bcdedit `partition=` forms, so the
partition table is read in one place.  Everything is read-only: the partition table, and FAT or
NTFS directory lookups on the partitions asked about (each volume opened once, on first use).
"""

from __future__ import annotations

import os
import re

from bcdtool.bcd.device import DiskLayout, PartitionDevice, harddisk_volume_text
from bcdtool.blockdev.disk import Disk
from bcdtool.blockdev.partitions import Partition, PartitionTable
from bcdtool.errors import BcdToolError, InvalidArgumentError, UnsupportedError
from bcdtool.fs.probe import probe
from bcdtool.fs.volume import open_volume
from bcdtool.windows.hives import open_windows_hive
from bcdtool.windows.volumes import MountedVolume, drive_letters

#: What makes a folder a Windows installation's systemroot: the registry hive the kernel loads.
SYSTEM_HIVE = r"System32\config\SYSTEM"


def disk_layout(table: PartitionTable, label: str = "this disk") -> DiskLayout | None:
    """The identity Windows names this disk's partitions by, or None without MBR/GPT."""
    parts = tuple((p.index, p.start, "{" + p.guid.lower() + "}" if p.guid else "")
                  for p in table.looked_at)
    if table.scheme == "gpt" and table.disk_guid:
        return DiskLayout("gpt", disk_guid="{" + table.disk_guid.lower() + "}",
                          partitions=parts, label=label)
    if table.scheme == "mbr" and table.disk_signature is not None:
        return DiskLayout("mbr", disk_signature=table.disk_signature, partitions=parts,
                          label=label)
    return None


def windows_path(path: str) -> str:
    """A Windows path (`\\Windows\\system32`) as the fs layer takes it (`Windows/system32`)."""
    return "/".join(p for p in path.replace("\\", "/").split("/") if p)


#: Partition numbers of the other disks (`--other-disk`): partition N of the k-th other disk is
#: k * OTHER + N, so that a number alone says which disk it is on (no table has 1000 entries
#: looked at: PartitionTable caps them well below).
OTHER = 1000


class BootDisk:
    """A disk image or block device opened read-only, with its partition table and volumes;
    with `others`, the other disks of the same machine (`--other-disk`), whose partitions are
    numbered from `OTHER` on and searched too (read-only: only the store's disk is written)."""

    def __init__(self, spec: str, others: tuple[str, ...] | list[str] = ()) -> None:
        self.spec = spec
        disk = Disk.open(spec)
        self.dev, self.table = disk.dev, disk.table
        self.layout = disk_layout(self.table)
        self._volumes: dict[int, object | None] = {}
        self.notes: list[str] = list(self.table.notices)
        self.others: list[BootDisk] = []
        try:
            for number, other in enumerate(others, 1):
                self.others.append(BootDisk(other))
                self._check_other(self.others[-1], number)
        except BaseException:
            self.close()
            raise

    def _check_other(self, other: BootDisk, number: int) -> None:
        """An other disk must be a disk of its own: a second copy of one (the same image twice,
        a clone) would make every partition of it ambiguous, as it does for Windows."""
        same = [d.spec for d in [self, *self.others[:number - 1]]
                if d.layout is not None and other.layout is not None
                and d.layout.identity() == other.layout.identity()]
        if other.layout is None:
            raise UnsupportedError(f"--other-disk {other.spec} has no MBR or GPT partition "
                                   "table: Windows names no partition on it", path=other.spec)
        if same:
            raise InvalidArgumentError(f"--other-disk {other.spec} has the identity of {same[0]} "
                                       f"({other.layout.identity()}): a copy of one disk; give "
                                       "each disk of the machine once (a clone needs a new "
                                       "disk identity before both can be attached)",
                                       path=other.spec)
        other.layout = other.layout._replace(label=other.spec)

    def _at(self, index: int) -> tuple[BootDisk, int]:
        """(the disk, its own partition number) of partition number `index`."""
        if index < OTHER:
            return self, index
        return self.others[index // OTHER - 1], index % OTHER

    @property
    def partitions(self) -> list[Partition]:
        """The partitions looked at (a hostile table may claim thousands)."""
        return self.table.looked_at

    def partition(self, index: int) -> Partition | None:
        """Partition `index`, else None."""
        disk, own = self._at(index)
        return disk.table.partition(own)

    def device(self, index: int) -> PartitionDevice:
        """The BCD partition device naming partition `index` of this disk."""
        disk, own = self._at(index)
        if disk.layout is None:
            raise BcdToolError("the disk has no MBR or GPT partition table", path=disk.spec)
        return disk.layout.device(own)

    def find(self, device: PartitionDevice) -> int | None:
        """The partition of this disk (or of an other disk) that `device` names, else None."""
        own = self.layout.find(device) if self.layout else None
        if own is not None:
            return own
        for number, other in enumerate(self.others, 1):
            own = other.find(device)
            if own is not None:
                return number * OTHER + own
        return None

    def indices(self) -> list[int]:
        """The partition numbers of this disk, then those of the other disks."""
        return [p.index for p in self.partitions] + [
            number * OTHER + p.index for number, other in enumerate(self.others, 1)
            for p in other.partitions]

    def filesystem(self, index: int) -> str | None:
        """The filesystem probed on partition `index` ("fat", "ntfs", "bitlocker", ...)."""
        disk, own = self._at(index)
        part = disk.table.partition(own)
        return probe(part.view(disk.dev)) if part is not None else None

    def volume(self, index: int):
        """The FAT or NTFS volume of partition `index` (None: none, encrypted or unreadable)."""
        if index >= OTHER:
            disk, own = self._at(index)
            return disk.volume(own)
        if index not in self._volumes:
            part = self.partition(index)
            self._volumes[index] = None
            if part is not None:
                try:
                    if self.filesystem(index) in ("fat", "ntfs"):
                        self._volumes[index] = open_volume(part.view(self.dev))
                except BcdToolError as exc:
                    self.notes.append(f"partition {index}: unreadable volume ({exc})")
        return self._volumes[index]

    def readable(self, index: int) -> bool:
        """True when bcdtool can look inside partition `index` (a FAT or NTFS volume)."""
        return self.volume(index) is not None

    def unreadable(self) -> list[str]:
        """The partitions bcdtool cannot look inside, described (BitLocker, other filesystems)."""
        return [self.describe(i) for i in self.indices() if not self.readable(i)]

    def has_file(self, index: int, path: str) -> bool:
        """True when partition `index` holds the file `path` (Windows or POSIX separators,
        any case)."""
        volume = self.volume(index)
        if volume is None or not windows_path(path):
            return False
        try:
            volume.find(windows_path(path))
        except BcdToolError:        # absent or unreadable: either way the boot code fails
            return False
        return True

    def has_systemroot(self, index: int, systemroot: str) -> bool:
        """True when `systemroot` on partition `index` is a Windows installation (it holds the
        SYSTEM hive the kernel loads; folders alone cannot be looked up on every filesystem)."""
        return self.has_file(index, systemroot.rstrip("\\/") + "\\" + SYSTEM_HIVE)

    def holding(self, path: str, *, systemroot: bool = False) -> list[int]:
        """Every partition holding `path` (a file, or with `systemroot` a Windows folder)."""
        test = self.has_systemroot if systemroot else self.has_file
        return [i for i in self.indices() if test(i, path)]

    def describe(self, index: int) -> str:
        """`partition 2 (ntfs "Windows", 24 MiB at 35 MiB)` — how a user recognises it (on an
        other disk: `partition 2 of IMG2 (...)`)."""
        if index >= OTHER:
            disk, own = self._at(index)
            return disk.describe(own).replace(f"partition {own} ", f"partition {own} of "
                                              f"{disk.spec} ", 1)
        part = self.partition(index)
        if part is None:
            return f"partition {index}"
        volume = self.volume(index)
        fs = self.filesystem(index) or "unknown filesystem"
        label = ""
        if volume is not None:
            try:
                label = volume.facts().label or ""
            except BcdToolError:
                label = ""
        name = f' "{label}"' if label else (f' "{part.name}"' if part.name else "")
        return (f"partition {index} ({fs}{name}, {part.length // (1 << 20)} MiB at "
                f"{part.start // (1 << 20)} MiB)")

    def close(self) -> None:
        """Release the device (and the other disks')."""
        for other in self.others:
            other.close()
        self.dev.close()

    def __enter__(self) -> BootDisk:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: Partitions that are no volume, so Windows gives them no \\Device\\HarddiskVolumeN: the GPT
#: Microsoft Reserved partition and MBR extended-partition containers.
_NOT_VOLUMES = frozenset({"e3c9e316-0b5c-4db8-817d-f92df00215ae", "0x05", "0x0f", "0x85"})
_HARDDISK_VOLUME = re.compile(r"\\device\\harddiskvolume(\d+)\\?", re.IGNORECASE)


def harddisk_volume_refusal(disk: BootDisk | None, word: str) -> str:
    """Why `\\Device\\HarddiskVolumeN` cannot be used offline, and the partition=#N it most
    likely is: on a machine whose only disk was this one, the N-th partition that is a volume
    (Windows counts them in partition-table order, MSR and extended containers left out) [L]."""
    text = harddisk_volume_text(word, on_disk=True)
    match = _HARDDISK_VOLUME.search(word)
    if disk is None or match is None:
        return text
    volumes = [p.index for p in disk.partitions if p.type.lower() not in _NOT_VOLUMES]
    number = int(match.group(1))
    if 1 <= number <= len(volumes):
        index = volumes[number - 1]
        text += (f"; if this disk was that Windows' only disk, it is {disk.describe(index)}: "
                 f"partition=#{index}")
    return text


def _loop_backing_file(loop: str) -> str | None:
    """The file loop device `loop` (e.g. "loop0") is attached to, from sysfs; None if none."""
    try:
        with open(f"/sys/block/{loop}/loop/backing_file", encoding="utf-8") as handle:
            return os.path.realpath(handle.read().strip())
    except OSError:
        return None


class PartitionNames:
    """bcdedit's partition forms for one target disk, as a `PartitionResolver`: `#N` (the
    disk's own partition numbering, as `enum` and `doctor` show it), the Linux node of a
    partition of the target block device (`/dev/sdc2` when the target is `/dev/sdc`), and a drive
    letter as the Windows on this disk assigned it (its SYSTEM hive's `MountedDevices`).  Each
    resolution leaves a notice saying which partition was meant."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.notices: list[str] = []
        self._letters: dict[str, MountedVolume] | None = None

    def __call__(self, text: str) -> PartitionDevice:
        word = text.strip()
        with BootDisk(self.spec) as disk:
            if disk.layout is None:
                raise UnsupportedError(f"partition={word}: the target has no MBR or GPT "
                                       "partition table", path=self.spec)
            index, how = self._index(disk, word)
            device = disk.device(index)
            self.notices.append(f"partition={word} is {disk.describe(index)}{how}")
        return device

    def _index(self, disk: BootDisk, word: str) -> tuple[int, str]:
        if re.fullmatch(r"#\d+", word):
            return int(word[1:]), ""
        if word.startswith("/dev/"):
            return self._node(word), ""
        if re.fullmatch(r"[A-Za-z]:\\?", word):
            return self._letter(disk, word[0].upper())
        if word.lower().startswith("\\device\\"):
            raise UnsupportedError(harddisk_volume_refusal(disk, word))
        raise InvalidArgumentError(f"partition={word} is not a partition: use #N, /dev/sdXN, "
                                   "a drive letter (C:), mbr:SIGNATURE:OFFSET or "
                                   "gpt:{disk}:{partition}")

    def _node(self, word: str) -> int:
        """The number of partition node `word` of the target block device — or, for an image
        file, of the loop device the image is attached to (`losetup -P`)."""
        target = os.path.realpath(self.spec)
        name = os.path.basename(os.path.realpath(word))
        match = re.fullmatch(r"(loop\d+)p(\d+)", name)
        if not target.startswith("/dev/"):
            if match and _loop_backing_file(match.group(1)) == target:
                return int(match.group(2))
            raise InvalidArgumentError(f"partition={word}: the target {self.spec} is an image "
                                       "file (not attached to that loop device); name its "
                                       "partition as partition=#N")
        base = os.path.basename(target)
        rest = name[len(base):] if name.startswith(base) else ""
        if base[-1:].isdigit():
            rest = rest[1:] if rest.startswith("p") else ""    # nvme0n1p2, loop0p2, mmcblk0p2
        if not rest.isdigit():
            raise InvalidArgumentError(f"partition={word} is not a partition of the target "
                                       f"/dev/{base}", path=self.spec)
        return int(rest)

    def _letter(self, disk: BootDisk, letter: str) -> tuple[int, str]:
        """The partition Windows calls `letter`:, through MountedDevices on this same disk."""
        letters = self._drive_letters()
        mounted = letters.get(letter)
        known = ", ".join(f"{k}:" for k in sorted(letters)) or "none"
        if mounted is None:
            raise InvalidArgumentError(
                f"partition={letter}: the Windows on this disk has no drive {letter}: (its "
                f"MountedDevices names {known}); name the partition as partition=#N",
                path=self.spec)
        layout = disk.layout
        for part in disk.partitions:
            if mounted.style == "mbr" and layout.style == "mbr" and \
                    mounted.disk_signature == layout.disk_signature and \
                    mounted.offset == part.start:
                break
            if mounted.style == "gpt" and part.guid and \
                    mounted.partition_guid == part.guid.lower():
                break
        else:
            where = f"MBR disk {mounted.disk_signature:08x} at offset {mounted.offset:#x}" \
                if mounted.style == "mbr" else f"GPT partition {{{mounted.partition_guid}}}" \
                if mounted.style == "gpt" else "a volume that is not a disk partition"
            raise InvalidArgumentError(
                f"partition={letter}: drive {letter}: of the Windows on this disk is {where}, "
                f"which is not a partition of this disk ({layout.identity()}); name the "
                "partition as partition=#N", path=self.spec)
        return part.index, f" (drive {letter}: in the MountedDevices of this disk's Windows)"

    def _drive_letters(self) -> dict[str, MountedVolume]:
        if self._letters is None:
            try:
                with open_windows_hive(self.spec, "SYSTEM") as handle:
                    self._letters = drive_letters(handle.hive)
            except BcdToolError as exc:
                raise InvalidArgumentError(
                    f"drive letters are read from the SYSTEM hive of the Windows on the disk, "
                    f"and it could not be read ({exc}); name the partition as partition=#N",
                    path=self.spec) from None
        return self._letters
