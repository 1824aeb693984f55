"""Filesystem-layer common ground: a located file (FileRef), volume safety facts, extent helpers.

A FileRef's extents are (byte offset on the volume's device, length) ranges that hold the file's
data in order; writing the same number of bytes there changes the file and nothing else.
"""

from __future__ import annotations

import io
from typing import NamedTuple

from bcdtool.blockdev.base import BlockDevice
from bcdtool.errors import (CorruptionError, LimitError, ReadOnlyError, UnsafeVolumeError,
                            UnsupportedError)
from bcdtool.fs import policy
from bcdtool.limits import MAX_HIVE_BYTES

Extent = tuple[int, int]
#: First bytes of an active hiberfil.sys (Windows XP..11, incl. Fast Startup).
HIBERNATION_SIGNATURES = (b"hibr", b"HIBR", b"wake", b"WAKE")


class FileRef(NamedTuple):
    """A file found on a volume: its path as stored, size, and data extents on the device.

    `refusal` says why the file cannot be rewritten in place (compressed, resident, ...);
    `content` holds the data of a file whose bytes are not plainly at extents (NTFS resident or
    compressed), as the filesystem library read it.
    """

    path: str
    size: int
    extents: tuple[Extent, ...] = ()
    refusal: str | None = None
    content: bytes | None = None
    #: NTFS: the file's base MFT record number (which records are the file's own).
    record: int | None = None

    def locate(self, offset: int, length: int) -> list[Extent]:
        """Device ranges holding file bytes [offset, offset+length)."""
        if offset < 0 or length < 0 or offset + length > self.size:
            raise CorruptionError(f"range of {length} bytes at {offset} is outside the "
                                  f"{self.size}-byte file", path=self.path)
        out: list[Extent] = []
        pos = 0
        for dev_off, ext_len in self.extents:
            lo, hi = max(offset, pos), min(offset + length, pos + ext_len)
            if lo < hi:
                out.append((dev_off + lo - pos, hi - lo))
            pos += ext_len
            if pos >= offset + length:
                break
        if sum(n for _, n in out) != length:
            raise UnsupportedError(f"the file's extents do not cover bytes {offset}.."
                                   f"{offset + length}" + (f": {self.refusal}" if self.refusal
                                                           else ""), path=self.path)
        return out


class VolumeFacts(NamedTuple):
    """What a volume says about its state; None means "could not tell"."""

    fs: str
    label: str | None = None
    bitlocker: bool = False
    hibernated: bool | None = False
    dirty: bool | None = False
    #: NTFS: whether $LogFile was closed cleanly (informational: file data is not journaled).
    log_clean: bool | None = None
    notes: tuple[str, ...] = ()

    def unsafe_reasons(self, *, strict: bool | None = None) -> list[str]:
        """Why writing to this volume would be unsafe (empty when it is fine), each with what a
        user on a Linux rescue machine can do next.

        Unless `strict` (default: the command's `--strict`, fs.policy), a dirty FAT volume is
        not a reason (see `dirty_note`): the disk sink writes only into a file's own clusters,
        after proving them its own (check_extents_exclusive).
        """
        strict = policy.strict() if strict is None else strict
        reasons = []
        if self.bitlocker:
            reasons.append("the volume is BitLocker-encrypted; unlock it with dislocker and "
                           "point bcdtool at the unlocked volume")
        if self.hibernated:
            reasons.append("Windows is hibernated on this volume (hiberfil.sys is active); "
                           "boot Windows and shut it down fully, or disable Fast Startup (from "
                           "Linux, mounting with ntfs-3g -o remove_hiberfile discards the "
                           "hibernated session)")
        if self.dirty and (strict or not self.fs.startswith("fat")):
            reasons.append("the volume is marked dirty (not cleanly unmounted); " + (
                "check it with `fsck.fat -n` and repair it with `fsck.fat -a` (or chkdsk from "
                "Windows)" if self.fs.startswith("fat") else
                "check it with `ntfsfix -n`; `ntfsfix -d` repairs what it can and clears the "
                "flag (chkdsk from Windows is more thorough)"))
        return reasons

    def dirty_note(self) -> str | None:
        """The note of a write into a dirty FAT volume that `unsafe_reasons(strict=False)` let
        through (None when there is nothing to say)."""
        if not (self.dirty and self.fs.startswith("fat")):
            return None
        return ("the FAT volume is marked dirty (not cleanly unmounted); the store was written "
                "only into its own clusters, which passed the cross-link and FAT-copy checks; "
                "run `fsck.fat -a` on the partition (or chkdsk from Windows) to clear the flag; "
                "--strict refuses dirty volumes")


