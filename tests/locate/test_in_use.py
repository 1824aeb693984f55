"""Disks in use by another program are never written: a running QEMU virtual machine's image
(QEMU's own image locks), a claimed block device; and bcdtool's lock keeps QEMU out meanwhile."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time

import pytest

from bcdtool.errors import UnsafeVolumeError
from bcdtool.locate import open_hive
from bcdtool.locate.commit import commit as commit_handle
from bcdtool.locate.commit import disk_sink
from tests.helpers.common import CORPUS, loop_device, need_tools, sha
from tests.locate.locate_helpers import build_disk, sac_edit


@pytest.fixture
def image(tmp_path):
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    need_tools("sgdisk", "mkfs.fat", "mcopy")
    return build_disk("uefi", tmp_path, CORPUS).path


def _qemu_io(path) -> subprocess.CompletedProcess:
    return subprocess.run(["qemu-io", "-f", "raw", "-c", "read 0 512", str(path)],
                          capture_output=True, text=True, timeout=120)


def _qemu_can_write(path) -> bool:
    run = _qemu_io(path)
    return run.returncode == 0 and "lock" not in run.stderr


def _qemu_sees_a_lock(path) -> bool:
    """Another QEMU holds the image's locks ("Failed to get "write" lock")."""
    run = _qemu_io(path)
    return run.returncode != 0 and "lock" in run.stderr


#: Only a bound on waiting forever for a VM that never takes its locks (QEMU starting on a
#: loaded machine takes what it takes): the tests wait for the locks themselves, not for a time.
VM_HANG_GUARD = 600


@contextlib.contextmanager
def running_vm(image):
    """A paused QEMU VM using `image`, yielded once it holds QEMU's image locks; killed after."""
    need_tools("qemu-system-x86_64", "qemu-io")
    log = image.with_name("qemu.log")
    with open(log, "wb") as stderr:
        vm = subprocess.Popen(["qemu-system-x86_64", "-S", "-display", "none", "-monitor", "none",
                               "-serial", "none", "-drive", f"file={image},format=raw,if=virtio"],
                              stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        guard = time.monotonic() + VM_HANG_GUARD
        while not _qemu_sees_a_lock(image):     # the condition: the VM holds its image locks
            if vm.poll() is not None:
                pytest.fail(f"the VM exited ({vm.returncode}): {log.read_text()[-500:]!r}")
            if time.monotonic() > guard:
                pytest.fail(f"the VM took no image lock in {VM_HANG_GUARD} s (a hang)")
            time.sleep(0.2)
        yield vm
    finally:
        vm.kill()
        vm.wait()


def test_image_of_a_running_vm_is_refused(image):
    before = sha(image.read_bytes())
    with running_vm(image):
        with open_hive(image) as handle:    # reading is fine
            with pytest.raises(UnsafeVolumeError, match="running virtual machine"):
                commit_handle(handle, sac_edit(handle.hive)[0])
    assert sha(image.read_bytes()) == before


def test_commit_lock_keeps_qemu_out(image):
    need_tools("qemu-io")
    assert _qemu_can_write(image)
    with open_hive(image) as handle:
        sink = disk_sink(handle.store)
        with sink.lock():                       # what a commit holds from check to audit
            assert not _qemu_can_write(image)
    assert _qemu_can_write(image)


# Holds the claim until the test closes its stdin (no timer: a slow test must not outlive it).
HOLD = """
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL)   # claims the device, as a mount does
print("held", flush=True)
sys.stdin.read()
"""


def test_claimed_block_device_is_refused(image):
    with loop_device(image) as device:
        holder = subprocess.Popen([sys.executable, "-c", HOLD, device], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "held"
            before = sha(image.read_bytes())
            with open_hive(device) as handle:
                with pytest.raises(UnsafeVolumeError, match="in use"):
                    commit_handle(handle, sac_edit(handle.hive)[0])
            assert sha(image.read_bytes()) == before
        finally:
            holder.stdin.close()
            holder.kill()
            holder.wait()


def test_undo_under_a_running_vm_is_refused(image):
    from bcdtool.ops.undo import undo

    with open_hive(image) as handle:
        result = commit_handle(handle, sac_edit(handle.hive)[0])
    edited = sha(image.read_bytes())
    with running_vm(image):
        with pytest.raises(UnsafeVolumeError):
            undo(result.journal)
    assert sha(image.read_bytes()) == edited
    undo(result.journal)
