"""A BCD store on an LVM logical volume inside a qcow2 image: only the guestfs backend reaches
it."""

from __future__ import annotations

import io
import subprocess

import pytest
from tests.backend_guestfs.guestfs_helpers import (TIMES, bcdtool, download, guestfish, journal_of,
                                                   need_guestfs)
from tests.helpers.common import sha as sha256

pytestmark = pytest.mark.guestfs

BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
STORE = "/EFI/Microsoft/Boot/BCD"
LV = "/dev/vg0/esp"


@pytest.fixture(scope="module")
def lvm_image(tmp_path_factory, request):
    """(image, original BCD bytes): FAT on an LV, holding a real Windows 10 UEFI store."""
    need_guestfs()
    from tests.helpers.common import CORPUS
    source = CORPUS / "bcd" / "win10-media-uefi-x64.bcd"
    if not source.is_file():
        pytest.skip("../shared/corpus is absent")
    folder = tmp_path_factory.mktemp("bcd-lvm")
    image = folder / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "96M"], check=True)
    guestfish(image, f"part-disk /dev/sda mbr\npvcreate /dev/sda1\nvgcreate vg0 /dev/sda1\n"
                     f"lvcreate esp vg0 48\nmkfs vfat {LV}\nmount {LV} /\n"
                     f"mkdir-p /EFI/Microsoft/Boot\nupload {source} {STORE}\n")
    request.addfinalizer(lambda: print("\nwall times:", *(f"{n}: {t:.1f}s" for n, t in TIMES),
                                       sep="\n  "))
    return image, source.read_bytes()


def _timeout(store: bytes) -> int:
    from Registry import Registry
    reg = Registry.Registry(io.BytesIO(store))
    raw = reg.open(f"Objects\\{BOOTMGR}\\Elements\\25000004").value("Element").value()
    return int.from_bytes(raw, "little")   # Windows stores it in 1 to 8 bytes


def test_native_path_cannot_reach_lvm(lvm_image):
    image, _ = lvm_image
    proc = bcdtool("enum", str(image))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr


def test_set_timeout_and_undo(lvm_image, tmp_path):
    image, original = lvm_image
    assert _timeout(original) != 5
    size = image.stat().st_size
    proc = bcdtool("bcdedit", "--store", str(image), "--backend", "guestfs",
                   "--backup-dir", str(tmp_path / "journals"), "/set", "{bootmgr}", "timeout", "5")
    assert proc.returncode == 0, proc.stderr
    written = download(image, STORE, tmp_path / "after.bcd", mount=LV)
    assert _timeout(written) == 5                     # read back by guestfish + python-registry
    assert len(written) == len(original)
    subprocess.run(["qemu-img", "check", "-q", str(image)], check=True)
    assert image.stat().st_size >= size

    journal = journal_of(tmp_path / "journals")
    proc = bcdtool("undo", str(journal))
    assert proc.returncode == 0, proc.stderr
    assert sha256(original) in proc.stdout
    restored = download(image, STORE, tmp_path / "undone.bcd", mount=LV)
    assert sha256(restored) == sha256(original)


def test_dry_run_and_read_only_write_nothing(lvm_image, tmp_path):
    image, original = lvm_image
    before = sha256(image.read_bytes())
    proc = bcdtool("bcdedit", "--store", str(image), "--backend", "guestfs", "--dry-run",
                   "/set", "{bootmgr}", "timeout", "7")
    assert proc.returncode == 0, proc.stderr
    assert "nothing written" in proc.stdout
    proc = bcdtool("enum", "--backend", "guestfs", str(image))
    assert proc.returncode == 0 and "Windows Boot Manager" in proc.stdout, proc.stderr
    assert f"{STORE} in {image}: {LV}" in proc.stderr
    assert sha256(image.read_bytes()) == before


def test_serial_console_enable_then_status(lvm_image, tmp_path):
    image, original = lvm_image
    proc = bcdtool("serial-console", "enable", "--backend", "guestfs", "--backup-dir",
                   str(tmp_path / "journals"), str(image))
    assert proc.returncode == 0, proc.stderr
    from Registry import Registry
    written = download(image, STORE, tmp_path / "sac.bcd", mount=LV)
    reg = Registry.Registry(io.BytesIO(written))
    bootems = reg.open(f"Objects\\{BOOTMGR}\\Elements\\26000020").value("Element").value()
    assert int.from_bytes(bootems, "little") == 1
    proc = bcdtool("serial-console", "status", "--backend", "guestfs", str(image))
    assert proc.returncode == 0, proc.stdout + proc.stderr
