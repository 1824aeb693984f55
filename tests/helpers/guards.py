"""Autouse fixtures for the hostile-input suites (tests/hostile, tests/hostile_matrix): an
isolated state folder and a guard that turns a hang into a failure.  A conftest imports them."""

from __future__ import annotations

import signal

import pytest


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch):
    """Every test gets its own $XDG_STATE_HOME (journals and pending-write markers)."""
    folder = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    return folder


@pytest.fixture(autouse=True)
def no_hang():
    """Fail a test that blocks (a FIFO read) instead of hanging the run: 60 s is not a speed
    assertion, only a bound on waiting forever."""
    def expired(*_):
        raise TimeoutError("blocked for 60 s (a hang)")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)
