"""Serial console names of every SoC UART driver (and the hypervisor consoles) are recognised
the same way on the kernel command line, in inittab gettys and in U-Boot scripts: the port the
guest names is the one checked and fixed, never a guessed ttyAMA0."""

from __future__ import annotations

import pytest

from bcdtool.linux import cmdline, uboot
from bcdtool.linux.fix import plan_fix
from bcdtool.ops.undo import undo
from fixtures import linux_layouts as L
from fixtures.linux_guests import write
from tests.linux.linux_helpers import fix_root, guest_of, problems, report_of, snapshot

#: Board UARTs by SoC: i.MX, Zynq, Exynos, Qualcomm, i.MX 8ULP/93, Rockchip, STM32, Tegra,
#: Marvell Armada, NXP S32, Xilinx uartlite, Renesas, Amlogic, SiFive, Xen on Arm.
BOARD_PORTS = ("ttymxc0", "ttyPS0", "ttySAC2", "ttyMSM0", "ttyLP0", "ttyS2", "ttySTM0",
               "ttyTHS2", "ttyMV0", "ttyLF0", "ttyUL0", "ttySC0", "ttyAML0", "ttySIF0", "hvc0")


@pytest.mark.parametrize("port", BOARD_PORTS + ("ttyAMA0",))
def test_the_port_a_board_names_is_checked_and_fixed(tmp_path, port):
    """A u-boot-menu board whose extlinux.conf names the port before the screen: the port is
    kept (its speed too), made the last console, and a second fix changes nothing."""
    files, links = L.debian_uboot()
    conf = files["/boot/extlinux/extlinux.conf"]
    files["/boot/extlinux/extlinux.conf"] = conf.replace(
        " ro quiet\n", f" ro console={port},115200n8 console=tty1\n")
    root = write(files, links, tmp_path / "root")
    before = snapshot(root)
    report = report_of(root)
    assert report.extra["device"] == port, report.extra["device_reason"]
    assert "kernel.serial-console" in problems(report)
    _, _, journal = fix_root(root, tmp_path)
    append = (root / "boot/extlinux/extlinux.conf").read_text()
    assert f"console=tty1 console={port},115200n8\n" in append
    assert "kernel.serial-console" not in problems(report_of(root))
    assert plan_fix(guest_of(root), port).changes == []
    undo(journal.path)
    assert snapshot(root) == before


@pytest.mark.parametrize("port", BOARD_PORTS)
def test_a_board_script_naming_the_port_decides_it(tmp_path, port):
    files, links = L.uboot_script_only()
    cmd = f'setenv bootargs "root=/dev/mmcblk0p2 console={port},115200 console=tty1"\nbooti\n'
    files.update({"/boot/boot.cmd": cmd, "/boot/boot.scr": L.script_image(cmd)})
    report = report_of(write(files, links, tmp_path / "root"))
    assert report.extra["device"] == port
    assert uboot.serial_consoles_named(cmd) == [(port, 115200)]


@pytest.mark.parametrize("port", BOARD_PORTS)
def test_an_inittab_getty_naming_the_port_decides_it(tmp_path, port):
    files, links = L.debian_uboot()
    files["/etc/inittab"] = f"T0:23:respawn:/sbin/getty -L {port} 115200 vt100\n"
    report = report_of(write(files, links, tmp_path / "root"))
    assert report.extra["device"] == port


@pytest.mark.parametrize("name,serial", [
    ("ttySAC2", True), ("ttyTHS0", True), ("ttyMV0", True), ("xvc0", True), ("hvsi0", True),
    ("tty1", False), ("tty0", False), ("ttyS", False), ("ttySACx", False), ("ttyprintk", False)])
def test_serial_device_names(name, serial):
    assert cmdline.parse_console(name).serial is serial
