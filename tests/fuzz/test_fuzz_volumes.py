"""Fuzz the whole read path of a disk from a stranger: partition table -> FAT32 or NTFS volume ->
the store's extents -> hive -> BCD objects, as `enum` and every write command do it.

Seeds are two real disks built by fixtures/images.py (GPT + FAT32 ESP, MBR + NTFS System
Reserved) holding a real Windows store; mutations land on the sectors that hold something
(boot sectors, FATs, directories, MFT records, runlists, the store itself).
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcdtool.bcd.store import BcdStore
from bcdtool.regf.hive import Hive
from bcdtool.locate.discover import locate
from tests.helpers.common import CORPUS
from tests.fuzz.fuzz_support import FUZZ, Budget, BytesDevice, run_hostile

STORE = "bcd/win10-uefi-installed-systemd-boot.bcd"
SECTOR = 512
#: Look for metadata in the first MiBs of each volume (FATs, directories, MFT, the store).
SCAN = 8 * 1024 * 1024


@functools.cache
def seeds() -> list[tuple[bytes, list[int]]]:
    """(disk bytes, offsets of its non-zero sectors inside the first volume)."""
    from fixtures.images import build_esp_disk, build_mbr_disk, missing_tools

    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    missing = missing_tools(["sfdisk", "mkfs.fat", "mcopy", "mkntfs", "ntfscp"])
    if missing:
        pytest.skip("missing tools: " + ", ".join(missing))
    out = []
    with tempfile.TemporaryDirectory(prefix="bcdtool-fuzz-vol-") as tmp:
        for build in (build_esp_disk, build_mbr_disk):
            disk = build(Path(tmp) / f"{build.__name__}.img", CORPUS / STORE)
            data = disk.path.read_bytes()
            start = disk.partitions[0].start
            busy = [off for off in range(0, min(SCAN, len(data) - start), SECTOR)
                    if any(data[start + off:start + off + SECTOR])]
            out.append((data, [0] + [start + off for off in busy]))
    return out


@st.composite
def disk_edits(draw) -> tuple[int, list[tuple]]:
    """(seed index, edits): only the plan is drawn; `build()` makes the 36 MiB disk."""
    index = draw(st.integers(0, len(seeds()) - 1))
    busy = seeds()[index][1]
    edits = []
    for _ in range(draw(st.integers(1, 8))):
        sector = draw(st.sampled_from(busy))
        pos = sector + draw(st.integers(0, SECTOR - 8))
        kind = draw(st.sampled_from(["flip", "u16", "u32", "u64", "zero", "copy"]))
        if kind == "flip":
            value = draw(st.integers(0, 7))
        elif kind in ("u16", "u32", "u64"):
            width = int(kind[1:]) // 8
            value = draw(st.sampled_from([0, 1, 2 ** (8 * width) - 1, 2 ** (8 * width - 1)])
                         | st.integers(0, 2 ** (8 * width) - 1))
        elif kind == "copy":   # another metadata sector's bytes here (a directory entry in a FAT)
            value = draw(st.sampled_from(busy))
        else:
            value = 0
        edits.append((kind, sector, pos, value))
    return index, edits


def build(index: int, edits: list[tuple]) -> bytes:
    disk = bytearray(seeds()[index][0])
    for kind, sector, pos, value in edits:
        if kind == "flip":
            disk[pos] ^= 1 << value
        elif kind in ("u16", "u32", "u64"):
            width = int(kind[1:]) // 8
            disk[pos:pos + width] = value.to_bytes(width, "little")
        elif kind == "zero":
            disk[sector:sector + SECTOR] = bytes(SECTOR)
        else:
            disk[sector:sector + SECTOR] = disk[value:value + SECTOR]
    return bytes(disk)


def read_store(data: bytes) -> None:
    """Find and read the store exactly like `bcdtool enum DISK`, and judge volume safety."""
    loc = locate(BytesDevice(data, name="fuzz-disk.img"))
    loc.volume.facts().unsafe_reasons()
    BcdStore(Hive.from_bytes(loc.volume.read(loc.ref), name="fuzz", allow_dirty=True))


_BUDGET: dict[str, Budget] = {}


@FUZZ
@given(data=st.data())
def test_disk_volume_store_read_path(data):
    index, edits = data.draw(disk_edits())
    budget = _BUDGET.setdefault("volumes", Budget())
    if not budget.spent():      # building a 36 MiB disk costs time too
        run_hostile(budget, "disk -> FAT/NTFS -> store read path", read_store,
                    build(index, edits))
