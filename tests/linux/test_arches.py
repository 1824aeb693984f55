"""Machines that are neither PCs nor Arm: IBM Power (ppc64le, hvc0 and GRUB on IEEE 1275's
ofconsole) and IBM Z (s390x, zipl's boot map: refused with the zipl step)."""

from __future__ import annotations

import pytest

from bcdtool.errors import UnfixableGuestError
from bcdtool.linux.fix import plan_fix
from bcdtool.linux.sources import read_arch
from bcdtool.ops.undo import undo
from fixtures import linux_layouts as L
from fixtures.linux_guests import write
from tests.helpers.common import run_process
from tests.linux.linux_helpers import (fix_root, guest_of, problems, report_of, snapshot,
                                       statuses)


def test_ppc64le_stock_needs_nothing(tmp_path):
    root = L.build("rhel-9-ppc64le", tmp_path / "root")
    report = report_of(root)
    assert report.extra["device"] == "hvc0" and "IBM Power" in report.extra["device_reason"]
    st = statuses(report)
    # No console= at all: hvc0 is the kernel's console by itself, GRUB's menu is on ofconsole,
    # and systemd-getty-generator starts a getty on hvc0.
    assert st["kernel.serial-console"] == st["grub.terminal-serial"] == "ok"
    assert st["getty.serial"] == "ok" and problems(report) == set()
    assert plan_fix(guest_of(root), "hvc0").changes == []


def test_ppc64le_screen_console_gets_hvc0_last_and_no_grub_serial(tmp_path):
    root = write(*L.rhel9_ppc64le(" console=tty0"), tmp_path / "root")
    before = snapshot(root)
    assert problems(report_of(root)) == {"kernel.serial-console"}
    guest, plan, journal = fix_root(root, tmp_path)
    paths = {c.path for c in plan.changes}
    assert "/etc/kernel/cmdline" in paths and "/etc/default/grub" in paths
    grub = (root / "etc/default/grub").read_text()
    assert "console=tty0 console=hvc0,115200n8" in grub
    assert "GRUB_SERIAL_COMMAND" not in grub and "serial" not in \
        (root / "boot/grub2/grub.cfg").read_text()            # no PC COM port on Power
    assert not any("serial-getty@hvc0" in p for p in paths)     # the generator starts it
    assert problems(report_of(root)) == set()
    assert plan_fix(guest_of(root), "hvc0").changes == []
    undo(journal.path)
    assert snapshot(root) == before


def test_s390x_is_refused_with_the_zipl_step(tmp_path):
    root = L.build("rhel-9-s390x", tmp_path / "root")
    report = report_of(root)
    assert report.extra["boot_loaders"] == ["zipl"]
    why = next(f for f in report.findings if f.id == "zipl.bootmap")
    assert "chroot /mnt zipl -V" in why.fix and "/etc/zipl.conf" in why.fix
    with pytest.raises(UnfixableGuestError) as exc:
        plan_fix(guest_of(root), report.extra["device"])
    assert exc.value.exit_code == 36


@pytest.mark.parametrize("machine,endian,want", [
    (0x15, "little", "ppc64"), (0x15, "big", "ppc64"), (0x16, "big", "s390x"),
    (0xF3, "little", "riscv64")])
def test_arch_from_either_endianness(tmp_path, machine, endian, want):
    data = b"\x7fELF" + bytes([2, 1 if endian == "little" else 2, 1, 0]) + bytes(8) + \
        (2).to_bytes(2, endian) + machine.to_bytes(2, endian)
    files, links = L.rhel9_ppc64le()
    files["/usr/bin/bash"] = data.ljust(64, b"\0")
    root = write(files, links, tmp_path / "root")
    guest = guest_of(root)
    read_arch(guest)
    assert guest.arch == want


def test_riscv_defaults_to_ttys0_without_grub_serial_edits(tmp_path):
    files, links = L.rhel9_ppc64le(" console=tty0")
    files["/usr/bin/bash"] = (b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
                              + (2).to_bytes(2, "little") + (0xF3).to_bytes(2, "little")
                              ).ljust(64, b"\0")
    root = write(files, links, tmp_path / "root")
    report = report_of(root)
    assert report.extra["device"] == "ttyS0" and "riscv64" in report.extra["device_reason"]
    fix_root(root, tmp_path)
    assert "serial --unit" not in (root / "etc/default/grub").read_text()


def test_s390x_through_the_cli(tmp_path):
    root = L.build("rhel-9-s390x", tmp_path / "root")
    before = snapshot(root)
    done = run_process("linux", "fix", str(root))
    assert done.returncode == 36 and "zipl -V" in done.stderr and "Traceback" not in done.stderr
    assert snapshot(root) == before

