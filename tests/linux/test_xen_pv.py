"""Xen PV guests on PCs (Amazon Linux 1 as a PV instance, CentOS 6 under Xen): their console is
the hypervisor's hvc0, not COM1.  The port is taken from the guest's command line, GRUB's serial
terminal (PV-GRUB has no COM port) is neither required nor written, and `console=hvc0` keeps
its bytes (a hypervisor console has no line speed)."""

from __future__ import annotations

from bcdtool.linux import cmdline
from bcdtool.linux.fix import plan_fix
from bcdtool.ops.undo import undo
from fixtures import linux_layouts2 as L2
from fixtures import linux_roots
from tests.linux.linux_helpers import (fix_root, guest_of, problems, report_of, snapshot,
                                       statuses)


def test_amazon_linux_1_pv_needs_nothing(tmp_path):
    root = L2.build("amazonlinux-1-pv", tmp_path / "root")
    report = report_of(root)
    assert report.extra["device"] == "hvc0" and "Xen PV" in report.extra["device_reason"]
    st = statuses(report)
    assert st["grub.terminal-serial"] == st["grub.serial-unit"] == "ok"
    assert plan_fix(guest_of(root), "hvc0").changes == []


def test_centos6_under_xen_gets_no_grub_serial_and_keeps_its_console(tmp_path):
    root = linux_roots.build("centos-6", "broken", tmp_path / "root")
    conf = root / "boot/grub/grub.conf"
    conf.write_text(conf.read_text().replace(" rhgb quiet", " rhgb quiet console=hvc0"))
    before = snapshot(root)
    report = report_of(root)
    assert report.extra["device"] == "hvc0"
    assert "grub.terminal-serial" not in problems(report)
    _, plan, journal = fix_root(root, tmp_path)
    text = conf.read_text()
    assert "serial --unit" not in text and "terminal --timeout" not in text
    assert text.count("rhgb quiet console=hvc0") == 0 and text.count(" console=hvc0\n") == 2
    assert problems(report_of(root)) == set()
    assert plan_fix(guest_of(root), "hvc0").changes == []
    undo(journal.path)
    assert snapshot(root) == before


def test_a_pc_with_com1_is_still_ttys0(tmp_path):
    root = L2.build("amazonlinux-1", tmp_path / "root")
    report = report_of(root)
    assert report.extra["device"] == "ttyS0"
    fix_root(root, tmp_path)
    menu = (root / "boot/grub/menu.lst").read_text()
    assert "serial --unit=0 --speed=115200\nterminal --timeout=5 serial console\n" in menu
    assert "console=tty1 console=ttyS0,115200n8 " in menu


def test_hypervisor_console_names():
    assert [cmdline.hypervisor_console(d) for d in ("hvc0", "xvc0", "hvsi1", "ttyS0", "hvc")] \
        == [True, True, True, False, False]
    # Its speed is not rewritten; a missing console is still added with one.
    assert cmdline.plan_console_edit(["ro console=hvc0"], "hvc0", 115200, append_to=0)[0] == \
        ["ro console=hvc0"]
    assert cmdline.plan_console_edit(["ro"], "hvc0", 115200, append_to=0)[0] == \
        ["ro console=tty0 console=hvc0,115200n8"]
