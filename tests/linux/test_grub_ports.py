"""GRUB names its serial port many ways: `--unit=N`, `--port=0x3f8` (an I/O address),
`--port=comN`/`--port=efiN`, a bare `comN`/`efiN` word (EFI GRUB's SERIAL_IO devices), and
the terminals `serial_comN`/`serial_efiN`.  Each is compared with the kernel's ttyS port; the
fix points a wrong one at the right port in the same spelling and leaves a right one as
written (a second fix changes nothing)."""

from __future__ import annotations

import pytest

from bcdtool.linux.fix import plan_fix
from bcdtool.linux.rules import serial_unit, terminal_units
from fixtures import linux_guests
from tests.linux.linux_helpers import fix_root, guest_of, problems, report_of

CASES = [  # (serial command, output terminal, right port?, the command after the fix)
    ("serial --unit=0 --speed=115200", "serial console", True, None),
    ("serial --port=0x3f8 --speed=115200", "serial console", True, None),
    ("serial --port=0x2f8 --speed=115200", "serial console", False,
     "serial --unit=0 --speed=115200"),
    ("serial efi0 --speed=115200", "serial_efi0 console", True, None),
    ("serial --port=efi0 --speed=115200", "serial console", True, None),
    ("serial --port=efi1 --speed=115200", "serial_efi1 console", False,
     "serial --port=efi0 --speed=115200"),
    ("serial com1 --speed=115200", "serial_com1 console", False, "serial com0 --speed=115200"),
    ("serial --speed=115200 efi1", "serial console", False, "serial --speed=115200 efi0"),
]


def _guest(tmp_path, command: str, output: str):
    files, links = linux_guests.grub_com2()
    files["/etc/default/grub"] = files["/etc/default/grub"].replace(
        "serial --unit=1 --speed=115200", command).replace(
        'GRUB_TERMINAL="serial console"', f'GRUB_TERMINAL_INPUT="serial console"\n'
                                          f'GRUB_TERMINAL_OUTPUT="{output}"')
    files["/boot/grub/grub.cfg"] = files["/boot/grub/grub.cfg"].replace(
        "serial --unit=1 --speed=115200", command).replace(
        "terminal_output serial_com1 console", f"terminal_output {output}")
    return linux_guests.write(files, links, tmp_path / "root")


@pytest.mark.parametrize("command,output,right,after", CASES)
def test_grub_port_spellings(tmp_path, command, output, right, after):
    root = _guest(tmp_path, command, output)
    report = report_of(root)
    assert ("grub.serial-unit" in problems(report)) is (not right), report.findings
    assert "grub.terminal-serial" not in problems(report)       # serial_efiN is serial
    fix_root(root, tmp_path)
    cfg = (root / "boot/grub/grub.cfg").read_text()
    assert (after or command) in cfg
    assert (after or command) in (root / "etc/default/grub").read_text()
    assert "serial_com1" not in cfg and "serial_efi1" not in cfg
    assert problems(report_of(root)) == set()
    assert plan_fix(guest_of(root), "ttyS0").changes == []


def test_unit_readers():
    assert [serial_unit(c) for c in ("serial", "serial --unit=2", "serial --port=0x2e8",
                                     "serial efi1", "serial --port=com3", "serial --port=mmio,0x1")
            ] == [0, 2, 3, 1, 3, None]
    assert terminal_units(["serial_efi0", "serial_com2", "serial", "console"]) == [0, 2]
