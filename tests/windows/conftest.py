"""Fixtures for Windows-layer tests: an isolated state folder (journals, audit log)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch) -> Path:
    """Every test gets its own $XDG_STATE_HOME."""
    folder = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    return folder
