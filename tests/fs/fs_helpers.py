"""Helpers for the filesystem tests: building images (skip on missing tools), opening and comparing
them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bcdtool.blockdev.base import RangeView
from bcdtool.blockdev.raw import RawDevice
from fixtures import images

def built(fn, *args, **kwargs):
    """Run a builder; a missing tool skips the test with the tool's name."""
    try:
        return fn(*args, **kwargs)
    except images.FixtureError as exc:
        if "missing tools" in str(exc) or "libntfs-3g is not available" in str(exc):
            pytest.skip(str(exc))
        raise


def open_part(path: Path, part: images.PartInfo, *, writable: bool = False) -> RangeView:
    """A partition view over a raw image."""
    return RangeView(RawDevice(str(path), writable=writable), part.start, part.length)


def copy_image(src: Path, dest_dir: Path) -> Path:
    """A private copy of a session image that a test may write to."""
    dest = dest_dir / src.name
    shutil.copyfile(src, dest)
    return dest


def changed_ranges(a: Path, b: Path, chunk: int = 1 << 16) -> list[tuple[int, int]]:
    """Byte ranges (offset, end) where two equally sized files differ."""
    out: list[tuple[int, int]] = []
    with open(a, "rb") as fa, open(b, "rb") as fb:
        base = 0
        while True:
            x, y = fa.read(chunk), fb.read(chunk)
            assert len(x) == len(y), "file sizes differ"
            if not x:
                return out
            if x != y:
                for i in range(len(x)):
                    if x[i] != y[i]:
                        if out and out[-1][1] == base + i:
                            out[-1] = (out[-1][0], base + i + 1)
                        else:
                            out.append((base + i, base + i + 1))
            base += len(x)


def inside(ranges, extents, base: int = 0) -> bool:
    """Every changed range lies within the given (offset, length) extents shifted by `base`."""
    spans = [(base + o, base + o + n) for o, n in extents]
    return all(any(lo <= s and e <= hi for lo, hi in spans) for s, e in ranges)


def ntfs_part_get(disk: images.DiskImage, part: images.PartInfo, rel: str, tmp: Path) -> bytes:
    """A file's bytes read by ntfscat from a copy of the partition."""
    vol = images.extract(disk.path, tmp / f"p{part.index}.ntfs", part.start, part.length)
    try:
        return images.ntfs_get(vol, rel)
    finally:
        vol.unlink()


def ntfsfix_part(disk_path: Path, part: images.PartInfo, tmp: Path) -> tuple[int, str]:
    """`ntfsfix -n` on a copy of one partition, with the copy's path removed from the output."""
    vol = images.extract(disk_path, tmp / f"p{part.index}.fix", part.start, part.length)
    try:
        rc, out = images.ntfsfix_check(vol)
        return rc, out.replace(str(vol), "VOLUME")
    finally:
        vol.unlink()


def patch(path: Path, offset: int, data: bytes) -> None:
    """Overwrite bytes of a file in place."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)
