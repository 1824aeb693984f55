"""Helpers for block-device tests: the positional-data raw source and qemu-img conversions."""

from __future__ import annotations

import array
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers.common import need_tool

MiB = 1024 * 1024
RAW_SIZE = 64 * MiB
#: Data regions (offset, length) of the raw source; everything else is a hole.
DATA_REGIONS = [(0, MiB), (5 * MiB + 4096, 300 * 1024), (20 * MiB - 8192, 64 * 1024),
                (33 * MiB, 2 * MiB), (RAW_SIZE - MiB, MiB)]

#: name -> qemu-img convert arguments; every format the brief names.
FORMATS = {
    "vhd-fixed": ["-O", "vpc", "-o", "subformat=fixed,force_size=on"],
    "vhd-dynamic": ["-O", "vpc", "-o", "subformat=dynamic,force_size=on"],
    "vhdx": ["-O", "vhdx", "-o", "block_size=1M"],
    "vhdx-default": ["-O", "vhdx"],
    "vhdx-fixed": ["-O", "vhdx", "-o", "subformat=fixed"],
    "qcow2-v2": ["-O", "qcow2", "-o", "compat=0.10"],
    "qcow2-v3": ["-O", "qcow2", "-o", "compat=1.1"],
    "qcow2-v3-4k": ["-O", "qcow2", "-o", "compat=1.1,cluster_size=4096"],
    "vmdk-sparse": ["-O", "vmdk", "-o", "subformat=monolithicSparse"],
    "vmdk-flat": ["-O", "vmdk", "-o", "subformat=monolithicFlat"],
    "vmdk-split": ["-O", "vmdk", "-o", "subformat=twoGbMaxExtentSparse"],
    "vmdk-split-flat": ["-O", "vmdk", "-o", "subformat=twoGbMaxExtentFlat"],
    "vmdk-stream": ["-O", "vmdk", "-o", "subformat=streamOptimized"],
}
#: Formats whose allocated blocks we write in place (streamOptimized is read-only by design).
WRITABLE = [f for f in FORMATS if f != "vmdk-stream"]
QEMU_FMT = {"vhd": "vpc", "vhdx": "vhdx", "qcow2": "qcow2", "vmdk": "vmdk"}


def pattern(offset: int, length: int) -> bytes:
    """Positional data: every 8-byte word holds its own offset (plus a tag), so misplaced reads
    show."""
    first = offset // 8
    count = length // 8 + 2
    words = array.array("Q", range(first * 2048 + 0xA5, (first + count) * 2048 + 0xA5, 2048))
    if sys.byteorder == "little":
        words.byteswap()
    skip = offset - first * 8
    return words.tobytes()[skip:skip + length]


def raw_bytes(offset: int, length: int) -> bytes:
    """What the raw source holds at `offset`."""
    out = bytearray(length)
    for start, size in DATA_REGIONS:
        lo, hi = max(start, offset), min(start + size, offset + length)
        if lo < hi:
            out[lo - offset:hi - offset] = pattern(lo, hi - lo)
    return bytes(out)


def qemu_img(*args: str) -> subprocess.CompletedProcess:
    """Run qemu-img; raise with its stderr on failure."""
    return subprocess.run([need_tool("qemu-img"), *map(str, args)], check=True,
                          capture_output=True, text=True)


def qemu_format(name: str) -> str:
    """qemu-img's -f name for one of FORMATS."""
    return QEMU_FMT.get(name.split("-")[0], "raw")


def copy_image(src: Path, dst_dir: Path) -> Path:
    """Copy an image (and a flat VMDK's extent) into `dst_dir`, keeping holes."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    for f in src.parent.glob(src.stem + "*"):
        subprocess.run(["cp", "--sparse=always", str(f), str(dst_dir / f.name)], check=True)
    return dst_dir / src.name


def converted_raw(path: Path, name: str, tmp: Path) -> bytes:
    """The image's virtual disk as qemu-img sees it."""
    out = tmp / "converted.raw"
    qemu_img("convert", "-f", qemu_format(name), "-O", "raw", path, out)
    return out.read_bytes()


def have(tool: str) -> bool:
    """Whether an external tool is installed."""
    return shutil.which(tool) is not None


def write_raw_source(path: Path) -> Path:
    """Write the sparse raw source image at `path`."""
    with open(path, "wb") as f:
        f.truncate(RAW_SIZE)
        for start, size in DATA_REGIONS:
            f.seek(start)
            f.write(pattern(start, size))
    return path


def crc32c_bitwise(data: bytes) -> int:
    """An independent, bit-at-a-time CRC-32C for checking ours and patching test images."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF
