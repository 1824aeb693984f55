"""Helpers for the Linux guest tests: tree snapshots and kernel-argument lists."""

from __future__ import annotations

import os
from pathlib import Path

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
