"""Fixtures for target tests: an isolated state folder and a real BCD store."""

from __future__ import annotations

from pathlib import Path

import pytest

from locate_helpers import STORE


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch) -> Path:
    """Every test gets its own $XDG_STATE_HOME (journals and pending-write markers)."""
    folder = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    return folder


@pytest.fixture
def store_bytes(corpus) -> bytes:
    """The bytes of a real BCD store."""
    return (corpus / STORE).read_bytes()

