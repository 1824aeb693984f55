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
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from guest_disk import copy_sparse, mounted, tree_digest
from qemu_guest import Boot, BootTimeout

pytestmark = pytest.mark.e2e

EXIT_PROBLEMS = 3
#: How long ttyS0 is still watched after the marker says boot is done, before "no login" counts.
GRACE = 5.0


def bcdtool(*args: str) -> subprocess.CompletedProcess:
    """Run the bcdtool CLI as a user would: on the host, on the mounted root (never in the guest)."""
    return subprocess.run([sys.executable, "-m", "bcdtool", *args], capture_output=True,
                          text=True, timeout=120)


def marker_line(boot: Boot, marker: str) -> str:
    """Wait for the guest's own "boot finished" line on ttyS1 and return it."""
    return boot.wait_for(boot.ttyS1, re.escape(marker) + r"[^\r\n]*\r?\n").group(0).strip()


def log_in(boot: Boot, password: str, timeout: float) -> bytes:
    """Log in as root on ttyS0 and run a command the guest must compute; return its output."""
    console = boot.console or boot.connect()
    pos = console.mark()
    console.send("root\r")
    _, pos = console.expect(r"Password:", timeout=timeout, start=pos)
    console.send(password + "\r")
    _, pos = console.expect(r"root@[\w-]+:~# ", timeout=120, start=pos)
    # The guest computes 42, so the echo of what was typed cannot match.
    console.send("echo E2E-$((6*7)) $(tty) $(uname -s)\r")
    match, _ = console.expect(r"E2E-42 (\S+) (\S+)", timeout=60, start=pos)
    return match.group(0)


def assert_no_serial_login(boot: Boot, guest) -> str:
    """The guest really booted, yet ttyS0 offers no login: the fixed boot's checks fail here."""
    line = marker_line(boot, guest.marker)
    assert "serial-getty@ttyS0=inactive" in line, line
    assert "console=ttyS0" not in line, line
    # Exactly what test_fixed_guest_offers_serial_login waits for, shown to fail: no prompt
    # comes (a getty that would start has had GRACE seconds), and typing root gets no answer.
    with pytest.raises(BootTimeout):
        boot.wait_for(boot.ttyS0, r"login:", timeout=GRACE)
    with pytest.raises(BootTimeout):
        log_in(boot, guest.password, timeout=GRACE)
    assert "login:" not in boot.text(boot.ttyS0)
    return line


@dataclass
class Attached:
    """The private disk copies and what was done to them from outside."""

    fixed_disk: Path
    undone_disk: Path
    before: dict[str, str]
    check_before: subprocess.CompletedProcess
    fix: subprocess.CompletedProcess
    check_after: subprocess.CompletedProcess
    journal: str | None
    undo: subprocess.CompletedProcess | None
    after_undo: dict[str, str]
    check_undone: subprocess.CompletedProcess | None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-debian")


@pytest.fixture(scope="module")
def attached(debian_guest, workdir):
    """Steps 2 and 4 from the host on mounted roots: check, fix, check; then undo on a copy.

    The undo runs on a byte copy of the fixed disk mounted at the same place (the journal names
    host paths), so the fixed and the undone disk can boot side by side.
    """
    fixed, undone, mnt = workdir / "fixed.raw", workdir / "undone.raw", workdir / "root"
    try:
        copy_sparse(debian_guest.path, fixed)
        with mounted(fixed, debian_guest.root_offset, mnt):
            before = tree_digest(mnt)
            check_before = bcdtool("linux", "check", "--json", str(mnt))
            fix = bcdtool("linux", "fix", "--backup-dir", str(workdir / "journal"), str(mnt))
            check_after = bcdtool("linux", "check", "--json", str(mnt))
        m = re.search(r"undo with: bcdtool undo (\S+)", fix.stderr)
        journal = m.group(1) if m else None
        undo, after_undo, check_undone = None, {}, None
        copy_sparse(fixed, undone)
        if journal:
            with mounted(undone, debian_guest.root_offset, mnt):
                undo = bcdtool("undo", journal)
                after_undo = tree_digest(mnt)
                check_undone = bcdtool("linux", "check", str(mnt))
        yield Attached(fixed, undone, before, check_before, fix, check_after, journal, undo,
                       after_undo, check_undone)
    finally:
        for disk in (fixed, undone):  # about 1 GB each; the serial logs stay for a post-mortem
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
    assert attached.check_before.returncode == EXIT_PROBLEMS, attached.check_before
    report = json.loads(attached.check_before.stdout)
    problems = {f["id"] for f in report["findings"] if f["status"] == "problem"}
    assert not report["ok"]
    assert {"kernel.serial-console", "grub.terminal-serial", "getty.serial"} <= problems, problems

    assert attached.fix.returncode == 0, attached.fix
    # Both the setting and what GRUB reads at boot: no grub-mkconfig ran, so grub.cfg is ours.
    assert "+++ b/etc/default/grub" in attached.fix.stdout, attached.fix.stdout
    assert "+++ b/boot/grub/grub.cfg" in attached.fix.stdout, attached.fix.stdout
    assert attached.journal and Path(attached.journal).exists(), attached.fix.stderr

    assert attached.check_after.returncode == 0, attached.check_after
    after = json.loads(attached.check_after.stdout)
    assert after["ok"], [f for f in after["findings"] if f["status"] == "problem"]


def test_fixed_guest_offers_serial_login(debian_guest, attached, boots):
    """After the fix: GRUB, the kernel and a getty on ttyS0, and root logs in there."""
    assert attached.fix.returncode == 0, "the fix failed; see test_check_then_fix_from_outside"
    boot = boots["fixed"]
    boot.wait_for(boot.ttyS0, r"login:")
    login_at = boot.elapsed()
    ttys0 = boot.text(boot.ttyS0)
    assert "GNU GRUB" in ttys0, ttys0[:2000]            # GRUB's menu on the serial terminal
    assert "Loading Linux" in ttys0, ttys0[:2000]       # GRUB's own lines from grub.cfg
    assert re.search(r"Linux version \d", ttys0), ttys0[:4000]  # kernel: quiet was dropped
    assert "ttyS0" in ttys0                             # the getty's issue banner
    answer = log_in(boot, debian_guest.password, timeout=60)
    assert answer.split()[1:] == [b"/dev/ttyS0", b"Linux"], answer
    print(f"fixed boot: login prompt after {login_at:.0f} s, "
          f"command ran after {boot.elapsed():.0f} s")


def test_undo_takes_the_serial_login_away(debian_guest, attached, boots):
    """`bcdtool undo` of the fix restores every file; a boot shows no serial login again."""
    assert attached.journal, "the fix wrote no journal"
    assert attached.undo is not None and attached.undo.returncode == 0, attached.undo
    changed = {p for p in attached.before.keys() | attached.after_undo.keys()
               if attached.before.get(p) != attached.after_undo.get(p)}
    assert not changed, f"undo left these different from before the fix: {sorted(changed)}"
    assert attached.check_undone.returncode == EXIT_PROBLEMS, attached.check_undone

    boot = boots["undone"]
    assert_no_serial_login(boot, debian_guest)
    print(f"undone boot: marker after {boot.elapsed():.0f} s")
