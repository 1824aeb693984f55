"""Hostile volumes: random damage to FAT and NTFS metadata yields a BcdToolError or correct data,
never another exception or a hang (make fuzz raises the example count)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bcdtool.blockdev.base import BlockDevice
from bcdtool.errors import BcdToolError
from bcdtool.fs import open_volume
from fixtures import images

EXAMPLES = int(os.environ.get("BCDTOOL_FUZZ_EXAMPLES", "60"))
DATA = bytes(range(256)) * 40


class MemoryDevice(BlockDevice):
    """A read-only device over bytes in memory."""

    def __init__(self, data: bytes) -> None:
        super().__init__(len(data), name="memory")
        self._data = data

    def _read(self, offset: int, length: int) -> bytes:
        return self._data[offset:offset + length]


@lru_cache(maxsize=None)
def _volume(kind: str, folder: str) -> bytes:
    path = Path(folder) / f"{kind}.img"
    if images.missing_tools(("mkfs.fat", "mmd", "mcopy", "mkntfs", "ntfscp")):
        pytest.skip("image tools are missing")
    if kind == "fat12":
        images.make_fat_volume(path, {"Boot/BCD": DATA, "Boot/Long File Name.txt": b"x"},
                               fat_bits=12)
    else:
        images.make_ntfs_volume(path, {"Boot/BCD": DATA}, size_mib=2)
    return path.read_bytes()


def _attempt(image: bytes) -> None:
    try:
        vol = open_volume(MemoryDevice(image))
        ref = vol.find("Boot/BCD")
        data = vol.read(ref)
        assert len(data) == ref.size
        vol.facts()
    except BcdToolError:
        pass


damage = st.lists(st.tuples(st.integers(0, 72 * 1024 - 1), st.integers(0, 255)), min_size=1,
                  max_size=12)


@pytest.mark.parametrize("kind", ["fat12", "ntfs"])
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(patches=damage)
def test_random_metadata_damage(tmp_path_factory, kind, patches):
    base = _volume(kind, str(tmp_path_factory.getbasetemp()))
    image = bytearray(base)
    # FAT12: boot sector, FATs, root folder and the Boot folder all lie in the first 24 KiB.
    # NTFS: damage the boot sector or the first 72 records of the MFT.
    mft = int.from_bytes(base[0x30:0x38], "little") * 4096
    for offset, value in patches:
        if kind == "fat12":
            image[offset % (24 * 1024)] = value
        else:
            image[offset if offset < 512 else mft + offset % (72 * 1024)] = value
    _attempt(bytes(image))


def test_memory_device_sanity(tmp_path_factory):
    base = _volume("fat12", str(tmp_path_factory.getbasetemp()))
    vol = open_volume(MemoryDevice(base))
    assert vol.read(vol.find("boot/bcd")) == DATA
