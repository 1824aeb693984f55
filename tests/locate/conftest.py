"""Fixtures for target tests: an isolated state folder and a real BCD store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.locate.locate_helpers import STORE


@pytest.fixture(autouse=True)
def state(isolated_state) -> Path:
    """Every test gets its own $XDG_STATE_HOME (journals and pending-write markers)."""
    return isolated_state


@pytest.fixture
def store_bytes(corpus) -> bytes:
    """The bytes of a real BCD store."""
    return (corpus / STORE).read_bytes()
