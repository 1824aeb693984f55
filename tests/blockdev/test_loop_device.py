"""Real block devices (loop devices with 4096-byte sectors): size, sector size, 4Kn tables, ro
media."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.blockdev.blockdev_images import MiB
from tests.helpers.common import loop_device, need_tool
from bcdtool.blockdev.detect import open_image
from bcdtool.blockdev.partitions import read_partition_table
from bcdtool.blockdev.raw import RawDevice
from bcdtool.errors import ReadOnlyError


def loop(path, *, read_only: bool):
    """`path` on a loop device with 4096-byte logical sectors (a 4Kn disk)."""
    return loop_device(path, read_only=read_only, sector_size=4096)


@pytest.fixture(scope="module")
def disk_4kn(tmp_path_factory):
    """A 16 MiB disk with a GPT written by sgdisk through a 4096-byte-sector loop device."""
    path = tmp_path_factory.mktemp("loop") / "4kn.raw"
    with open(path, "wb") as f:
        f.truncate(16 * MiB)
    with loop(path, read_only=False) as dev:
        subprocess.run([need_tool("sgdisk"), "-n", "1:0:+4M", "-t", "1:ef00", "-n", "2:0:0",
                        "-t", "2:0700", dev], check=True, capture_output=True)
        table = json.loads(subprocess.run([need_tool("sfdisk"), "--json", dev], check=True,
                                          capture_output=True, text=True).stdout)["partitiontable"]
    return path, table


def test_block_device_size_sector_size_and_4kn_gpt(disk_4kn):
    path, table = disk_4kn
    assert table["sectorsize"] == 4096
    with loop(path, read_only=True) as dev, open_image(dev) as bd:
        assert isinstance(bd, RawDevice) and bd.is_block_device
        assert (bd.size, bd.sector_size) == (16 * MiB, 4096)
        found = read_partition_table(bd)
        assert found.scheme == "gpt"
        assert [(p.start, p.length) for p in found.partitions] == [
            (e["start"] * 4096, e["size"] * 4096) for e in table["partitions"]]
        assert found.partitions[0].is_esp


def test_read_only_device_refuses_a_writable_open(disk_4kn):
    path, _ = disk_4kn
    with loop(path, read_only=True) as dev:
        with pytest.raises(ReadOnlyError, match="read-only"):
            open_image(dev, writable=True)
