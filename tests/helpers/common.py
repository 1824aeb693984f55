"""The helpers every test folder needs: hashes, external tools, the CLI runner, the corpus."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bcdtool.cli import main

#: The real-data corpus beside the repository (../shared/corpus); tests skip when it is absent.
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def sha(data_or_path: bytes | bytearray | memoryview | str | Path) -> str:
    """sha256 (hex) of bytes, or of a whole file given its path."""
    if isinstance(data_or_path, (str, Path)):
        data_or_path = Path(data_or_path).read_bytes()
    return hashlib.sha256(data_or_path).hexdigest()


def need_tool(name: str) -> str:
    """Path of an external tool, or skip the test saying which tool is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


def need_tools(*names: str) -> None:
    """Skip the test, naming the first missing external tool."""
    for name in names:
        need_tool(name)


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """Run `bcdtool ARGS` in-process through `main` (the real exit-code mapping); returns
    (exit code, stdout, stderr) as captured by pytest's `capsys`."""
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def run_process(*args, env: dict | None = None, cwd=None, input: str | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m bcdtool ARGS` as its own process (text output); `env` adds to os.environ.
    The timeout only turns a hang into a failure."""
    return subprocess.run([sys.executable, "-m", "bcdtool", *map(str, args)],
                          env=None if env is None else {**os.environ, **env}, cwd=cwd,
                          input=input, capture_output=True, text=True, timeout=timeout)


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
