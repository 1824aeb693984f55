"""Proof by booting, UEFI flavour: the same Debian guest on a GPT disk with an ESP, under OVMF.

OVMF itself mirrors its console (and so GRUB's EFI console) to the first serial port, so firmware
and GRUB text on ttyS0 prove nothing here: the assertions are on the kernel's lines and `login:`.
The undo is proven by the BIOS flavour; here: unchanged boot without a serial login, fixed boot
with kernel lines, a prompt and a root login, both booting side by side.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.e2e.guest_disk import copy_sparse
from tests.e2e.guest_steps import (EXIT_PROBLEMS, assert_no_serial_login, fix_from_outside, log_in,
                         wait_for_prompt)
from tests.e2e.qemu_guest import Boot

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-debian-uefi")


@pytest.fixture(scope="module")
def fixed_uefi(debian_uefi_guest, workdir):
    """A private copy of the UEFI disk, fixed from outside through its mounted root partition."""
    disk = workdir / "fixed.raw"
    try:
        copy_sparse(debian_uefi_guest.path, disk)
        yield disk, fix_from_outside(disk, debian_uefi_guest.root_offset, workdir / "root",
                                     workdir / "journal")
    finally:
        disk.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def uefi_boots(debian_uefi_guest, fixed_uefi, workdir):
    """The unchanged and the fixed UEFI disk booting at the same time."""
    started = {}
    try:
        for name, disk in (("unchanged", debian_uefi_guest.path), ("fixed", fixed_uefi[0])):
            started[name] = Boot(disk, workdir / f"boot-{name}", login_socket=True, uefi=True)
        yield started
    finally:
        for boot in started.values():
            boot.stop()


def test_uefi_unchanged_guest_boots_without_serial_login(debian_uefi_guest, uefi_boots):
    """The control: firmware text on ttyS0 perhaps, but no kernel lines and no login."""
    boot = uefi_boots["unchanged"]
    assert_no_serial_login(boot, debian_uefi_guest)
    assert not re.search(r"Linux version \d", boot.text(boot.ttyS0))
    print(f"UEFI unchanged boot: marker after {boot.elapsed():.0f} s")


def test_uefi_fixed_guest_offers_serial_login(debian_uefi_guest, fixed_uefi, uefi_boots):
    """After `linux check` (problems), `linux fix` and a clean `check`: kernel lines and a login."""
    fixed = fixed_uefi[1]
    assert fixed.check_before.returncode == EXIT_PROBLEMS, fixed.check_before
    assert fixed.fix.returncode == 0, fixed.fix
    assert fixed.check_after.returncode == 0, fixed.check_after
    boot = uefi_boots["fixed"]
    line = wait_for_prompt(boot, debian_uefi_guest.marker)
    login_at = boot.elapsed()
    assert "console=ttyS0,115200" in line, line
    assert re.search(r"Linux version \d", boot.text(boot.ttyS0)), boot.text(boot.ttyS0)[-3000:]
    answer = log_in(boot, debian_uefi_guest.password)
    assert answer.split()[1:] == [b"/dev/ttyS0", b"Linux"], answer
    print(f"UEFI fixed boot: login prompt after {login_at:.0f} s, "
          f"command ran after {boot.elapsed():.0f} s")
