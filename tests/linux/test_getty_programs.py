"""A getty that drives virtual consoles only (mingetty, fgetty) on the serial port is no login
prompt: the check reports it, the fix runs agetty on that same line (SUSE's own serial form),
and a second fix changes nothing; undo restores the bytes."""

from __future__ import annotations

import pytest

from bcdtool.linux import inittab
from bcdtool.linux.fix import plan_fix
from bcdtool.ops.undo import undo
from fixtures import linux_guests
from fixtures import linux_layouts as layouts
from tests.linux.linux_helpers import fix_root, guest_of, problems, report_of, snapshot

MINGETTY_S0 = "S0:12345:respawn:/sbin/mingetty ttyS0\n"


def _sles11(tmp_path, extra: str):
    root = linux_guests.build("sles-11", tmp_path / "root")
    tab = root / "etc/inittab"
    tab.write_text(tab.read_text() + extra)
    return root, tab


@pytest.mark.parametrize("line", [MINGETTY_S0,
                                  "S0:2345:respawn:/sbin/mingetty --noclear /dev/ttyS0\n",
                                  "S0:2345:respawn:/usr/bin/fgetty ttyS0\n"])
def test_a_vc_only_getty_on_the_port_is_reported_and_replaced_by_agetty(tmp_path, line):
    root, tab = _sles11(tmp_path, line)
    before = snapshot(root)
    getty = next(f for f in report_of(root).findings if f.id == "getty.serial")
    assert getty.status == "problem" and "cannot drive a serial line" in getty.message
    assert getty.evidence[0].line == len(tab.read_text().splitlines())
    _, plan, journal = fix_root(root, tmp_path)
    ident = line.split(":", 1)[0]
    assert tab.read_text().splitlines()[-1] == \
        f"{ident}:{line.split(':')[1]}:respawn:/sbin/agetty -L ttyS0 115200 vt100"
    assert "getty.serial" not in problems(report_of(root))
    assert tab.read_text().count("ttyS0 115200") == 1             # replaced, not added beside
    assert plan_fix(guest_of(root), "ttyS0").changes == []        # a second fix: nothing
    undo(journal.path)
    assert snapshot(root) == before


def test_a_working_getty_beside_mingetty_is_ok(tmp_path):
    root, _ = _sles11(tmp_path,
                      MINGETTY_S0 + "T0:2345:respawn:/sbin/agetty -L ttyS0 115200 vt100\n")
    getty = next(f for f in report_of(root).findings if f.id == "getty.serial")
    assert getty.status == "ok", getty


def test_mingetty_on_virtual_consoles_is_left_alone(tmp_path):
    root, tab = _sles11(tmp_path, "")
    text = tab.read_text()
    fix_root(root, tmp_path)
    after = tab.read_text()
    assert after.startswith(text) and after.count("mingetty") == text.count("mingetty") == 6


def test_program_names():
    entries = inittab.entries("a:1:respawn:/bin/busybox getty -L ttyS0 115200\n"
                              "b:1:respawn:-/sbin/mingetty tty1\nc:1:respawn:/sbin/agetty tty2\n")
    assert [inittab.program(e) for e in entries] == ["getty", "mingetty", "agetty"]
    assert [inittab.vc_only(e) for e in entries] == [False, True, False]


@pytest.mark.parametrize("line,after", [
    ("s1:12345:respawn:/sbin/agetty -L ttyS0 9600 vt100",            # Slackware's stock line
     "s1:12345:respawn:/sbin/agetty -L ttyS0 115200 vt100"),
    ("S0:12345:respawn:/sbin/agetty -L 9600 ttyS0 vt102",            # SUSE's order
     "S0:12345:respawn:/sbin/agetty -L 115200 ttyS0 vt102"),
    ("s0:12345:respawn:/sbin/agetty 9600 ttyS0 vt100",               # Gentoo's
     "s0:12345:respawn:/sbin/agetty 115200 ttyS0 vt100"),
    ("T0:23:respawn:/sbin/getty -L /dev/ttyS0 9600 vt100",           # Debian's, /dev/ path
     "T0:23:respawn:/sbin/getty -L /dev/ttyS0 115200 vt100"),
    ("co:2345:respawn:/sbin/agetty --keep-baud 115200,38400,9600 ttyS0 vt220", None),
])
def test_sysvinit_getty_spellings_get_the_consoles_speed(tmp_path, line, after):
    """Each distribution writes its serial inittab line its own way: the line is found (no
    second getty added), its speed set to the console's in place (a list that holds it is
    kept), and a second fix changes nothing."""
    root = layouts.build("devuan-5", tmp_path / "root")
    tab = root / "etc/inittab"
    tab.write_text(tab.read_text() + line + "\n")
    fix_root(root, tmp_path)
    text = tab.read_text()
    assert text.splitlines()[-1] == (after or line)
    assert sum("ttyS0" in ln and not ln.startswith("#") for ln in text.splitlines()) == 1
    assert problems(report_of(root)) == set()
    assert plan_fix(guest_of(root), "ttyS0").changes == []
