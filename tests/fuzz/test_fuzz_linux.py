"""Fuzz the Linux guest config parsers: /etc/default/grub (shell), grub.cfg, BLS, grubenv,
kernel command lines — through the whole check and fix planning of a guest root.

Seeds are the guest roots of ../shared/corpus/linux; one file of a copied root is mutated (bytes,
or fragments of the syntaxes these parsers handle spliced in), then the guest is read, checked and
a fix is planned (nothing is written).  Only BcdToolError may escape.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcdtool.linux import cmdline, shell
from bcdtool.linux.fix import plan_fix
from bcdtool.linux.paths import open_directory
from bcdtool.linux.rules import evaluate
from bcdtool.linux.sources import read_guest
from tests.helpers.common import CORPUS
from tests.fuzz.fuzz_support import FUZZ, Budget, mutated_text, run_hostile

#: Pieces of shell, GRUB script, BLS and kernel-argument syntax to splice into real files.
FRAGMENTS = [
    'GRUB_CMDLINE_LINUX="',
    "GRUB_CMDLINE_LINUX_DEFAULT=",
    '"',
    "'",
    "\\\n",
    "$(",
    "`",
    "${GRUB_CMDLINE_LINUX}",
    "$X",
    "console=ttyS0,115200n8",
    "console=tty0",
    "console=",
    "console=ttyS0,",
    "console=ttyAMA0,9600",
    'GRUB_TERMINAL="serial console"',
    "GRUB_TERMINAL_OUTPUT=",
    'GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"',
    "serial --speed=",
    "terminal_input serial",
    "linux /vmlinuz root=/dev/sda1 ro",
    "linux16 ",
    "linuxefi ",
    "options ",
    "kernelopts=",
    "set kernelopts=",
    "menuentry 'x' {",
    "}",
    "if [ x ]; then",
    "fi",
    "#",
    "\n",
    "\r\n",
    "\t",
    "\0",
    "\xff",
    "=",
    ";",
    "&&",
    "export ",
    "source /etc/x",
    ". /etc/default/grub.d/*.cfg",
    "# GRUB Environment Block\n",
    "saved_entry=",
    "####",
    "quiet splash",
    "rhgb",
    "\\",
    "'\\''",
    '"$(',
    "\u00e9",
]


@functools.cache
def roots() -> list[Path]:
    base = CORPUS / "linux"
    found = sorted(p for p in base.iterdir() if (p / "etc").is_dir()) if base.is_dir() else []
    if not found:
        pytest.skip("../shared/corpus is absent")
    return found


def files_of(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def check_and_plan(root: Path, rel: Path, data: bytes) -> None:
    """Copy `root`, replace `rel` by `data`, read the guest, evaluate it and plan a fix."""
    with tempfile.TemporaryDirectory(prefix="bcdtool-fuzz-") as tmp:
        copy = Path(tmp) / "root"
        shutil.copytree(root, copy, symlinks=True)
        (copy / rel).write_bytes(data)
        guest = read_guest(open_directory(str(copy)))
        for device in ("ttyS0", "ttyAMA0"):
            evaluate(guest, device)
            plan = plan_fix(guest, device)
            for change in plan.changes:
                change.diff()


def parse_text(text: str) -> None:
    env = shell.parse([("fuzz", text)])
    for name in list(env.values):
        env.chain(name)
    args = cmdline.args_of(text)
    for console in cmdline.consoles(args):
        console.serial, console.effective_speed  # noqa: B018
    cmdline.serial_verdict(args)
    cmdline.tokenize(text)


_BUDGETS: dict[str, Budget] = {}


def budget(name: str) -> Budget:
    return _BUDGETS.setdefault(name, Budget())


@FUZZ
@given(data=st.data())
def test_guest_roots(data):
    root = data.draw(st.sampled_from(roots()))
    target = data.draw(st.sampled_from(files_of(root)))
    blob = data.draw(mutated_text(target.read_bytes(), FRAGMENTS))
    if not budget("roots").spent():
        run_hostile(budget("roots"), "Linux guest check + fix plan", check_and_plan, root,
                    target.relative_to(root), blob)


@FUZZ
@given(data=st.data())
def test_shell_and_cmdline(data):
    root = data.draw(st.sampled_from(roots()))
    target = data.draw(st.sampled_from(files_of(root)))
    text = data.draw(mutated_text(target.read_bytes(), FRAGMENTS)).decode("utf-8", "replace")
    if not budget("shell").spent():
        run_hostile(budget("shell"), "shell + kernel cmdline parsers", parse_text, text)
