"""Find the BCD store (or a named hive) on a disk: partitions, filesystems, and firmware's
choice."""

from __future__ import annotations

from bcdtool.blockdev.base import BlockDevice
from bcdtool.blockdev.partitions import Partition, read_partition_table
from bcdtool.errors import (CorruptionError, FormatError, InvalidArgumentError, NotFoundError,
                            UnsafeVolumeError)
from bcdtool.fs.probe import probe
from bcdtool.fs.volume import open_volume
from bcdtool.limits import MAX_BCD_BYTES, MAX_HIVE_BYTES
from bcdtool.regf.logs import LOG_SUFFIXES

UEFI_STORE = "EFI/Microsoft/Boot/BCD"
BIOS_STORE = "Boot/BCD"


class Located:
    """A hive file found on a disk: where, how to reach its bytes, and why it was chosen.

    A plain class: a dataclass costs every command's start-up about half a millisecond to create.
    """

    def __init__(self, partition: Partition | None, scheme: str | None, fs: str, volume: object,
                 ref: object, volume_size: int = 0, *, reason: str = "",
                 notices: list[str] | None = None) -> None:
        self.partition = partition  # None: the device holds one filesystem, no partition table
        self.scheme = scheme        # "gpt", "mbr" or None
        self.fs = fs                # "fat" or "ntfs"
        self.volume = volume        # the bcdtool.fs volume the file was found on
        self.ref = ref              # its FileRef (path, size, extents relative to the volume)
        self.volume_size = volume_size
        self.logs: list = []        # FileRefs of NAME.LOG, .LOG1, .LOG2 present
        self.reason = reason
        self.notices: list[str] = notices if notices is not None else []

    @property
    def start(self) -> int:
        """Byte offset of the volume on the disk."""
        return self.partition.start if self.partition else 0

    @property
    def index(self) -> int:
        """1-based partition number, 0 for a disk without a partition table."""
        return self.partition.index if self.partition else 0


def locate(dev: BlockDevice, *, partition: int | None = None, path: str | None = None,
           kind: str = "bcd") -> Located:
    """The store firmware would use (kind="bcd") or the hive at `path` (kind="hive") on `dev`."""
    table = read_partition_table(dev)
    if partition is not None:
        order = [(table.select(partition, path=dev.name), "chosen with --partition")]
    else:
        order = _firmware_order(table.looked_at, table.scheme)
    if kind == "hive" and path is None:
        raise InvalidArgumentError(
            "say which hive with --path (e.g. Windows/System32/config/SYSTEM)", path=dev.name
        )
    wanted = [(path, "chosen with --path")] if path is not None else \
        [(UEFI_STORE, "UEFI system store"), (BIOS_STORE, "BIOS system store")]
    # A store, a hive and each of their logs is refused above its cap before it is mapped.
    cap = MAX_BCD_BYTES if kind == "bcd" else MAX_HIVE_BYTES
    skipped: list[str] = []
    for part, why_part in order:
        view = part.view(dev) if part else dev
        fs, volume, note = _open_volume(view, part)
        if note:
            skipped.append(note)
        if volume is None:
            continue
        for rel, why_path in wanted:
            try:
                ref = volume.find(rel, max_size=cap)
            except NotFoundError:
                continue
            where = f"partition {part.index}" if part else "the whole device"
            reason = f"{why_path} on {where} ({fs}): {why_part}"
            located = Located(part, table.scheme, fs, volume, ref, view.size, reason=reason,
                              notices=list(table.notices) + skipped)
            located.logs = [log for suffix in LOG_SUFFIXES
                            if (log := _find_optional(volume, ref.path + suffix, cap)) is not None]
            return located
    looked = ", ".join(rel for rel, _ in wanted)
    detail = f"; {'; '.join(skipped)}" if skipped else ""
    if any("BitLocker" in s for s in skipped) and partition is not None:
        raise UnsafeVolumeError(f"partition {partition} is BitLocker-encrypted; bcdtool cannot "
                                "read or write it", path=dev.name)
    raise NotFoundError(f"no {looked} found on {len(order)} volume(s){detail}", path=dev.name)


def _firmware_order(
    parts: list[Partition], scheme: str | None
) -> list[tuple[Partition | None, str]]:
    """Partitions in the order firmware would look for a store, each with the reason."""
    if not parts:
        return [(None, "the device holds a filesystem and no partition table")]
    if scheme == "gpt":
        first = [(p, "GPT disk: UEFI firmware boots from the EFI system partition")
                 for p in parts if p.is_esp]
    else:
        first = [(p, "MBR disk: BIOS boots the active partition") for p in parts if p.active]
        first += [(p, "MBR disk without an active store: EFI system partition")
                  for p in parts if p.is_esp and not p.active]
    seen = {p.index for p, _ in first}
    rest = [(p, "no store on the partition firmware boots from; first other partition holding one")
            for p in parts if p.index not in seen]
    return first + rest


def _open_volume(
    view: BlockDevice, part: Partition | None
) -> tuple[str | None, object | None, str]:
    """(filesystem, volume, note about why it was skipped) for one partition."""
    where = f"partition {part.index}" if part else "device"
    fs = probe(view)
    if fs == "bitlocker":
        return fs, None, f"{where} is BitLocker-encrypted (skipped)"
    if fs in ("fat", "ntfs"):
        try:
            return fs, open_volume(view), ""
        except (FormatError, CorruptionError) as exc:
            return fs, None, f"{where}: unreadable {fs} volume ({exc.message})"
    return fs, None, ""


def _find_optional(volume, rel: str, cap: int):
    try:
        return volume.find(rel, max_size=cap)
    except NotFoundError:
        return None
