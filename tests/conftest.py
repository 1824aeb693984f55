"""Shared fixtures: the real-data corpus in ../shared (skipped when absent) and tool checks."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
REPO = Path(__file__).resolve().parents[1]
# The image builders in fixtures/ are imported as the package `fixtures` (from fixtures import images).
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def corpus_files(sub: str, pattern: str = "*") -> list[Path]:
    """Corpus files under `sub` matching `pattern` (empty when the corpus is absent)."""
    base = CORPUS / sub
    if not base.is_dir():
        return []
    return sorted(p for p in base.glob(pattern) if p.is_file())


def corpus_hives() -> list[Path]:
    """Every primary hive in the corpus (BCD stores and system hives, not their logs)."""
    return [p for p in corpus_files("bcd") + corpus_files("hives")
            if ".LOG" not in p.name.upper()]


@pytest.fixture
def corpus() -> Path:
    """The corpus folder; the test is skipped when ../shared is not there."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    return CORPUS


def need_tool(name: str) -> str:
    """Path of an external tool, or skip the test saying which tool is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path
