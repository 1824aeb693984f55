"""GRUB settings that only work on gfxterm (GRUB_THEME, GRUB_BACKGROUND) survive the fix.

grub-mkconfig makes an unset GRUB_TERMINAL_OUTPUT `gfxterm`, and 00_header loads the theme and
the background only when gfxterm is an output terminal.  A fix that wrote `serial console` as
the output terminal lost Manjaro's theme at the next grub-mkconfig; the host's real 00_header
shows what the next grub-mkconfig writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures import linux_layouts as L
from fixtures.linux_guests import write
from bcdtool.linux.fix import plan_fix
from tests.linux.linux_helpers import fix_root, guest_of, problems, real_00_header, report_of

THEME = "/usr/share/grub/themes/manjaro/theme.txt"


def _header_lines(root: Path) -> list[str]:
    return [ln.strip() for ln in real_00_header(root).splitlines()]


def test_manjaro_theme_is_kept_at_the_next_grub_mkconfig(tmp_path):
    root = L.build("manjaro", tmp_path / "root")
    write({THEME: "# theme\n"}, {}, root)
    before = _header_lines(root)
    assert "set theme=($root)" + str(root / THEME.lstrip("/")) in before   # the theme is on
    fix_root(root, tmp_path)
    assert problems(report_of(root)) == set()
    after = _header_lines(root)
    assert "set theme=($root)" + str(root / THEME.lstrip("/")) in after    # ... and stays on
    assert "serial --unit=0 --speed=115200" in after
    assert "terminal_input serial console" in after
    assert "terminal_output gfxterm serial" in after


@pytest.mark.parametrize("setting", ['GRUB_BACKGROUND="/boot/grub/splash.png"',
                                     'GRUB_THEME="/boot/grub/themes/x/theme.txt"',
                                     'GRUB_THEME="$(ls /boot/grub/themes/*/theme.txt)"'])
def test_a_guest_with_no_terminal_setting_keeps_gfxterm_for_its_graphics(tmp_path, setting):
    """No GRUB_TERMINAL* at all (Debian's stock default file plus a theme or background, even
    one whose value cannot be known offline): input and output are set apart, gfxterm kept."""
    root = L.build("devuan-5", tmp_path / "root")
    default = root / "etc/default/grub"
    default.write_text(default.read_text() + setting + "\n")
    fix_root(root, tmp_path)
    text = default.read_text()
    assert 'GRUB_TERMINAL_OUTPUT="gfxterm serial"' in text and "GRUB_TERMINAL=" not in \
        text.replace("#GRUB_TERMINAL=", "")
    assert problems(report_of(root)) == set()
    if "$(" not in setting:
        assert "terminal_output gfxterm serial" in _header_lines(root)


def test_without_graphics_the_serial_terminal_stays_plain(tmp_path):
    root = L.build("devuan-5", tmp_path / "root")
    fix_root(root, tmp_path)
    assert 'GRUB_TERMINAL="serial console"' in (root / "etc/default/grub").read_text()
    assert "terminal_output serial console" in _header_lines(root)


def test_grub_terminal_gfxterm_with_a_theme_is_set_apart(tmp_path):
    """GRUB_TERMINAL=gfxterm sets both terminals (gfxterm cannot be an input): with a theme,
    the fix empties it and sets input and output apart, gfxterm kept as an output."""
    root = L.build("manjaro", tmp_path / "root")
    write({THEME: "# theme\n"}, {}, root)
    default = root / "etc/default/grub"
    default.write_text(default.read_text().replace("GRUB_TERMINAL_INPUT=console\n",
                                                   "GRUB_TERMINAL=gfxterm\n"))
    fix_root(root, tmp_path)
    text = default.read_text()
    assert 'GRUB_TERMINAL=""' in text
    assert 'GRUB_TERMINAL_INPUT="serial console"' in text
    assert 'GRUB_TERMINAL_OUTPUT="gfxterm serial"' in text
    after = _header_lines(root)
    assert "set theme=($root)" + str(root / THEME.lstrip("/")) in after
    assert "terminal_input serial console" in after and "terminal_output gfxterm serial" in after
    assert problems(report_of(root)) == set()
    assert plan_fix(guest_of(root), "ttyS0").changes == []
