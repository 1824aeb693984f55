"""Disks in use by another program are never written: a running QEMU virtual machine's image
(QEMU's own image locks), a claimed block device; and bcdtool's lock keeps QEMU out meanwhile."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bcdtool.errors import UnsafeVolumeError
from bcdtool.locate import open_hive
from bcdtool.locate.commit import commit as commit_handle
from bcdtool.locate.commit import disk_sink
from tests.helpers.common import CORPUS, need_tools, sha
from tests.locate.locate_helpers import build_disk, sac_edit


@pytest.fixture
def image(tmp_path):
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    need_tools("sgdisk", "mkfs.fat", "mcopy")
    return build_disk("uefi", tmp_path, CORPUS).path


def _qemu_can_write(path) -> bool:
    run = subprocess.run(["qemu-io", "-f", "raw", "-c", "read 0 512", str(path)],
                         capture_output=True, text=True)
    return run.returncode == 0 and "lock" not in run.stderr


def test_image_of_a_running_vm_is_refused(image):
    need_tools("qemu-system-x86_64", "qemu-io")
    before = sha(image.read_bytes())
    vm = subprocess.Popen(["qemu-system-x86_64", "-S", "-display", "none", "-monitor", "none",
                           "-serial", "none", "-drive", f"file={image},format=raw,if=virtio"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while _qemu_can_write(image):       # wait until the VM holds its image locks
            assert vm.poll() is None and time.monotonic() < deadline, "the VM did not start"
            time.sleep(0.1)
        with open_hive(image) as handle:    # reading is fine
            with pytest.raises(UnsafeVolumeError, match="running virtual machine"):
                commit_handle(handle, sac_edit(handle.hive)[0])
    finally:
        vm.kill()
        vm.wait()
    assert sha(image.read_bytes()) == before


def test_commit_lock_keeps_qemu_out(image):
    need_tools("qemu-io")
    assert _qemu_can_write(image)
    with open_hive(image) as handle:
        sink = disk_sink(handle.store)
        with sink.lock():                       # what a commit holds from check to audit
            assert not _qemu_can_write(image)
    assert _qemu_can_write(image)


HOLD = """
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL)   # claims the device, as a mount does
print("held", flush=True)
time.sleep(60)
"""


def test_claimed_block_device_is_refused(image):
    need_tools("losetup")
    proc = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot attach a loop device: {proc.stderr.strip()}")
    device = proc.stdout.strip()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, device], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = sha(image.read_bytes())
        with open_hive(device) as handle:
            with pytest.raises(UnsafeVolumeError, match="in use"):
                commit_handle(handle, sac_edit(handle.hive)[0])
        assert sha(image.read_bytes()) == before
    finally:
        holder.kill()
        holder.wait()
        subprocess.run(["losetup", "-d", device], check=True)



def test_undo_under_a_running_vm_is_refused(image):
    from bcdtool.ops.undo import undo

    need_tools("qemu-system-x86_64", "qemu-io")
    with open_hive(image) as handle:
        result = commit_handle(handle, sac_edit(handle.hive)[0])
    edited = sha(image.read_bytes())
    vm = subprocess.Popen(["qemu-system-x86_64", "-S", "-display", "none", "-monitor", "none",
                           "-serial", "none", "-drive", f"file={image},format=raw,if=virtio"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while _qemu_can_write(image):
            assert vm.poll() is None and time.monotonic() < deadline, "the VM did not start"
            time.sleep(0.1)
        with pytest.raises(UnsafeVolumeError):
            undo(result.journal)
    finally:
        vm.kill()
        vm.wait()
    assert sha(image.read_bytes()) == edited
    undo(result.journal)
