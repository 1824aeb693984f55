"""Benchmark: bytes read to find the partitions and read 64 KiB of a file region in a 100 GiB disk.

Builds a 100 GiB sparse raw disk (GPT by sgdisk, a 64 KiB data region 60 GiB in), converts it
with qemu-img to qcow2, VHDX, dynamic VHD and sparse VMDK, then times and counts:
open_image + read_partition_table + Partition.view + read of the 64 KiB region.  Three figures:
`virtual` (bytes handed out by the virtual disk), `file` (bytes our format code read from the
image file) and `rchar` (the process's read-like syscall bytes from /proc/self/io, counted by
the kernel, not by us).  Goal: rchar far below 1 MiB.  Run: `.venv/bin/python
bench/blockdev_bytes_read.py`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bcdtool.blockdev.detect import open_image  # noqa: E402
from bcdtool.blockdev.partitions import read_partition_table  # noqa: E402
from bcdtool.cli.lazy import register_openers  # noqa: E402

register_openers()          # the image-format readers, as a program using the library does

GiB = 1024 ** 3
DISK_SIZE = 100 * GiB
REGION = 60 * GiB + 12345 * 512      # inside partition 2
REGION_LEN = 64 * 1024
GOAL = 1024 * 1024
FORMATS = {"qcow2": ["-O", "qcow2"], "vhdx": ["-O", "vhdx"],
           "vhd-dynamic": ["-O", "vpc", "-o", "subformat=dynamic,force_size=on"],
           "vmdk-sparse": ["-O", "vmdk", "-o", "subformat=monolithicSparse"], "raw": None}


def rchar() -> int:
    """Bytes this process has read through read-like system calls so far."""
    with open("/proc/self/io") as info:
        return next(int(line.split()[1]) for line in info if line.startswith("rchar:"))


def build(folder: Path) -> dict[str, Path]:
    raw = folder / "disk.raw"
    with open(raw, "wb") as f:
        f.truncate(DISK_SIZE)
    subprocess.run(["sgdisk", "-n", "1:2048:+100M", "-t", "1:ef00", "-n", "2:0:0", "-t", "2:0700",
                    str(raw)], check=True, capture_output=True)
    payload = bytes((i * 31) & 0xFF for i in range(REGION_LEN))
    with open(raw, "r+b") as f:
        f.seek(REGION)
        f.write(payload)
    out = {"raw": raw}
    for name, args in FORMATS.items():
        if args:
            out[name] = folder / f"disk.{name}"
            subprocess.run(["qemu-img", "convert", "-f", "raw", *args, str(raw), str(out[name])],
                           check=True, capture_output=True)
    return out


def measure(path: Path) -> tuple[int, int, int, float, bool]:
    before, start = rchar(), time.perf_counter()
    with open_image(path) as dev:
        part = read_partition_table(dev).partitions[1]
        data = part.view(dev).read_at(REGION - part.start, REGION_LEN)
        file_bytes = getattr(dev, "container", dev).bytes_read
        virtual = dev.bytes_read
    elapsed = time.perf_counter() - start
    ok = data == bytes((i * 31) & 0xFF for i in range(REGION_LEN))
    return virtual, file_bytes, rchar() - before, elapsed, ok


def main() -> int:
    if not shutil.which("qemu-img") or not shutil.which("sgdisk"):
        print("needs qemu-img and sgdisk")
        return 2
    with tempfile.TemporaryDirectory(prefix="bcdtool-bench-") as tmp:
        images = build(Path(tmp))
        measure(images["raw"])  # warm-up: imports and lazily built tables are not counted
        print(f"100 GiB sparse disk: partition table + {REGION_LEN // 1024} KiB at 60 GiB")
        print(f"{'format':<12} {'file size':>12} {'virtual':>9} {'file':>9} {'rchar':>9} {'ms':>7}")
        worst = 0
        for name, path in images.items():
            virtual, file_bytes, syscall_bytes, elapsed, ok = measure(path)
            worst = max(worst, syscall_bytes)
            size = sum(p.stat().st_blocks * 512 for p in [path])
            print(f"{name:<12} {size:>12,} {virtual:>9,} {file_bytes:>9,} {syscall_bytes:>9,} "
                  f"{elapsed * 1000:>7.1f}{'' if ok else '  WRONG DATA'}")
            if not ok:
                return 1
        print(
            f"worst rchar {worst:,} bytes; goal < {GOAL:,}: {'met' if worst < GOAL else 'MISSED'}"
        )
        return 0 if worst < GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
