"""The helpers every test folder needs: hashes, external tools, the CLI runner, the corpus."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from bcdtool.cli import main
from bcdtool.cli.output import KEYS

#: The repository (a fixed working folder for processes that need one).
REPO = Path(__file__).resolve().parents[2]
#: The real-data corpus beside the repository (../shared/corpus); tests skip when it is absent.
CORPUS = REPO.parent / "shared" / "corpus"
#: The corpus's BCD stores (Windows versions' own, see SOURCES.md there).
BCD_CORPUS = CORPUS / "bcd"


def sha(data_or_path: bytes | bytearray | memoryview | str | Path) -> str:
    """sha256 (hex) of bytes, or of a whole file given its path (read a MiB at a time, so
    hashing a large image costs no memory: the peak-memory tests hash their targets too)."""
    if not isinstance(data_or_path, (str, Path)):
        return hashlib.sha256(data_or_path).hexdigest()
    digest = hashlib.sha256()
    with open(data_or_path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


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


def assert_documented(doc: Mapping, command: str | None = None) -> None:
    """`doc` (a --json document) carries only the keys bcdtool/cli/output.py's KEYS documents
    for its schema (docs/cli.md, "JSON schemas")."""
    name = command or doc["schema"].removeprefix("bcdtool.").rpartition("/")[0].replace(".", " ")
    undocumented = set(doc) - {"schema"} - set(KEYS[name].split(", "))
    assert not undocumented, f"{name}: keys missing from output.KEYS: {sorted(undocumented)}"


def run_process(*args, env: Mapping[str, str | os.PathLike | None] | None = None,
                state: str | os.PathLike | None = None, cwd=None, input: str | bytes | None = None,
                text: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m bcdtool ARGS` as its own process, as a user would.

    `env` adds to os.environ (a value of None removes that name); `state` is the process's
    $XDG_STATE_HOME (journals, audit log); `text=False` keeps stdout and stderr as bytes (exact
    output such as `--utf16`).  stdin is closed unless `input` is given.  The timeout only
    turns a hang into a failure: it is no speed budget.
    """
    changes = dict(env or {})
    if state is not None:
        changes["XDG_STATE_HOME"] = state
    environ = dict(os.environ)
    for name, value in changes.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = str(value)
    return subprocess.run([sys.executable, "-m", "bcdtool", *map(str, args)], env=environ,
                          cwd=cwd, input=input,
                          stdin=subprocess.DEVNULL if input is None else None,
                          capture_output=True, text=text, timeout=timeout)


@contextlib.contextmanager
def loop_device(image, *, read_only: bool = False, sector_size: int | None = None):
    """`image` attached to a free loop device for the block (the test skips where none can be
    attached: not root, no loop support)."""
    losetup = need_tool("losetup")
    args = [losetup, "-f", "--show", *(["-r"] if read_only else []),
            *(["--sector-size", str(sector_size)] if sector_size else []), str(image)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.skip(f"cannot attach a loop device: {proc.stderr.strip()}")
    device = proc.stdout.strip()
    try:
        yield device
    finally:
        subprocess.run([losetup, "-d", device], check=True, timeout=120)


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
