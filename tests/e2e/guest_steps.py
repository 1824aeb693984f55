"""The steps the boot proofs share: fix a guest from outside, wait for its marker, log in."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.e2e.guest_disk import mounted, tree_digest
from tests.e2e.qemu_guest import Boot, BootTimeout
# The bcdtool CLI as a user runs it: on the host, on the mounted root (not in the guest).
from tests.helpers.common import run_process as bcdtool

EXIT_PROBLEMS = 3
#: How long ttyS0 is still watched after the marker says boot is done, before "no login" counts.
GRACE = 5.0
#: Bound on each step of a login that must succeed: a hang guard, no speed budget (TCG on a
#: loaded 2-core host is slow; the boot itself is bounded by qemu_guest.BOOT_TIMEOUT).
LOGIN_GUARD = 600.0


@dataclass
class Fixed:
    """What `check`, `fix`, `check` did to a mounted guest root."""

    before: dict[str, str]
    check_before: subprocess.CompletedProcess
    fix: subprocess.CompletedProcess
    check_after: subprocess.CompletedProcess
    journal: str | None


def fix_from_outside(disk: Path, offset: int, mountpoint: Path, journal_dir: Path) -> Fixed:
    """Mount the guest's root like a rescue machine, run check, fix, check, and unmount."""
    with mounted(disk, offset, mountpoint):
        before = tree_digest(mountpoint)
        check_before = bcdtool("linux", "check", "--json", str(mountpoint))
        fix = bcdtool("linux", "fix", "--backup-dir", str(journal_dir), str(mountpoint))
        check_after = bcdtool("linux", "check", "--json", str(mountpoint))
    m = re.search(r"undo with: bcdtool undo (\S+)", fix.stderr)
    return Fixed(before, check_before, fix, check_after, m.group(1) if m else None)


def marker_line(boot: Boot, marker: str) -> str:
    """Wait for the guest's own "boot finished" line on ttyS1 and return it."""
    return boot.wait_for(boot.ttyS1, re.escape(marker) + r"[^\r\n]*\r?\n").group(0).strip()


def wait_for_prompt(boot: Boot, marker: str) -> str:
    """Wait for boot to finish, then for `login:` on ttyS0 (both within the boot's bound);
    return the marker line."""
    line = marker_line(boot, marker)
    boot.wait_for(boot.ttyS0, r"login:")
    return line


def log_in(boot: Boot, password: str, timeout: float = LOGIN_GUARD) -> bytes:
    """Log in as root on ttyS0 and run a command the guest must compute; return its output.

    `timeout` bounds the wait for `Password:` (the no-login controls pass GRACE there)."""
    console = boot.console or boot.connect()
    pos = console.mark()
    console.send("root\r")
    _, pos = console.expect(r"Password:", timeout=timeout, start=pos)
    console.send(password + "\r")
    _, pos = console.expect(r"root@[\w-]+:~# ", timeout=LOGIN_GUARD, start=pos)
    # The guest computes 42, so the echo of what was typed cannot match.
    console.send("echo E2E-$((6*7)) $(tty) $(uname -s)\r")
    match, _ = console.expect(r"E2E-42 (\S+) (\S+)", timeout=LOGIN_GUARD, start=pos)
    return match.group(0)


def assert_no_serial_login(boot: Boot, guest, getty: str = "serial-getty@ttyS0=inactive") -> str:
    """The guest really booted (its marker says `getty`), yet ttyS0 offers no login: the fixed
    boot's checks fail here."""
    line = marker_line(boot, guest.marker)
    assert getty in line, line
    assert "console=ttyS0" not in line, line
    # Exactly what the fixed boot's test waits for, shown to fail: no prompt comes (a getty
    # that would start has had GRACE seconds), and typing root gets no answer.
    with pytest.raises(BootTimeout):
        boot.wait_for(boot.ttyS0, r"login:", timeout=GRACE)
    with pytest.raises(BootTimeout):
        log_in(boot, guest.password, timeout=GRACE)
    assert "login:" not in boot.text(boot.ttyS0)
    return line
