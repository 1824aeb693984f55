"""Shared fixtures: the real-data corpus in ../shared (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus_data import CORPUS, corpus_files, corpus_hives, need_tool  # noqa: F401 (re-export)


@pytest.fixture
def corpus() -> Path:
    """The corpus folder; the test is skipped when ../shared is not there."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    return CORPUS
