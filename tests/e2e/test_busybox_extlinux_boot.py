"""Proof by booting: a Debian guest booted by extlinux with BusyBox init gets a serial login only
after `bcdtool linux fix`, and loses it again after `bcdtool undo`.

The guest (fixtures/busybox_guest.py) boots Debian's kernel from Debian's extlinux
(syslinux-common's MBR), and /sbin/init is busybox-static reading a BusyBox-form /etc/inittab;
like a stock image it has no serial console setting.  Three disks boot side by side:

1. unchanged: the guest comes up (its marker on ttyS1) and ttyS0 shows no `login:`;
2. fixed from outside on the mounted root (`linux check` finds the extlinux, kernel and BusyBox
   getty problems, `linux fix`, `linux check` is clean): extlinux's menu, the kernel's lines and
   `login:` on ttyS0, and root logs in there;
3. the fix undone on a copy (`bcdtool undo`): every file under /etc and /boot as before, and no
   `login:` on ttyS0 again.
Step 1 and 3 prove the test can fail: they assert that the waits and the login of step 2 time out.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.guest_disk import copy_sparse, mounted, tree_digest
from tests.e2e.guest_steps import (EXIT_PROBLEMS, assert_no_serial_login, bcdtool,
                                   fix_from_outside, log_in, wait_for_prompt)
from tests.e2e.qemu_guest import Boot

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-busybox")


@pytest.fixture(scope="module")
def disks(busybox_guest, workdir):
    """Fixed and undone private copies, with what check/fix/undo said."""
    fixed_disk, undone_disk = workdir / "fixed.raw", workdir / "undone.raw"
    mnt, offset = workdir / "root", busybox_guest.root_offset
    try:
        copy_sparse(busybox_guest.path, fixed_disk)
        fixed = fix_from_outside(fixed_disk, offset, mnt, workdir / "journal")
        undo = after_undo = check_undone = None
        copy_sparse(fixed_disk, undone_disk)
        if fixed.journal:
            with mounted(undone_disk, offset, mnt):
                undo = bcdtool("undo", fixed.journal)
                after_undo = tree_digest(mnt)
                check_undone = bcdtool("linux", "check", str(mnt))
        yield {"fixed_disk": fixed_disk, "undone_disk": undone_disk, "fixed": fixed,
               "undo": undo, "after_undo": after_undo, "check_undone": check_undone}
    finally:
        for disk in (fixed_disk, undone_disk):
            disk.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def boots(busybox_guest, disks, workdir):
    started = {}
    try:
        for name, disk in (("unchanged", busybox_guest.path), ("fixed", disks["fixed_disk"]),
                           ("undone", disks["undone_disk"])):
            started[name] = Boot(disk, workdir / f"boot-{name}", login_socket=True)
        yield started
    finally:
        for boot in started.values():
            boot.stop()


def _assert_silent(boot: Boot, guest) -> None:
    """Booted (marker on ttyS1), but no getty on ttyS0, no login and no kernel lines there."""
    assert_no_serial_login(boot, guest, getty="getty-ttyS0=inactive")
    assert not re.search(r"Linux version \d", boot.text(boot.ttyS0))


def test_unchanged_busybox_guest_is_silent_on_ttyS0(busybox_guest, boots):
    _assert_silent(boots["unchanged"], busybox_guest)
    print(f"extlinux+BusyBox unchanged boot: marker after {boots['unchanged'].elapsed():.0f} s")


def test_check_then_fix_extlinux_and_inittab(disks):
    fixed = disks["fixed"]
    assert fixed.check_before.returncode == EXIT_PROBLEMS, fixed.check_before
    report = json.loads(fixed.check_before.stdout)
    problems = {f["id"] for f in report["findings"] if f["status"] == "problem"}
    assert problems == {"kernel.serial-console", "extlinux.serial", "getty.serial"}, problems
    assert report["boot_loaders"] == ["extlinux/syslinux"] and report["init"] == "busybox"
    getty = next(f for f in report["findings"] if f["id"] == "getty.serial")
    assert "ttyS0::respawn:" in getty["fix"] and "systemd" not in getty["fix"]
    assert not any("GRUB" in (f["fix"] or "") for f in report["findings"])

    assert fixed.fix.returncode == 0, fixed.fix
    assert "+++ b/boot/extlinux/extlinux.conf" in fixed.fix.stdout, fixed.fix.stdout
    assert "+SERIAL 0 115200" in fixed.fix.stdout
    assert "+ttyS0::respawn:/sbin/getty -L ttyS0 115200 vt100" in fixed.fix.stdout
    assert fixed.check_after.returncode == 0, fixed.check_after


def test_fixed_busybox_guest_offers_serial_login(busybox_guest, disks, boots):
    assert disks["fixed"].fix.returncode == 0, "the fix failed: see the check-then-fix test"
    boot = boots["fixed"]
    line = wait_for_prompt(boot, busybox_guest.marker)
    login_at = boot.elapsed()
    assert "console=ttyS0,115200n8" in line and "getty-ttyS0=active" in line, line
    ttys0 = boot.text(boot.ttyS0)
    assert re.search(r"Linux version \d", ttys0), ttys0[:4000]   # the kernel, quiet dropped
    assert "SYSLINUX" in ttys0 or "EXTLINUX" in ttys0, ttys0[:2000]  # extlinux on the port
    answer = log_in(boot, busybox_guest.password)
    assert answer.split()[1:] == [b"/dev/ttyS0", b"Linux"], answer
    print(f"extlinux+BusyBox fixed boot: login prompt after {login_at:.0f} s, "
          f"command ran after {boot.elapsed():.0f} s")


def test_undo_silences_the_busybox_guest_again(busybox_guest, disks, boots):
    assert disks["undo"] is not None and disks["undo"].returncode == 0, disks["undo"]
    before, after = disks["fixed"].before, disks["after_undo"]
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    assert not changed, f"undo left these different: {sorted(changed)}"
    assert disks["check_undone"].returncode == EXIT_PROBLEMS, disks["check_undone"]
    _assert_silent(boots["undone"], busybox_guest)
    print(f"extlinux+BusyBox undone boot: marker after {boots['undone'].elapsed():.0f} s")
