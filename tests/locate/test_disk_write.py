"""The in-place write path on every image format x firmware, checked with independent tools.

Each case edits a real Windows store (with the logs Windows left beside it) inside a real disk
image through `open_hive(...)` and `locate.commit.commit(handle, ...)`, then reads the result
back without bcdtool (qemu-img convert -> mcopy / ntfscat -> python-registry) and checks the
filesystem, the image format and every byte outside the store.
"""

from __future__ import annotations

import json
import shutil

import pytest
from bcdtool.locate import open_hive
from bcdtool.locate.commit import commit as commit_handle
from tests.helpers.common import CORPUS, need_tools, run_cli, sha
from tests.locate.locate_helpers import (build_disk, changed_sectors, fs_check,
                                         read_store_independently, registry_elements, sac_edit)

FORMATS = ["raw", "vhd-fixed", "vhd-dynamic", "vhdx", "qcow2", "qcow2-v2", "vmdk", "vmdk-flat"]
TOOLS = ("sgdisk", "sfdisk", "mkfs.fat", "mcopy", "mkntfs", "ntfscp", "ntfscat", "ntfsfix",
         "fsck.fat", "qemu-img")


@pytest.fixture(scope="module")
def disks(tmp_path_factory):
    """The two raw base disks, built once (UEFI: GPT + FAT32 ESP; BIOS: MBR + NTFS)."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    need_tools(*TOOLS)
    folder = tmp_path_factory.mktemp("disks")
    return {fw: build_disk(fw, folder, CORPUS) for fw in ("uefi", "bios")}


def image_in_format(disk, fmt: str, folder):
    """A fresh copy of the disk in image format `fmt`."""
    from fixtures import images

    if fmt == "raw":
        dest = folder / "disk.img"
        shutil.copyfile(disk.path, dest)
        return dest
    return images.convert(disk.path, fmt, folder)


def virtual(image, folder) -> bytes:
    """The virtual disk's bytes as qemu-img (an independent reader) sees them."""
    from fixtures import images

    return images.to_raw(image, folder / "virtual.raw").read_bytes()


@pytest.mark.parametrize("firmware", ["uefi", "bios"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_sac_recipe_in_place(disks, firmware, fmt, tmp_path, capsys):
    from fixtures import images

    disk = disks[firmware]
    image = image_in_format(disk, fmt, tmp_path)
    container_before = image.read_bytes()
    virtual_before = virtual(image, tmp_path)
    qemu_before = images.qemu_check(image)[0]
    fs_before = fs_check(tmp_path / "virtual.raw", disk, tmp_path)

    with open_hive(image) as handle:
        assert handle.location["partition"] == disk.bcd_partition
        assert handle.location["path"].lower() == disk.bcd_path.lower()
        new_image, elements = sac_edit(handle.hive)
        result = commit_handle(handle, new_image, operation="sac test", diff=[{"test": True}])
        assert result.verified and not result.dry_run
        assert registry_elements(handle.hive.data, elements) == elements

    # The image file keeps its size; the format and the filesystem stay clean.
    assert image.stat().st_size == len(container_before)
    assert images.qemu_check(image)[0] == qemu_before and qemu_before in (0, 63)
    virtual_after = virtual(image, tmp_path)
    raw = tmp_path / "virtual.raw"
    assert fs_check(raw, disk, tmp_path) == fs_before

    # The store, read back without bcdtool, holds every element of the recipe.
    store = read_store_independently(raw, disk, disk.bcd_path, tmp_path)
    assert sha(store) == result.sha256_after
    assert registry_elements(store, elements) == elements
    # Stale logs beside it were neutralised (first 512 bytes zeroed), the rest kept.
    journal = json.loads(open(result.journal).read())
    logs = [f for f in journal["sink"]["files"] if f != journal["sink"]["store"]]
    assert logs, "the fixture puts Windows' own logs beside the store"
    for log in logs:
        data = read_store_independently(raw, disk, log, tmp_path)
        assert data[:512] == bytes(512)

    # Nothing outside the journal's saved ranges (the store's extents, the log heads) changed.
    saved = [(off, n) for e in journal["entries"] for off, n in e["device"]]
    assert sum(n for _, n in saved) == len(store) + 512 * len(logs)
    def inside(off, n, ranges):
        return any(a <= off and off + n <= a + m for a, m in ranges)

    assert all(inside(off, n, saved) for off, n in result.device_writes)
    # Only pages the plan named changed on the virtual disk.
    changed = changed_sectors(virtual_before, virtual_after)
    assert changed and all(inside(off, 512, result.device_writes) for off in changed)
    masked_before, masked_after = bytearray(virtual_before), bytearray(virtual_after)
    for off, n in saved:
        masked_before[off:off + n] = masked_after[off:off + n] = bytes(n)
    assert masked_before == masked_after
    # In the container, only data sectors changed (VHDX also rewrites one 4 KiB header).
    container_after = image.read_bytes()
    slack = 8 if fmt == "vhdx" else 0
    assert len(changed_sectors(container_before, container_after)) <= result.pages_written + slack

    # bcdtool undo restores the original bytes.
    code, _, err = run_cli(capsys, "undo", result.journal)
    assert code == 0, err
    assert sha(virtual(image, tmp_path)) == sha(virtual_before)
    if fmt != "vhdx":
        assert sha(image.read_bytes()) == sha(container_before)
