"""Fixtures for write-path tests: an isolated state folder outside the test's own folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def state(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own $XDG_STATE_HOME (journals, audit log, pending-write markers)."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    return folder
