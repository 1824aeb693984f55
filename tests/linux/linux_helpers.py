"""Helpers for the Linux guest tests: tree snapshots and kernel-argument lists."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bcdtool.linux import cmdline
from bcdtool.linux.fix import apply_plan, plan_fix
from bcdtool.linux.paths import open_directory
from bcdtool.linux.rules import evaluate
from bcdtool.linux.sources import default_device, read_guest


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under `root`: ("link", target) | ("file", bytes, mode) | ("dir",)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir",)
            else:
                out[rel] = ("file", path.read_bytes(), path.stat().st_mode & 0o7777)
    return out


def guest_of(root: Path, device: str | None = None):
    """Read a guest root directory."""
    return read_guest(open_directory(str(root)), device)


def report_of(root: Path, device: str | None = None):
    """The check report of a guest root directory."""
    guest = guest_of(root, device)
    return evaluate(guest, device or default_device(guest))


def problems(report) -> set[str]:
    """The ids of the findings that are problems."""
    return {f.id for f in report.findings if f.status == "problem"}


def fix_root(root: Path, tmp_path: Path, device: str | None = None):
    """Plan and apply `linux fix` on a guest root directory: (guest, plan, journal or None)."""
    guest = guest_of(root, device)
    plan = plan_fix(guest, guest.device)
    journal = apply_plan(guest, plan, backup_dir=str(tmp_path / "j")) if plan.changes else None
    return guest, plan, journal


def statuses(report) -> dict[str, str]:
    """Finding id -> status."""
    return {f.id: f.status for f in report.findings}


def kernel_arg_lists(root: Path) -> list[list[str]]:
    """The argument list of every kernel line (grub.cfg, BLS, grub.conf) and of grubenv."""
    guest = guest_of(root)
    lines = [cmdline.args_of(k.args_text) for k in guest.kernel_lines]
    if guest.grubenv is not None and "kernelopts" in guest.grubenv.values:
        lines.append(cmdline.args_of(guest.grubenv.values["kernelopts"]))
    env = guest.grub_env
    for name in ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"):
        if env.values.get(name) is not None:
            lines.append(cmdline.args_of(env.values[name]))
    return lines


#: The GRUB_* settings grub-mkconfig passes to 00_header that these tests look at.
GRUB_NAMES = ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT", "GRUB_TERMINAL",
              "GRUB_TERMINAL_INPUT", "GRUB_TERMINAL_OUTPUT", "GRUB_SERIAL_COMMAND", "GRUB_THEME",
              "GRUB_BACKGROUND")


def source_grub_defaults(root: Path) -> dict[str, str]:
    """The GRUB_* variables as grub-mkconfig sources them (real sh, same order and glob)."""
    script = ('. "$1/etc/default/grub"; for x in "$1"/etc/default/grub.d/*.cfg; do '
              '[ -e "$x" ] && . "$x"; done; '
              + "".join(f'printf "%s\\0" "${{{n}-}}"; ' for n in GRUB_NAMES))
    out = subprocess.run(["sh", "-c", script, "sh", str(root)], capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin"}).stdout
    return dict(zip(GRUB_NAMES, out.split("\0")[:-1], strict=True))


def real_00_header(root: Path) -> str:
    """What the host's real /etc/grub.d/00_header writes for the guest's settings, given as
    grub-mkconfig gives them: GRUB_TERMINAL split into input and output, an unset output
    terminal made gfxterm, a theme or background file named inside the guest root."""
    header = "/etc/grub.d/00_header"
    if not (os.path.exists(header) and os.path.exists("/usr/share/grub/grub-mkconfig_lib")):
        pytest.skip("GRUB's 00_header is not installed on this host")
    env = {k: v for k, v in source_grub_defaults(root).items()
           if k.startswith(("GRUB_TERMINAL", "GRUB_SERIAL")) and v}
    if env.get("GRUB_TERMINAL"):            # grub-mkconfig splits it so
        env["GRUB_TERMINAL_INPUT"] = env["GRUB_TERMINAL_OUTPUT"] = env.pop("GRUB_TERMINAL")
    env.setdefault("GRUB_TERMINAL_OUTPUT", "gfxterm")      # grub-mkconfig's default
    for name, value in source_grub_defaults(root).items():
        if name in ("GRUB_THEME", "GRUB_BACKGROUND") and value:
            env[name] = str(root / value.lstrip("/"))
    # grub-probe answers nothing: the theme's file system counts as readable by GRUB.
    env.update(PATH="/usr/bin:/bin:/usr/sbin:/sbin", pkgdatadir="/usr/share/grub",
               grub_probe="/bin/true")
    return subprocess.run(["sh", header], capture_output=True, text=True, env=env,
                          cwd=root).stdout
