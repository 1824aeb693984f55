"""Fixtures for Windows-layer tests: an isolated state folder (journals, audit log)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def state(isolated_state) -> Path:
    """Every test gets its own $XDG_STATE_HOME."""
    return isolated_state
