"""Hostile volumes: random damage to FAT and NTFS metadata yields a BcdToolError or correct data,
never another exception or a hang (make fuzz raises the example count)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bcdtool.blockdev.base import BlockDevice
from bcdtool.errors import BcdToolError
from bcdtool.fs.volume import open_volume
from fixtures import images

EXAMPLES = int(os.environ.get("BCDTOOL_FUZZ_EXAMPLES", "60"))
DATA = bytes(range(256)) * 40


class MemoryDevice(BlockDevice):
    """A read-only device over bytes in memory, with single-byte patches laid over them."""

    def __init__(self, data: bytes, patches: dict[int, int] | None = None) -> None:
        super().__init__(len(data), name="memory")
        self._data = data
        self._patches = patches or {}

    def _read(self, offset: int, length: int) -> bytes:
        out = self._data[offset:offset + length]
        hits = [(at, v) for at, v in self._patches.items() if offset <= at < offset + length]
        if hits:
            buf = bytearray(out)
            for at, v in hits:
                buf[at - offset] = v
            out = bytes(buf)
        return out


@cache
def _volume(kind: str, folder: str) -> bytes:
    path = Path(folder) / f"{kind}.img"
    if images.missing_tools(("mkfs.fat", "mmd", "mcopy", "mkntfs", "ntfscp")):
        pytest.skip("image tools are missing")
    if kind.startswith("fat"):
        images.make_fat_volume(path, {"Boot/BCD": DATA, "Boot/Long File Name.txt": b"x"},
                               fat_bits=int(kind[3:]))
    else:
        images.make_ntfs_volume(path, {"Boot/BCD": DATA}, size_mib=2)
    return path.read_bytes()


def _attempt(image: bytes, patches: dict[int, int]) -> None:
    try:
        vol = open_volume(MemoryDevice(image, patches))
        ref = vol.find("Boot/BCD")
        data = vol.read(ref)
        assert len(data) == ref.size
        vol.facts()
    except BcdToolError:
        pass


damage = st.lists(st.tuples(st.integers(0, 72 * 1024 - 1), st.integers(0, 255)), min_size=1,
                  max_size=12)


@pytest.mark.parametrize("kind", ["fat12", "fat32", "ntfs"])
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(patches=damage)
def test_random_metadata_damage(tmp_path_factory, kind, patches):
    base = _volume(kind, str(tmp_path_factory.getbasetemp()))
    damage_at: dict[int, int] = {}
    # FAT12: boot sector, FATs, root folder and the Boot folder all lie in the first 24 KiB.
    # FAT32: boot sector, the start of the first FAT, the first data clusters (the folders).
    # NTFS: damage the boot sector or the first 72 records of the MFT.
    reserved = int.from_bytes(base[14:16], "little") * 512
    fat_size = int.from_bytes(base[36:40], "little") * 512
    mft = int.from_bytes(base[0x30:0x38], "little") * 4096
    for offset, value in patches:
        if kind == "fat12":
            damage_at[offset % (24 * 1024)] = value
        elif kind == "fat32":
            region = offset % 3
            at = [offset % 512, reserved + offset % 4096,
                  reserved + 2 * fat_size + offset % 8192][region]
            damage_at[at] = value
        else:
            damage_at[offset if offset < 512 else mft + offset % (72 * 1024)] = value
    _attempt(base, damage_at)


def test_memory_device_sanity(tmp_path_factory):
    base = _volume("fat12", str(tmp_path_factory.getbasetemp()))
    vol = open_volume(MemoryDevice(base))
    assert vol.read(vol.find("boot/bcd")) == DATA
