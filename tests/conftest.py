"""Shared fixtures: the real-data corpus in ../shared (skipped when absent)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Helper modules beside the tests (fs_helpers.py, locate_helpers.py, ...) are imported by plain
# name; importlib mode does not put their folders on sys.path, so do it here.  Their names must
# be unique across the tree.
for _folder in sorted(Path(__file__).parent.iterdir()):
    if _folder.is_dir() and not _folder.name.startswith((".", "_")) and str(_folder) not in sys.path:
        sys.path.append(str(_folder))

from corpus_data import CORPUS, corpus_files, corpus_hives, need_tool  # noqa: F401 (re-export)


@pytest.fixture
def corpus() -> Path:
    """The corpus folder; the test is skipped when ../shared is not there."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    return CORPUS
