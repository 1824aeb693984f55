"""`batch --output FILE` is opened like every user-named file bcdtool writes (write/fileio.py
`open_append`): never through a symlink, never a FIFO (no wait for a reader), folder or device,
never a file with other hard links.  The refusal (exit 31) comes before any target is touched;
`--continue` reads the previous output the same way.  A FIFO *manifest* is read by design
(`batch <(gen)`): a FIFO with a writer works."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bcdtool.errors import UnsafePathError, WriteError
from tests.helpers.common import CORPUS, run_process, sha

STORE = "bcd/win10-uefi-installed-systemd-boot.bcd"


def bcdtool(args, state: Path, cwd: Path) -> subprocess.CompletedProcess:
    """`bcdtool ARGS` as a process run from `cwd` with its own state folder."""
    return run_process(*args, state=state, cwd=cwd)


@pytest.fixture
def job(tmp_path) -> tuple[Path, Path]:
    """(manifest naming one store, that store)."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    store = tmp_path / "BCD"
    shutil.copy(CORPUS / STORE, store)
    manifest = tmp_path / "m.txt"
    manifest.write_text(f"{store}\n")
    return manifest, store


def _make(kind: str, out: Path, outside: Path) -> None:
    outside.write_text("precious\n")
    if kind == "symlink":
        out.symlink_to(outside)
    elif kind == "hardlink":
        os.link(outside, out)
    elif kind == "fifo":
        os.mkfifo(out)
    elif kind == "directory":
        out.mkdir()


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "fifo", "directory"])
@pytest.mark.parametrize("resume", [False, True])
def test_unsafe_output_is_refused_before_any_target(job, tmp_path, kind, resume):
    manifest, store = job
    out, outside = tmp_path / "run.jsonl", tmp_path / "outside.txt"
    _make(kind, out, outside)
    before = sha(store.read_bytes())
    args = ["batch", manifest, "--output", out] + (["--continue"] if resume else [])
    run = bcdtool(args, tmp_path / "s", tmp_path)        # a hang fails by the timeout
    assert run.returncode == UnsafePathError.exit_code, run.stderr
    assert "Traceback" not in run.stderr
    assert sha(store.read_bytes()) == before                     # no target was touched
    assert outside.read_text() == "precious\n"


def test_regular_output_is_appended_privately(job, tmp_path):
    manifest, _ = job
    out = tmp_path / "run.jsonl"
    run = bcdtool(["batch", manifest, "--output", out], tmp_path / "s", tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(out.read_text().splitlines()) == 1
    assert out.stat().st_mode & 0o777 == 0o600


def test_fifo_manifest_with_a_writer_is_read(job, tmp_path):
    """`batch <(gen)`: the manifest may be a pipe, read to its end."""
    manifest, store = job
    fifo = tmp_path / "manifest.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "w") as pipe:
            pipe.write(f"{store}\n")

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    run = bcdtool(["batch", fifo], tmp_path / "s", tmp_path)
    writer.join(10)
    assert run.returncode == 0, run.stderr


# Kernel interfaces look like regular files to fstat; a JSON line written into one reconfigures
# the machine (sysfs, efivarfs) or fails mid-batch (procfs refuses the seek an append makes).
KERNEL_FILES = ["/proc/version", "/proc/self/comm", "/sys/kernel/uevent_seqnum"]


@pytest.mark.parametrize("path", KERNEL_FILES)
def test_kernel_interface_output_is_refused_before_any_target(job, tmp_path, path):
    if not os.path.isfile(path):
        pytest.skip(f"{path} is absent here")
    manifest, store = job
    before = sha(store.read_bytes())
    run = bcdtool(["batch", manifest, "--output", path], tmp_path / "s", tmp_path)
    assert run.returncode == UnsafePathError.exit_code, run.stderr
    assert "kernel interface" in run.stderr and len(run.stderr.splitlines()) == 1
    assert sha(store.read_bytes()) == before


@pytest.mark.parametrize("path", KERNEL_FILES)
def test_kernel_interface_audit_log_is_refused(job, tmp_path, path):
    if not os.path.isfile(path):
        pytest.skip(f"{path} is absent here")
    _, store = job
    before = sha(store.read_bytes())
    run = bcdtool(["bcdedit", "--audit-log", path, "/store", store, "/timeout", "7"],
                  tmp_path / "s", tmp_path)
    assert run.returncode == UnsafePathError.exit_code, run.stderr
    assert "kernel interface" in run.stderr
    assert sha(store.read_bytes()) == before


def _small_file_limit() -> None:
    """In the child: files may not grow past 1 MiB, and crossing it is an error, not SIGXFSZ."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def test_output_that_stops_taking_lines_lets_the_batch_finish_then_says_so(job, tmp_path):
    # An --output already at the process's file-size limit refuses every append (EFBIG), as a
    # full disk would: every target still runs to the end, and the exit says what is missing.
    manifest, store = job
    second = tmp_path / "BCD2"
    second.write_bytes(store.read_bytes())
    manifest.write_text(f"{store}\n{second}\n")
    out = tmp_path / "run.jsonl"
    out.write_bytes(b"\n" * ((1 << 20) + 1))
    environ = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "s")}
    run = subprocess.run([sys.executable, "-m", "bcdtool", "batch", str(manifest),
                          "--output", str(out)], env=environ, cwd=tmp_path,
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
                         preexec_fn=_small_file_limit)
    assert run.returncode == WriteError.exit_code, run.stderr
    assert "2 result(s) could not be appended" in run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.splitlines()) == 1
    assert "2 target(s): 2 ok" in run.stdout                  # both targets ran to the end
    for path in (store, second):
        assert run_process("serial-console", "status", path, state=tmp_path / "s").returncode == 0
