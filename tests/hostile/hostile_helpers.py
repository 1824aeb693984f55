"""Helpers for hostile-input tests: run the real CLI in a subprocess, make qcow2 overlays."""

from __future__ import annotations

import subprocess
from functools import partial
from pathlib import Path

from tests.helpers.common import REPO, run_process

#: `python -m bcdtool ARGS` from the repository folder (stdin closed).
run_cli = partial(run_process, cwd=REPO)


def overlay(path: Path, backing: str, *, fmt: str = "raw", size: str = "64M") -> Path:
    """A qcow2 image at `path` whose header names `backing` verbatim (qemu-img -u: not checked)."""
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", fmt,
                    str(path), size], check=True)
    return path


class FatImage:
    """Raw access to a FAT32/16 volume at `start` of an image file, for building hostile cases:
    8.3 directory entries, first clusters, FAT entries of each copy, cluster chains."""

    def __init__(self, path: Path, start: int) -> None:
        self.path, self.start = Path(path), start
        boot = self._read(0, 512)
        self.bps = int.from_bytes(boot[11:13], "little")
        self.spc = boot[13]
        self.reserved = int.from_bytes(boot[14:16], "little")
        self.fats = boot[16]
        root_entries = int.from_bytes(boot[17:19], "little")
        fat16 = int.from_bytes(boot[22:24], "little")
        self.fat_size = (fat16 or int.from_bytes(boot[36:40], "little")) * self.bps
        self.bits = 16 if fat16 else 32
        root_bytes = -(-root_entries * 32 // self.bps) * self.bps
        self.data = self.reserved * self.bps + self.fats * self.fat_size + root_bytes
        self.cluster_bytes = self.bps * self.spc

    def _read(self, offset: int, length: int) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(self.start + offset)
            return f.read(length)

    def _write(self, offset: int, data: bytes) -> None:
        with open(self.path, "r+b") as f:
            f.seek(self.start + offset)
            f.write(data)

    def entry(self, short_name: bytes) -> int:
        """Volume offset of the first 8.3 entry named `short_name` (11 bytes, not a label)."""
        raw = self._read(0, self.data + 4096 * self.cluster_bytes)
        pos = 0
        while (pos := raw.find(short_name, pos)) >= 0:
            if pos % 32 == 0 and not raw[pos + 11] & 0x08 and raw[pos + 11] != 0x0F:
                return pos
            pos += 1
        raise AssertionError(f"no entry {short_name!r}")

    def first_cluster(self, entry: int) -> int:
        raw = self._read(entry, 32)
        return int.from_bytes(raw[26:28], "little") | int.from_bytes(raw[20:22], "little") << 16

    def set_first_cluster(self, entry: int, cluster: int) -> None:
        self._write(entry + 26, (cluster & 0xFFFF).to_bytes(2, "little"))
        self._write(entry + 20, (cluster >> 16).to_bytes(2, "little"))

    def fat(self, copy: int, cluster: int) -> int:
        size = self.bits // 8
        raw = self._read(self.reserved * self.bps + copy * self.fat_size + cluster * size, size)
        value = int.from_bytes(raw, "little")
        return value & 0x0FFFFFFF if self.bits == 32 else value

    def set_fat(self, copy: int, cluster: int, value: int) -> None:
        size = self.bits // 8
        self._write(self.reserved * self.bps + copy * self.fat_size + cluster * size,
                    value.to_bytes(size, "little"))

    def chain(self, first: int) -> list[int]:
        out = [first]
        while (nxt := self.fat(0, out[-1])) < (0x0FFFFFF8 if self.bits == 32 else 0xFFF8):
            out.append(nxt)
        return out

    def mark_dirty(self) -> None:
        """Clear the clean-shutdown bit of FAT[1] in the first FAT (as a crash leaves it)."""
        bit = 0x08000000 if self.bits == 32 else 0x8000
        self.set_fat(0, 1, self.fat(0, 1) & ~bit)
