"""Fixtures of the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def state(isolated_state) -> Path:
    """Every CLI test writes journals, audit lines and pending markers to its own state folder."""
    return isolated_state
