"""Rules of the code base that a reviewer would otherwise check by hand: the oldest Python it
runs on, measured from the source (vermin), and declared in pyproject.toml."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.common import REPO
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


# -- imports point downward ---------------------------------------------------------------------

PACKAGE = REPO / "bcdtool"
#: The layers, bottom first (README, "Code map").  A module may import its own package and any
#: package of a lower layer, never one of its own layer or above.  `backends` are the optional
#: libguestfs adapters, found by the layers above through `bcdtool.backends` (a registry), so they
#: sit just above the block devices.
LAYERS = [
    {"<base>"},                    # errors, limits, wintext, _construct, report: no packages
    {"regf"},
    {"blockdev"},
    {"backends"},
    {"fs"},
    {"write"},
    {"locate"},
    {"bcd", "windows", "linux"},
    {"ops"},
    {"cli"},
]
RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}


def _package(module: str) -> str:
    """`bcdtool.regf.hive` -> `regf`; top-level modules (`bcdtool.errors`) -> `<base>`."""
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()):
        return parts[1]
    return "<base>"


def bcdtool_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a bcdtool module in `path`, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "bcdtool":
                found += [(node.lineno, f"bcdtool.{alias.name}") for alias in node.names]
            elif node.module.startswith("bcdtool."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("bcdtool.")]
    return found


def _modules() -> list[tuple[Path, str]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        out.append((path, ".".join(parts[:-1] if parts[-1] == "__init__" else parts)))
    return out


def test_every_package_has_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(RANK), packages - set(RANK)


def test_imports_point_downward():
    upward = []
    for path, module in _modules():
        if module == "bcdtool.__main__":
            continue                          # the entry point runs the CLI
        source = _package(module)
        for line, target in bcdtool_imports(path):
            wanted = _package(target)
            if wanted != source and RANK[wanted] >= RANK[source]:
                upward.append(f"{path.relative_to(REPO)}:{line}: {source} imports {target}")
    assert not upward, "imports must point down the layers (README, Code map):\n" + \
        "\n".join(upward)


def test_the_layer_rule_catches_an_upward_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from bcdtool.ops import doctor\nfrom bcdtool import errors\n")
    assert sorted(bcdtool_imports(sample)) == [(2, "bcdtool.ops"), (3, "bcdtool.errors")]
    assert RANK[_package("bcdtool.ops.doctor")] > RANK[_package("bcdtool.regf.hive")]
    assert _package("bcdtool.errors") == "<base>"


# -- imports at module level ----------------------------------------------------------------------

#: Third-party modules that may be imported inside a function: optional bindings that are not
#: on PyPI or not on every machine (the Azure SDK: the extra bcdtool[azure], ~0.5 s to import),
#: loaded when a command needs them (the CLI's lazy tables in cli/lazy.py use importlib, not an
#: import statement).
OPTIONAL_BINDINGS = {"guestfs", "pyregf", "azure"}


def test_imports_are_at_module_level():
    inside = []
    for path, _ in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                inside += [f"{path.relative_to(REPO)}:{node.lineno}: {name}" for name in names
                           if name.split(".")[0] not in OPTIONAL_BINDINGS]
    assert not inside, "import at module level (README, Code map):\n" + "\n".join(inside)


def test_run_time_imports_happen_in_one_place():
    """`importlib.import_module` (a late import by name) is used only by the CLI's lazy tables
    (cli/lazy.py: commands, the disk-URL opener, the guestfs backend, bcdedit's write runner),
    so that what a command loads can be read in one file."""
    found = []
    for path, _ in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("import_module", "__import__"):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
            elif isinstance(node, ast.Name) and node.id == "__import__":
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert {f.split(":")[0] for f in found} <= {"bcdtool/cli/lazy.py"}, found
