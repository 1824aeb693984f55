"""Rules of the code base that a reviewer would otherwise check by hand: the oldest Python it
runs on, measured from the source (vermin), and declared in pyproject.toml."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MINIMUM = (3, 10)     # Ubuntu 22.04's Python: the most common Linux rescue host


def _setting(name: str) -> str:
    # tomllib is 3.11+, and the tests run on the minimum Python too
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    found = re.findall(rf'^{re.escape(name)}\s*=\s*"([^"]*)"', text, re.M)
    assert len(found) == 1, name
    return found[0]


def test_pyproject_declares_the_minimum():
    assert _setting("requires-python") == ">={}.{}".format(*MINIMUM)
    assert _setting("target-version") == "py{}{}".format(*MINIMUM)


@pytest.mark.slow     # vermin parses the whole tree (~10 s): make test runs it, make check not
def test_source_needs_no_newer_python_than_the_minimum():
    """vermin measures the newest Python feature each file uses (product, fixtures and tests);
    the minimum may not rise."""
    pytest.importorskip("vermin")
    target = "{}.{}".format(*MINIMUM)
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, vermin; sys.exit(vermin.main())", "--no-tips",
         "--eval-annotations", "--violations", f"-t={target}-", "bcdtool", "fixtures", "tests",
         "bench"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = re.search(r"Minimum required versions: (\d+)\.(\d+)", proc.stdout)
    assert found, proc.stdout
    assert (int(found.group(1)), int(found.group(2))) <= MINIMUM, proc.stdout
