"""Where the real-data corpus lives (../shared/corpus) and small helpers for tests that use it.

Import these as `from corpus_data import ...` (tests/ is on pytest's pythonpath): `conftest` is
not importable by name once several test folders have their own conftest.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


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


def need_tool(name: str) -> str:
    """Path of an external tool, or skip the test saying which tool is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path
