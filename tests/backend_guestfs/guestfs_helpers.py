"""Build and read disk images with guestfish itself (an independent reader of what bcdtool
wrote)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.common import REPO, run_process

#: Wall time of every guestfish and bcdtool run, for the report (printed by -s / in failures).
TIMES: list[tuple[str, float]] = []


def need_guestfs() -> None:
    """Skip unless guestfish and the Python binding are installed (make guestfs-test installs
    them)."""
    if shutil.which("guestfish") is None:
        pytest.skip("guestfish is not installed (make guestfs-test installs libguestfs-tools)")
    from bcdtool.backends.guestfs import load_module
    from bcdtool.errors import UnsupportedError
    try:
        load_module()
    except UnsupportedError as exc:
        pytest.skip(str(exc))


def guestfish(image: Path, script: str, *, fmt: str = "qcow2") -> bytes:
    """Run a guestfish script on `image` (one appliance launch); its stdout."""
    start = time.monotonic()
    proc = subprocess.run(["guestfish", f"--format={fmt}", "-a", str(image)],
                          input=("run\n" + script).encode(), capture_output=True, timeout=300)
    TIMES.append(("guestfish " + script.split()[0], time.monotonic() - start))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def download(image: Path, path: str, dest: Path, *, mount: str) -> bytes:
    """The bytes of `path` inside `image`, read by guestfish (not by bcdtool)."""
    guestfish(image, f"mount-ro {mount} /\ndownload {path} {dest}\n")
    return dest.read_bytes()


def bcdtool(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the bcdtool CLI in a fresh process (as a user would), timed."""
    start = time.monotonic()
    proc = run_process(*args, env=env, cwd=REPO, timeout=600)  # the appliance boots under TCG
    TIMES.append(("bcdtool " + " ".join(args[:2]), time.monotonic() - start))
    return proc


def journal_of(folder: Path) -> Path:
    """The one journal.json written under `folder`."""
    found = list(folder.glob("*/journal.json"))
    assert len(found) == 1, found
    return found[0]
