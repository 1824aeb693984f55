"""Run the real CLI on hostile input, the way a hidden check would, but cheaply: each run is a
forked child of an already-imported interpreter (no start-up cost) with a 1 GiB address-space
limit and an alarm, its stderr captured.  `judge()` says what is wrong with one run:

- an exit code that no BcdToolError class maps to (1 = internal error, a signal = hang/crash);
- stderr that is not one line, or holds a traceback;
- a MemoryError or RecursionError that reached the CLI's last-resort mapping (the input made
  bcdtool allocate or recurse without a bound before a reader refused it);
- a failed command that changed any input byte (hashes before and after).

The same `judge()` is used on real subprocesses (`run_subprocess`) in a few regression tests, so
the fork shortcut does not hide anything a process start would show.
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bcdtool.errors import all_error_classes
from tests.helpers.common import REPO

#: Address-space limit of one run (what `prlimit --as` would give).
ADDRESS_SPACE = 1 << 30
#: Seconds one run may take before it counts as a hang (not a speed assertion: generous, so a
#: run that is merely slow on a loaded 2-core machine never counts).
HANG_SECONDS = float(os.environ.get("BCDTOOL_FUZZ_HANG_SECONDS", "300"))
#: Exit codes a run may end with: success, problems found (3), click usage (2), every error class.
ALLOWED = {0, 2, 3} | {cls.exit_code for cls in all_error_classes()}
#: Messages of the CLI's last-resort mapping of MemoryError / RecursionError: unbounded input.
UNBOUNDED = ("needs more memory than is available", "nested too deeply to process")


@dataclass
class Run:
    argv: list[str]
    code: int                       # exit code, or -signal
    stderr: str
    changed: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """What is wrong with this run ([] when it kept every promise)."""
        out = []
        if self.code < 0:
            out.append("hang" if -self.code in (signal.SIGALRM, signal.SIGKILL)
                       else f"killed by signal {-self.code}")
        elif self.code not in ALLOWED:
            out.append(f"exit {self.code}")
        if "Traceback" in self.stderr or "internal error" in self.stderr:
            out.append("traceback/internal error")
        if any(text in self.stderr for text in UNBOUNDED):
            out.append("unbounded (MemoryError/RecursionError)")
        errors = [line for line in self.stderr.splitlines() if "error" in line.lower()]
        if self.code not in (0, 3) and self.code > 0 and len(errors) != 1:
            out.append(f"{len(errors)} error lines")
        # a batch whose other targets succeeded ends 3 after writing them; so does a linux fix
        # that wrote what it could and names what is still a problem (README, linux fix)
        done = (0, 3) if self.argv[:1] == ["batch"] or self.argv[:2] == ["linux", "fix"] \
            else (0,)
        if self.code not in done and self.changed:
            out.append(f"wrote {', '.join(self.changed)}")
        return out

    def key(self) -> str:
        """A short class label for grouping failures."""
        last = self.stderr.strip().splitlines()[-1:] or [""]
        return f"{self.problems()} {last[0][:160]}"


def digest(paths) -> dict[str, str]:
    """sha256 of each regular file under `paths` (files or folders), by path."""
    out = {}
    for root in paths:
        root = Path(root)
        files = [root] if not root.is_dir() or root.is_symlink() else \
            [p for p in root.rglob("*")]
        for path in files:
            try:
                if path.is_symlink() or not path.is_file():
                    continue
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                continue
    return out


def _child(argv: list[str], err_fd: int, state: str) -> None:
    try:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
        os.environ["XDG_STATE_HOME"] = state
        os.environ.pop("BCDTOOL_DEBUG", None)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(err_fd, 2)
        sys.stdin = open(0, closefd=False)
        # the error handlers Python gives a process's own streams
        sys.stdout = open(1, "w", closefd=False, errors="surrogateescape")
        sys.stderr = open(2, "w", closefd=False, errors="backslashreplace")
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(int(HANG_SECONDS))
        from bcdtool.cli import main
        code = 0
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    except BaseException:           # noqa: BLE001 - anything here is a harness failure
        os._exit(99)


def run_forked(argv, inputs=(), state: str | None = None) -> Run:
    """Run `bcdtool ARGV` in a forked child; `inputs` are hashed before and after."""
    argv = [str(a) for a in argv]
    before = digest(inputs)
    with tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(argv, err.fileno(), state or tmp)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    after = digest(inputs)
    changed = [p for p in before if after.get(p) != before[p]]
    return Run(argv, code, text, changed)


def run_subprocess(argv, inputs=(), state: str | None = None) -> Run:
    """The same judgement on a real `python -m bcdtool` process under `prlimit --as`."""
    argv = [str(a) for a in argv]
    before = digest(inputs)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, XDG_STATE_HOME=state or tmp)
        env.pop("BCDTOOL_DEBUG", None)

        def limit():
            resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
        try:
            done = subprocess.run([sys.executable, "-m", "bcdtool", *argv], capture_output=True,
                                  text=True, errors="replace", stdin=subprocess.DEVNULL,
                                  cwd=REPO, env=env, preexec_fn=limit, timeout=HANG_SECONDS)
            code, text = done.returncode, done.stderr
        except subprocess.TimeoutExpired as exc:
            code, text = -signal.SIGKILL, str(exc.stderr or "")
    after = digest(inputs)
    return Run(argv, code, text, [p for p in before if after.get(p) != before[p]])
