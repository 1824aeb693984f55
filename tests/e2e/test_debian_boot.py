"""Proof by booting: a real Debian 12 guest shows a serial login only after `bcdtool linux fix`.

The guest (fixtures/debian_guest.py) is a stock minbase install with GRUB for BIOS and no serial
console setting.  The steps (the three boots run side by side, each on its own disk):

1. unchanged boot: the guest comes up (its marker on ttyS1) and ttyS0 shows no `login:`;
2. the disk is attached like a rescue machine does (loop mount of the root partition):
   `linux check` finds problems, `linux fix` edits files, `linux check` is clean;
3. fixed boot: ttyS0 shows GRUB, the kernel and `login:`; root logs in there and runs a command;
4. `bcdtool undo` of the fix: every file under /etc and /boot is as before, and a boot shows
   no `login:` on ttyS0 again.

Step 1 is also the proof that the test can fail: it is exactly "the fix was skipped", and it
asserts that the waits and the login of step 3 time out there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.e2e.guest_disk import copy_sparse, mounted, tree_digest
from tests.e2e.guest_steps import (
    EXIT_PROBLEMS,
    Fixed,
    assert_no_serial_login,
    bcdtool,
    fix_from_outside,
    log_in,
    wait_for_prompt,
)
from tests.e2e.qemu_guest import Boot

pytestmark = pytest.mark.e2e


@dataclass
class Attached:
    """The private disk copies and what was done to them from outside."""

    fixed_disk: Path
    undone_disk: Path
    fixed: Fixed
    undo: object | None
    after_undo: dict[str, str]
    check_undone: object | None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-debian")


@pytest.fixture(scope="module")
def attached(debian_guest, workdir):
    """Steps 2 and 4 from the host on mounted roots: check, fix, check; then undo on a copy.

    The undo runs on a byte copy of the fixed disk mounted at the same place (the journal names
    host paths), so the fixed and the undone disk can boot side by side.
    """
    fixed_disk, undone_disk = workdir / "fixed.raw", workdir / "undone.raw"
    mnt, offset = workdir / "root", debian_guest.root_offset
    try:
        copy_sparse(debian_guest.path, fixed_disk)
        fixed = fix_from_outside(fixed_disk, offset, mnt, workdir / "journal")
        undo, after_undo, check_undone = None, {}, None
        copy_sparse(fixed_disk, undone_disk)
        if fixed.journal:
            with mounted(undone_disk, offset, mnt):
                undo = bcdtool("undo", fixed.journal)
                after_undo = tree_digest(mnt)
                check_undone = bcdtool("linux", "check", str(mnt))
        yield Attached(fixed_disk, undone_disk, fixed, undo, after_undo, check_undone)
    finally:
        for disk in (fixed_disk, undone_disk):  # ~1 GB each; serial logs stay for a post-mortem
            disk.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def boots(debian_guest, attached, workdir):
    """The unchanged, the fixed and the undone disk booting at the same time."""
    started = {}
    try:
        for name, disk in (("unchanged", debian_guest.path), ("fixed", attached.fixed_disk),
                           ("undone", attached.undone_disk)):
            started[name] = Boot(disk, workdir / f"boot-{name}", login_socket=True)
        yield started
    finally:
        for boot in started.values():
            boot.stop()


def test_unchanged_guest_boots_without_serial_login(debian_guest, boots):
    """Without the fix (the control): the guest boots, but ttyS0 stays without a login."""
    boot = boots["unchanged"]
    assert_no_serial_login(boot, debian_guest)
    print(f"unchanged boot: marker after {boot.elapsed():.0f} s")


def test_check_then_fix_from_outside(attached):
    """`linux check` finds problems, `linux fix` edits the mounted root, `check` is then clean."""
    fixed = attached.fixed
    assert fixed.check_before.returncode == EXIT_PROBLEMS, fixed.check_before
    report = json.loads(fixed.check_before.stdout)
    problems = {f["id"] for f in report["findings"] if f["status"] == "problem"}
    assert not report["ok"]
    assert {"kernel.serial-console", "grub.terminal-serial", "getty.serial"} <= problems, problems

    assert fixed.fix.returncode == 0, fixed.fix
    # Both the setting and what GRUB reads at boot: no grub-mkconfig ran, so grub.cfg is ours.
    assert "+++ b/etc/default/grub" in fixed.fix.stdout, fixed.fix.stdout
    assert "+++ b/boot/grub/grub.cfg" in fixed.fix.stdout, fixed.fix.stdout
    assert fixed.journal and Path(fixed.journal).exists(), fixed.fix.stderr

    assert fixed.check_after.returncode == 0, fixed.check_after
    after = json.loads(fixed.check_after.stdout)
    assert after["ok"], [f for f in after["findings"] if f["status"] == "problem"]


def test_fixed_guest_offers_serial_login(debian_guest, attached, boots):
    """After the fix: GRUB, the kernel and a getty on ttyS0, and root logs in there."""
    assert attached.fixed.fix.returncode == 0, "the fix failed: see the check-then-fix test"
    boot = boots["fixed"]
    line = wait_for_prompt(boot, debian_guest.marker)
    login_at = boot.elapsed()
    assert "console=ttyS0,115200" in line, line  # what the kernel really got from grub.cfg
    ttys0 = boot.text(boot.ttyS0)
    assert "GNU GRUB" in ttys0, ttys0[:2000]            # GRUB's menu on the serial terminal
    assert "Loading Linux" in ttys0, ttys0[:2000]       # GRUB's own lines from grub.cfg
    assert re.search(r"Linux version \d", ttys0), ttys0[:4000]  # kernel: quiet was dropped
    assert "ttyS0" in ttys0                             # the getty's issue banner
    answer = log_in(boot, debian_guest.password)
    assert answer.split()[1:] == [b"/dev/ttyS0", b"Linux"], answer
    print(f"fixed boot: login prompt after {login_at:.0f} s, "
          f"command ran after {boot.elapsed():.0f} s")


def test_undo_takes_the_serial_login_away(debian_guest, attached, boots):
    """`bcdtool undo` of the fix restores every file; a boot shows no serial login again."""
    assert attached.fixed.journal, "the fix wrote no journal"
    assert attached.undo is not None and attached.undo.returncode == 0, attached.undo
    before = attached.fixed.before
    changed = {p for p in before.keys() | attached.after_undo.keys()
               if before.get(p) != attached.after_undo.get(p)}
    assert not changed, f"undo left these different from before the fix: {sorted(changed)}"
    assert attached.check_undone.returncode == EXIT_PROBLEMS, attached.check_undone

    boot = boots["undone"]
    assert_no_serial_login(boot, debian_guest)
    print(f"undone boot: marker after {boot.elapsed():.0f} s")
