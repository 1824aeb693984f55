"""Proof by booting: a real Debian 12 guest shows a serial login only after `bcdtool linux fix`.

The guest (fixtures/debian_guest.py) is a stock minbase install with GRUB for BIOS and no serial
console setting.  The steps, in order, share one private copy of the cached disk:

1. unchanged boot: the guest comes up (its marker on ttyS1) and ttyS0 shows no `login:`;
2. the disk is attached like a rescue machine does (loop mount of the root partition):
   `linux check` finds problems, `linux fix` edits files, `linux check` is clean;
3. fixed boot: ttyS0 shows GRUB, the kernel and `login:`; root logs in there and runs a command;
4. `bcdtool undo` of the fix: every file under /etc and /boot is as before, and a boot shows
   no `login:` on ttyS0 again.

Step 1 is also the proof that the test can fail: it is exactly "the fix was skipped".
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from guest_disk import copy_sparse, mounted, tree_digest
from qemu_guest import Boot

pytestmark = pytest.mark.e2e

EXIT_PROBLEMS = 3
#: How long ttyS0 is still watched after the marker says boot is done, before "no login" counts.
GRACE = 5.0


def bcdtool(*args: str) -> subprocess.CompletedProcess:
    """Run the bcdtool CLI as a user would (never in the guest: on the host, on the mounted root)."""
    return subprocess.run([sys.executable, "-m", "bcdtool", *args], capture_output=True,
                          text=True, timeout=120)


def marker_line(boot: Boot, marker: str) -> str:
    """Wait for the guest's own "boot finished" line on ttyS1 and return it."""
    return boot.wait_for(boot.ttyS1, re.escape(marker) + r"[^\r\n]*\r?\n").group(0).strip()


def assert_no_serial_login(boot: Boot, marker: str) -> str:
    """The guest really booted, yet nothing offers a login on ttyS0."""
    line = marker_line(boot, marker)
    time.sleep(GRACE)  # a getty that would start has had its chance to print
    ttys0 = boot.text(boot.ttyS0)
    assert "login:" not in ttys0, f"ttyS0 offers a login: {ttys0[-500:]!r}"
    assert "serial-getty@ttyS0=inactive" in line, line
    assert "console=ttyS0" not in line, line
    return line


@dataclass
class Attached:
    """The private disk copy and what was done to it from outside."""

    disk: Path
    mountpoint: Path
    offset: int
    before: dict[str, str]
    check_before: subprocess.CompletedProcess
    fix: subprocess.CompletedProcess
    check_after: subprocess.CompletedProcess
    journal: str | None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-debian")


@pytest.fixture(scope="module")
def attached(debian_guest, workdir) -> Attached:
    """Step 2 on a private copy: check, fix, check, from the host, on the mounted root."""
    disk = workdir / "disk.raw"
    copy_sparse(debian_guest.path, disk)
    mnt = workdir / "root"
    with mounted(disk, debian_guest.root_offset, mnt):
        before = tree_digest(mnt)
        check_before = bcdtool("linux", "check", "--json", str(mnt))
        fix = bcdtool("linux", "fix", "--backup-dir", str(workdir / "journal"), str(mnt))
        check_after = bcdtool("linux", "check", "--json", str(mnt))
    m = re.search(r"undo with: bcdtool undo (\S+)", fix.stderr)
    return Attached(disk, mnt, debian_guest.root_offset, before, check_before, fix,
                    check_after, m.group(1) if m else None)


def test_unchanged_guest_boots_without_serial_login(debian_guest, workdir):
    """Without the fix (the control): the guest boots, but ttyS0 stays without a login."""
    with Boot(debian_guest.path, workdir / "boot-unchanged") as boot:
        assert_no_serial_login(boot, debian_guest.marker)
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


def test_fixed_guest_offers_serial_login(debian_guest, attached, workdir):
    """After the fix: GRUB, the kernel and a getty on ttyS0, and root logs in there."""
    assert attached.fix.returncode == 0, "the fix failed; see test_check_then_fix_from_outside"
    with Boot(attached.disk, workdir / "boot-fixed", login_socket=True) as boot:
        console = boot.connect()
        boot.wait_for(boot.ttyS0, r"login:")
        login_at = boot.elapsed()
        ttys0 = boot.text(boot.ttyS0)
        assert "GNU GRUB" in ttys0, ttys0[:2000]            # GRUB's menu on the serial terminal
        assert "Loading Linux" in ttys0, ttys0[:2000]       # GRUB's own lines from grub.cfg
        assert re.search(r"Linux version \d", ttys0), ttys0[:4000]  # kernel: quiet was dropped
        assert "ttyS0" in ttys0                             # the getty's issue banner

        pos = console.mark()
        console.send("root\r")
        _, pos = console.expect(r"Password:", timeout=60, start=pos)
        console.send(debian_guest.password + "\r")
        _, pos = console.expect(r"root@[\w-]+:~# ", timeout=120, start=pos)
        # The guest computes the answer, so the echo of what was typed cannot match.
        console.send("echo E2E-$((6*7)) $(tty) $(uname -s)\r")
        match, _ = console.expect(r"E2E-42 (\S+) (\S+)", timeout=60, start=pos)
        assert match.group(1) == b"/dev/ttyS0" and match.group(2) == b"Linux", match.group(0)
        print(f"fixed boot: login prompt after {login_at:.0f} s, "
              f"command ran after {boot.elapsed():.0f} s")


def test_undo_takes_the_serial_login_away(debian_guest, attached, workdir):
    """`bcdtool undo` of the fix restores every file; a boot shows no serial login again."""
    assert attached.journal, "the fix wrote no journal"
    with mounted(attached.disk, attached.offset, attached.mountpoint) as mnt:
        undo = bcdtool("undo", attached.journal)
        assert undo.returncode == 0, undo
        restored = tree_digest(mnt)
        check = bcdtool("linux", "check", str(mnt))
    changed = {p for p in attached.before.keys() | restored.keys()
               if attached.before.get(p) != restored.get(p)}
    assert not changed, f"undo left these different from before the fix: {sorted(changed)}"
    assert check.returncode == EXIT_PROBLEMS, check

    with Boot(attached.disk, workdir / "boot-undone") as boot:
        assert_no_serial_login(boot, debian_guest.marker)
        print(f"undone boot: marker after {boot.elapsed():.0f} s")
