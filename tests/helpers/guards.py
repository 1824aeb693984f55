"""Autouse fixtures for the hostile-input suites (tests/hostile, tests/hostile_matrix): an
isolated state folder and a guard that turns a hang into a failure.  A conftest imports them;
`hang_guard` is the same guard around one block."""

from __future__ import annotations

import contextlib
import signal

import pytest

#: The bound on one guarded test or block, far above what any of them needs on a loaded 2-core
#: machine: it only turns waiting forever (a FIFO opened for reading) into a failure and
#: measures no speed (a test that does much work is split into parametrized cases instead).
HANG_GUARD = 900


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch):
    """Every test gets its own $XDG_STATE_HOME (journals and pending-write markers)."""
    folder = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    return folder


@contextlib.contextmanager
def hang_guard(seconds: int = HANG_GUARD):
    """Raise TimeoutError in the block once it has been blocked for `seconds` (main thread)."""
    def expired(*_):
        raise TimeoutError(f"blocked for {seconds} s (a hang)")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(autouse=True)
def no_hang():
    """Fail a test that blocks instead of hanging the run."""
    with hang_guard():
        yield