def check_declared_size(path: str, size: int, volume_size: int, max_size: int | None,
                        check_tool: str) -> None:
    """Refuse a file whose declared size is more than its volume holds or more than `max_size`
    (default: bcdtool.limits.MAX_HIVE_BYTES), before anything of that size is mapped or read.

    `check_tool` is the read-only check a Linux rescue user can run (`fsck.fat -n`, ...).
    """
    cap = MAX_HIVE_BYTES if max_size is None else max_size
    if size < 0:                # TSK reports sizes signed: a hostile record makes them negative
        raise CorruptionError(f"the file declares a negative size ({size}); the filesystem is "
                              f"damaged or hostile; inspect it with `{check_tool}`", path=path)
    if size > volume_size:
        raise CorruptionError(f"the file declares {size} bytes, more than its whole volume "
                              f"({volume_size} bytes): the filesystem is damaged or hostile; "
                              f"inspect it with `{check_tool}`", path=path)
    if size > cap:
        raise LimitError(f"the file declares {size} bytes, over bcdtool's cap of {cap} for it "
                         "(a BCD store or its log: 64 MiB, any other hive or log: 1 GiB); "
                         f"nothing was read; inspect the volume with `{check_tool}`", path=path)


def first_overlap(extents, start: int, length: int) -> int | None:
    """The first byte of `extents` inside [start, start+length), or None if none is."""
    for off, n in extents:
        lo, hi = max(off, start), min(off + n, start + length)
        if lo < hi:
            return lo
    return None


def merge_extents(extents) -> tuple[Extent, ...]:
    """Join adjacent (offset, length) ranges that follow each other on the device."""
    out: list[list[int]] = []
    for off, length in extents:
        if length <= 0:
            continue
        if out and out[-1][0] + out[-1][1] == off:
            out[-1][1] += length
        else:
            out.append([off, length])
    return tuple((o, n) for o, n in out)


def read_extents(dev: BlockDevice, ref: FileRef, offset: int = 0,
                 length: int | None = None) -> bytes:
    """The file's bytes, read through its extents (or the copy held in `content`); with
    `length`, only bytes [offset, offset+length) of it (clipped at the file's end)."""
    if length is not None:
        length = max(0, min(length, ref.size - offset))
        if ref.content is not None:
            return ref.content[offset:offset + length]
        return b"".join(dev.read_at(off, n) for off, n in ref.locate(offset, length))
    if ref.content is not None:
        return ref.content
    data = b"".join(dev.read_at(off, length) for off, length in ref.extents)
    if len(data) != ref.size:
        raise CorruptionError(f"extents hold {len(data)} bytes, the file has {ref.size}",
                              path=ref.path)
    return data


def write_extents(dev: BlockDevice, ref: FileRef, offset: int, data: bytes) -> list[Extent]:
    """Write `data` at file offset `offset` through the extents; returns the device ranges written.

    The caller has checked `require_writable`; the file's size never changes here.
    """
    pos = 0
    written = []
    for dev_off, length in ref.locate(offset, len(data)):
        dev.write_at(dev_off, data[pos:pos + length])
        written.append((dev_off, length))
        pos += length
    return written


def require_writable(dev: BlockDevice, facts: VolumeFacts, ref: FileRef) -> None:
    """Raise the error that forbids rewriting `ref` in place, if any."""
    # Strict: this check alone does not prove the file's clusters its own, which is what lets
    # the disk sink write into a dirty FAT volume.
    reasons = facts.unsafe_reasons(strict=True)
    if reasons:
        raise UnsafeVolumeError("refusing to write: " + "; ".join(reasons), path=ref.path)
    if ref.refusal:
        raise UnsupportedError(f"cannot rewrite this file in place: {ref.refusal}", path=ref.path)
    if not dev.writable():
        raise ReadOnlyError("the volume is opened read-only", path=ref.path)


def split_path(path: str) -> list[str]:
    """Path components of a Windows or POSIX style path, without empty parts."""
    return [p for p in path.replace("\\", "/").split("/") if p and p != "."]


class ReadOnlyStream(io.RawIOBase):
    """A read-only, non-closing stream over a device, for libraries that take a file object.

    pyfatfs marks a FAT volume dirty the moment its file object is writable, and closes the file
    object when it is garbage-collected; this view prevents both.
    """

    def __init__(self, dev: BlockDevice) -> None:
        super().__init__()
        self._dev = dev
        self._pos = 0

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._dev.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer) -> int:
        length = max(0, min(len(buffer), self._dev.size - self._pos))
        if length == 0:
            return 0
        buffer[:length] = self._dev.read_at(self._pos, length)
        self._pos += length
        return length
