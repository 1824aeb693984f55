"""Helpers for hostile-input tests: run the real CLI in a subprocess, make qcow2 overlays."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m bcdtool ARGS` (stdin closed); the timeout only turns a hang into a failure."""
    return subprocess.run([sys.executable, "-m", "bcdtool", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, cwd=REPO,
                          env=dict(os.environ, **(env or {})))


def overlay(path: Path, backing: str, *, fmt: str = "raw", size: str = "64M") -> Path:
    """A qcow2 image at `path` whose header names `backing` verbatim (qemu-img -u: not checked)."""
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", fmt,
                    str(path), size], check=True)
    return path
