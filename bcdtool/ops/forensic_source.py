"""Recipes layer: read a store and its transaction logs for `forensic`, strictly read-only.

Every target kind is read through an open without write access: hive files and folders through
`DirectoryVolume.read` (O_RDONLY|O_NOFOLLOW), disk images and block devices through
`open_image(writable=False)`.  Unlike `open_hive`, the logs are always read (they are evidence
even beside a clean primary), an interrupted bcdtool write is reported rather than refused, and
every byte range read is recorded with its sha256 so two examiners can compare their inputs.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from bcdtool.blockdev.base import BlockDevice
from bcdtool.blockdev.detect import open_image
from bcdtool.errors import InvalidArgumentError, LimitError, NotFoundError, UnsupportedError
from bcdtool.fs.directory import DirectoryVolume
from bcdtool.fs.base import read_extents
from bcdtool.limits import MAX_BCD_BYTES, MAX_BCD_HIVE_BYTES
from bcdtool.locate import detect
from bcdtool.locate.directory import find_store
from bcdtool.locate.discover import locate
from bcdtool.regf.hive import stored_length
from bcdtool.regf.logs import LOG_SUFFIXES, LogData, LogSource, used_length
from bcdtool.urls import redact


@dataclass(frozen=True)
class FileRead:
    """One file read from the target: its role, where it lies and the digest of its bytes."""

    role: str                       # "store" or "log"
    name: str                       # file name (BCD, BCD.LOG1, ...)
    path: str                       # path inside the target (or on the host for a hive file)
    size: int
    sha256: str
    #: (byte offset on the disk, length) of each extent; for files: [(0, size)] of the file.
    extents: tuple[tuple[int, int], ...] = ()

    def to_json(self) -> dict:
        """The JSON object of this file."""
        return {"role": self.role, "name": self.name, "path": self.path, "size": self.size,
                "sha256": self.sha256, "extents": [[o, n] for o, n in self.extents]}


@dataclass
class Source:
    """The bytes of a store and its logs, and where each came from."""

    target: str
    kind: str                       # "file", "directory", "image" or "device"
    store: bytes                    # the hive: base block and declared bins (not the slack)
    logs: list[tuple[str, LogData]]     # read on demand: a log near the cap is never held
    files: list[FileRead]
    location: dict = field(default_factory=dict)
    #: Disks only: every byte range of the virtual disk that was read (partition tables,
    #: filesystem structures, the files), merged, as (offset, length, sha256).
    disk_reads: list[tuple[int, int, str]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def store_name(self) -> str:
        """A label for the store in messages: target and path inside it."""
        inside = self.location.get("path", "")
        return self.target if self.kind == "file" else f"{self.target}:{inside}"


def sha256(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def read_source(spec: str, *, partition: int | None = None, path: str | None = None) -> Source:
    """The store of target `spec` and every `.LOG`/`.LOG1`/`.LOG2` beside it, read-only."""
    kind = detect.detect_kind(spec)
    if kind == detect.HIVE:
        if partition is not None or path is not None:
            raise InvalidArgumentError("--partition and --path apply to disks and folders, "
                                       "not to a hive file", path=spec)
        real = Path(os.path.realpath(spec))
        return _from_folder(spec, "file", DirectoryVolume(real.parent), real.name,
                            {"target": spec, "kind": "file", "path": str(real)})
    if kind == detect.DIRECTORY:
        if partition is not None:
            raise InvalidArgumentError("--partition applies to disks, not to a folder", path=spec)
        _, inside, why, volume = find_store(Path(spec), path=path)
        return _from_folder(spec, "directory", volume, inside,
                            {"target": spec, "kind": "directory", "path": inside,
                             "reason": why})
    return _from_disk(spec, device=kind == detect.DEVICE, partition=partition, path=path)


def _store_size_ok(ref, where: str) -> None:
    """Refuse a store larger than any BCD store before reading it."""
    if ref.size > MAX_BCD_BYTES:
        raise UnsupportedError(f"the store is {ref.size} bytes, more than a BCD store can be "
                               f"({MAX_BCD_BYTES}); inspect it with `bcdtool hive check`",
                               path=where)


def _log_too_big(ref, notices: list[str]) -> bool:
    """True (with a notice) for a log larger than any BCD log: it is listed, not read."""
    if ref.size <= MAX_BCD_BYTES:
        return False
    notices.append(f"{ref.path}: {ref.size} bytes, more than a BCD log can be "
                   f"({MAX_BCD_BYTES}); not read (copy it out to examine it)")
    return True


def _from_folder(spec: str, kind: str, volume: DirectoryVolume, rel: str,
                 location: dict) -> Source:
    ref = volume.find(rel)
    _store_size_ok(ref, spec)
    read = functools.partial(volume.read, ref)
    data = _hive_bytes(read, ref, spec)
    shown = location["path"]
    files = [FileRead("store", Path(ref.path).name, shown, ref.size, _digest(read, ref.size),
                      ((0, ref.size),))]
    logs: list[tuple[str, LogData]] = []
    notices: list[str] = []
    for suffix in LOG_SUFFIXES:
        try:
            log_ref = volume.find(ref.path + suffix)
        except NotFoundError:
            continue
        if _log_too_big(log_ref, notices):
            continue
        read = functools.partial(volume.read, log_ref)
        name = Path(log_ref.path).name
        where = str(Path(shown).parent / name) if kind == "file" else log_ref.path
        logs.append((name, LogSource(log_ref.size, read)))
        files.append(FileRead("log", name, where, log_ref.size, _digest(read, log_ref.size),
                              ((0, log_ref.size),)))
    return Source(spec, kind, data, logs, files, location, notices=notices)


class ReadRecorder(BlockDevice):
    """A read-only view of a device that remembers every range read through it."""

    def __init__(self, inner: BlockDevice) -> None:
        super().__init__(inner.size, writable=False, name=inner.name)
        self.sector_size = inner.sector_size
        self.inner = inner
        self.ranges: list[tuple[int, int]] = []

    def _read(self, offset: int, length: int) -> bytes:
        self.ranges.append((offset, length))
        return self.inner.read_at(offset, length)

    def chain(self) -> list[str]:
        return self.inner.chain()

    def merged(self) -> list[tuple[int, int]]:
        """The ranges read, sorted, with overlapping and adjacent ones joined."""
        out: list[list[int]] = []
        for offset, length in sorted(self.ranges):
            if out and offset <= out[-1][0] + out[-1][1]:
                out[-1][1] = max(out[-1][1], offset + length - out[-1][0])
            else:
                out.append([offset, length])
        return [(o, n) for o, n in out]

    def close(self) -> None:
        self.inner.close()
        super().close()


def _from_disk(spec: str, *, device: bool, partition: int | None, path: str | None) -> Source:
    with contextlib.closing(ReadRecorder(open_image(spec, writable=False))) as dev:
        loc = locate(dev, partition=partition, path=path, kind="bcd" if path is None else "hive")
        _store_size_ok(loc.ref, spec)
        read = functools.partial(read_extents, loc.volume.dev, loc.ref)
        data = _hive_bytes(read, loc.ref, spec)
        files = [_disk_file("store", loc, loc.ref, read)]
        logs: list[tuple[str, LogData]] = []
        notices: list[str] = []
        for log_ref in loc.logs:
            if _log_too_big(log_ref, notices):
                continue
            read = functools.partial(read_extents, loc.volume.dev, log_ref)
            name = Path(log_ref.path).name
            # the device closes below: keep the part of the log a replay can use
            used = used_length(name, LogSource(log_ref.size, read), MAX_BCD_HIVE_BYTES)
            logs.append((name, read(0, used)))
            files.append(_disk_file("log", loc, log_ref, read))
        location = {"target": redact(spec), "kind": "device" if device else "image",
                    "format": type(dev.inner).__name__, "scheme": loc.scheme,
                    "partition": loc.index, "partition_start": loc.start,
                    "partition_size": loc.volume_size, "filesystem": loc.fs,
                    "path": loc.ref.path, "reason": loc.reason, "notices": list(loc.notices)}
        reads = [(o, n, _digest(lambda at, k, o=o: dev.inner.read_at(o + at, k), n))
                 for o, n in dev.merged()]
    # a URL is shown without its query or user-info (signatures), like everywhere else
    return Source(redact(spec), location["kind"], data, logs, files, location, reads, notices)


def _disk_file(role: str, loc, ref, read) -> FileRead:
    extents = tuple((loc.start + off, n) for off, n in ref.extents)
    return FileRead(role, Path(ref.path).name, ref.path, ref.size, _digest(read, ref.size),
                    extents)


def _digest(read, size: int, chunk: int = 1 << 20) -> str:
    """sha256 of a whole file, read a chunk at a time through `read(offset, length)`."""
    digest = hashlib.sha256()
    for offset in range(0, size, chunk):
        digest.update(read(offset, min(chunk, size - offset)))
    return digest.hexdigest()


def _hive_bytes(read, ref, spec: str) -> bytes:
    """The store's hive: its base block and the bins it declares (the slack after them is
    hashed with the file, not examined), within the cap of a BCD store's hive."""
    length = stored_length(read(0, 512), ref.size)
    if length > MAX_BCD_HIVE_BYTES:
        raise LimitError(f"{ref.path}: the hive declares {length} bytes, more than the "
                         f"{MAX_BCD_HIVE_BYTES}-byte cap of a BCD store's hive; not examined "
                         "(copy the file out and examine it with a registry tool)", path=spec)
    return read(0, length)
