"""Benchmark: bytes read to enable EMS inside a 100 GiB sparse disk image, per image format.

Builds (without root) a 100 GiB sparse GPT disk whose 34 MiB FAT32 ESP holds a real Windows
store, converts it with qemu-img to each format, and runs the whole write path on each:
open + find the store + `bcdedit /ems {default} on` + journal + in-place write + re-open and
verify ("open only": just finding and reading the store, as `enum` does).  "Bytes read" is the
process's read(2)/pread(2) byte count (/proc/self/io `rchar`) over
that call, after a warm-up so that no module import is counted.  Goal: under 1 MiB, whatever
the image size.  Run: `.venv/bin/python bench/ems_bytes_read.py`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bcdtool.bcd import bcdedit  # noqa: E402
from bcdtool.bcd.store import BcdStore  # noqa: E402
from bcdtool.cli.lazy import register_openers  # noqa: E402
from bcdtool.locate import open_hive  # noqa: E402
from bcdtool.locate.commit import commit as commit_handle  # noqa: E402
from fixtures import images  # noqa: E402

register_openers()          # the image-format readers, as a program using the library does

CORPUS = REPO.parent / "shared" / "corpus"
STORE = CORPUS / "bcd" / "win11-uefi-installed-2025.bcd"
GiB = 1024 ** 3
DISK_SIZE = 100 * GiB
ESP_START = 2048 * 512
GOAL = 1024 * 1024
FORMATS = ["vhd-dynamic", "vhdx", "qcow2", "vmdk", "raw"]


def rchar() -> int:
    """Bytes this process has read through read-like system calls so far."""
    with open("/proc/self/io") as info:
        return next(int(line.split()[1]) for line in info if line.startswith("rchar:"))


def build(folder: Path) -> Path:
    """A sparse 100 GiB GPT disk: ESP with the store, and one big (empty) data partition."""
    raw = folder / "disk-100g.img"
    with open(raw, "wb") as handle:
        handle.truncate(DISK_SIZE)
    subprocess.run(["sgdisk", "-o", f"-n1:2048:+{images.ESP_MIB}M", "-t1:EF00", "-n2:0:0",
                    "-t2:0700", str(raw)], check=True, capture_output=True)
    images.make_fat_volume(raw, {"EFI/Microsoft/Boot/BCD": STORE.read_bytes()}, offset=ESP_START,
                           size_mib=images.ESP_MIB, label="SYSTEM")
    return raw


def enable_ems(image: Path, journal_dir: Path) -> int:
    """The whole write path once; returns the pages written."""
    with open_hive(image) as handle:
        store = BcdStore(handle.hive)
        bcdedit.execute(bcdedit.parse_args(["/ems", "{default}", "on"]), store)
        result = commit_handle(handle, store.to_bytes(same_size=True), backup_dir=journal_dir,
                               operation="bench")
    return result.pages_written


def main() -> int:
    for tool in ("sgdisk", "mkfs.fat", "mcopy", "qemu-img"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (apt-get install gdisk dosfstools mtools qemu-utils)")
            return 2
    folder = Path(tempfile.mkdtemp(prefix="bcdtool-bench-"))
    try:
        raw = build(folder)
        warm = images.build_esp_disk(folder / "warm.img", STORE).path
        enable_ems(warm, folder / "journals")  # imports everything, reads nothing we count
        print(
            f"enable EMS on a {DISK_SIZE // GiB} GiB sparse disk image (goal: < {GOAL} bytes read)"
        )
        print(f"{'format':<12} {'file size':>12} {'open only':>10} {'bytes read':>12} "
              f"{'pages written':>14} {'seconds':>8}")
        worst = 0
        # Convert before the raw disk itself is edited, so every format starts from the same store.
        converted = {fmt: images.convert(raw, fmt, folder) for fmt in FORMATS if fmt != "raw"}
        for fmt in FORMATS:
            image = converted.get(fmt, raw)
            before = rchar()
            open_hive(image, read_only=True).close()
            opened = rchar() - before
            before, t0 = rchar(), time.perf_counter()
            pages = enable_ems(image, folder / "journals")
            read, seconds = rchar() - before, time.perf_counter() - t0
            worst = max(worst, read)
            on_disk = image.stat().st_blocks * 512
            print(f"{fmt:<12} {on_disk:>12} {opened:>10} {read:>12} {pages:>14} {seconds:>8.3f}")
            if image != raw:
                image.unlink()
        print(
            f"worst case {worst} bytes read: {'PASS' if worst < GOAL else 'FAIL'} (goal < {GOAL})"
        )
        return 0 if worst < GOAL else 1
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    sys.exit(main())
