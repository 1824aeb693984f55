"""serial-console enable on real disk images of every format, UEFI (GPT+ESP) and BIOS (MBR+System
Reserved): the store is read back through qemu-img, mtools and ntfs-3g, never through bcdtool."""

from __future__ import annotations

import pytest

from fixtures import images
from tests.ops.ops_helpers import assert_recipe, build_windows_disk, store_bytes
from tests.helpers.common import need_tools, sha

from bcdtool.errors import BcdError, ReadOnlyError, UnsupportedError
from bcdtool.ops import serial_console as sc
from bcdtool.ops.undo import undo

FAST = {("uefi", "vhd-fixed"), ("bios", "raw")}
CASES = [pytest.param(fw, fmt, marks=() if (fw, fmt) in FAST else pytest.mark.slow,
                      id=f"{fw}-{fmt}")
         for fw in ("uefi", "bios") for fmt in images.FORMATS]


def _image(base_disks, firmware: str, fmt: str, folder):
    need_tools("qemu-img")
    disk = base_disks[firmware]
    return images.convert(disk.path, fmt, folder), disk


def _data_file(image):
    """The file holding the disk's sectors (a flat VMDK keeps them beside its descriptor)."""
    flat = image.with_name(image.stem + "-flat.vmdk")
    return flat if flat.exists() else image


@pytest.mark.parametrize("firmware,fmt", [c for c in CASES if c.values[1] != "vmdk-stream"])
def test_enable_verify_idempotent_undo(base_disks, tmp_path, firmware, fmt):
    image, disk = _image(base_disks, firmware, fmt, tmp_path)
    data = _data_file(image)
    original = sha(data)
    content = sha(images.to_raw(image, tmp_path / "before.img"))
    dry = sc.enable(str(image), dry_run=True)
    assert dry.changes and dry.journal is None
    assert sha(data) == original

    done = sc.enable(str(image))
    assert done.location["partition"] == 1 and done.location["path"] == disk.bcd_path
    assert done.write["verified"] and done.journal
    written = sha(data)
    assert written != original
    back = images.to_raw(image, tmp_path / "back.img")
    assert_recipe(store_bytes(back, disk, tmp_path))
    code, text = images.qemu_check(image)
    assert code in (0, 63), text

    again = sc.enable(str(image))
    assert again.changes == [] and again.journal is None
    assert sha(data) == written

    undo(done.journal)
    # VHDX headers record that the file was opened for writing, so compare the disk's content.
    assert sha(images.to_raw(image, tmp_path / "undone.img")) == content
    if fmt != "vhdx":
        assert sha(data) == original


@pytest.mark.parametrize("firmware", ["uefi", "bios"])
def test_compressed_vmdk_refused_unchanged(base_disks, tmp_path, firmware):
    image, _disk = _image(base_disks, firmware, "vmdk-stream", tmp_path)
    original = sha(image)
    with pytest.raises(UnsupportedError):
        sc.enable(str(image))
    assert sha(image) == original
    assert not list(tmp_path.glob("state/bcdtool/journal/*"))


@pytest.mark.parametrize("firmware", ["uefi", "bios"])
def test_refusals_leave_the_image_unchanged(base_disks, tmp_path, firmware):
    image, _disk = _image(base_disks, firmware, "raw", tmp_path)
    original = sha(image)
    with pytest.raises(ReadOnlyError):
        sc.enable(str(image), read_only=True)
    with pytest.raises(BcdError):          # the SYSTEM hive is no BCD store
        sc.enable(str(image), partition=2, path="Windows/System32/config/SYSTEM")
    assert sha(image) == original


def test_store_without_default_loader_refused(tmp_path):
    from bcdtool.bcd.bcdedit import new_store_image

    empty = new_store_image()
    raw = tmp_path / "empty.img"
    disk = build_windows_disk("uefi", raw, bcd=empty + bytes(32768 - len(empty)))
    original = sha(raw)
    with pytest.raises(BcdError):
        sc.enable(str(raw))
    assert sha(raw) == original
    assert disk.bcd_part.fs == "fat"


@pytest.mark.parametrize("firmware", ["uefi", "bios"])
def test_real_store_with_its_logs_on_a_disk(corpus, tmp_path, firmware):
    from tests.locate.locate_helpers import build_disk

    need_tools("sfdisk", "mkntfs", "ntfscp", "mcopy")
    disk = build_disk(firmware, tmp_path, corpus)
    original = sha(disk.path)
    done = sc.enable(str(disk.path))
    assert done.write["verified"]
    assert_recipe(store_bytes(disk.path, disk, tmp_path))
    written = sha(disk.path)
    assert sc.enable(str(disk.path)).changes == [] and sha(disk.path) == written
    undo(done.journal)
    assert sha(disk.path) == original
