"""Kernel command-line parsing and the text-preserving console edit."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from bcdtool.linux import cmdline


@pytest.mark.parametrize("text, args", [
    ("", []),
    ("  ro  quiet ", ["ro", "quiet"]),
    ('root=UUID=1 acpi_osi="Windows 2015" quiet',
     ["root=UUID=1", 'acpi_osi="Windows 2015"', "quiet"]),
    ("\tconsole=tty0\tconsole=ttyS0,115200n8", ["console=tty0", "console=ttyS0,115200n8"]),
])
def test_tokenize(text, args):
    assert cmdline.args_of(text) == args
    for tok in cmdline.tokenize(text):
        assert text[tok.start:tok.end] == tok.text


@pytest.mark.parametrize("value, device, speed, serial", [
    ("ttyS0", "ttyS0", None, True),
    ("ttyS0,115200n8", "ttyS0", 115200, True),
    ("ttyS1,9600", "ttyS1", 9600, True),
    ("ttyAMA0", "ttyAMA0", None, True),
    ("tty0", "tty0", None, False),
    ("tty1", "tty1", None, False),
    ("hvc0", "hvc0", None, True),
])
def test_parse_console(value, device, speed, serial):
    c = cmdline.parse_console(value)
    assert (c.device, c.speed, c.serial) == (device, speed, serial)
    assert c.effective_speed == (speed or 9600)


@pytest.mark.parametrize("before, after", [
    # nothing at all: tty0 keeps the screen, ttyS0 gets /dev/console
    ("root=/dev/sda1 ro", "root=/dev/sda1 ro console=tty0 console=ttyS0,115200n8"),
    ("", "console=tty0 console=ttyS0,115200n8"),
    # serial first, tty0 last (the real RHEL 8 EC2 line): move ttyS0 behind tty0
    ("console=ttyS0,115200n8 console=tty0 net.ifnames=0 crashkernel=auto",
     "console=tty0 console=ttyS0,115200n8 net.ifnames=0 crashkernel=auto"),
    # already last without a speed (9600): speed replaced in place
    ("ro console=tty1 console=ttyS0 nvme_core.io_timeout=4294967295",
     "ro console=tty1 console=ttyS0,115200n8 nvme_core.io_timeout=4294967295"),
    # already right (115200 without n8 is the same speed): untouched
    ("console=tty0 console=ttyS0,115200 earlyprintk=ttyS0,115200", None),
    # quiet and rhgb go, everything else stays where it was
    ("ro crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet LANG=en_US.UTF-8",
     "ro crashkernel=auto rd.lvm.lv=rhel/root LANG=en_US.UTF-8 console=tty0 "
     "console=ttyS0,115200n8"),
    ("quiet", "console=tty0 console=ttyS0,115200n8"),
    # another serial port owns the console: ttyS0 goes after it
    ("console=ttyS0 console=ttyS1,9600 x=1", "console=ttyS1,9600 console=ttyS0,115200n8 x=1"),
])
def test_plan_console_edit(before, after):
    new, _ = cmdline.plan_console_edit([before], "ttyS0", 115200, append_to=0)
    assert new[0] == (before if after is None else after)
    again, notes = cmdline.plan_console_edit(new, "ttyS0", 115200, append_to=0)
    assert again == new and notes == []


def test_edit_across_segments_keeps_variable_references():
    # Debian arm64: grub.d appends to $GRUB_CMDLINE_LINUX; the console lives in the later file.
    segments = ["", "$GRUB_CMDLINE_LINUX initcall_blacklist=arm_pmu_acpi_init",
                "$GRUB_CMDLINE_LINUX console=tty0 console=ttyAMA0 earlycon=pl011,0xeffec000"]
    new, _ = cmdline.plan_console_edit(segments, "ttyAMA0", 115200, append_to=2)
    assert new[:2] == segments[:2]
    assert new[2] == "$GRUB_CMDLINE_LINUX console=tty0 console=ttyAMA0,115200n8 " \
                     "earlycon=pl011,0xeffec000"


_arg = st.sampled_from(["ro", "quiet", "rhgb", "root=/dev/vda1", "crashkernel=auto",
                        "console=tty0", "console=tty1", "console=ttyS0", "console=ttyS0,9600",
                        "console=ttyS1", "rd.lvm.lv=vg/root", "$kernelopts"])


@given(st.lists(_arg, max_size=10), st.sampled_from([" ", "  ", "\t"]))
def test_edit_properties(args, sep):
    text = sep.join(args)
    new, _ = cmdline.plan_console_edit([text], "ttyS0", 115200, append_to=0)
    out = cmdline.args_of(new[0])
    last, _ = cmdline.serial_verdict(out)
    assert last.device == "ttyS0" and last.effective_speed == 115200
    # Every other argument survives, in order; tty0 is added only when there was no console.
    kept = [a for a in args if a not in ("quiet", "rhgb") and not a.startswith("console=ttyS0")]
    if not any(a.startswith("console=") for a in args):
        kept.append("console=tty0")
    assert [a for a in out if not a.startswith("console=ttyS0")] == kept
    assert cmdline.plan_console_edit(new, "ttyS0", 115200, append_to=0)[0] == new
