"""Rules of the code base that a reviewer would otherwise check by hand: the oldest Python it
runs on, measured from the source (vermin), and declared in pyproject.toml."""

from __future__ import annotations

import ast
import functools
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


@functools.cache
def parsed(path: Path) -> ast.Module:
    """The syntax tree of `path` (each file is parsed once for all the rules below)."""
    return ast.parse(path.read_text(encoding="utf-8"))


@functools.cache
def nodes(path: Path) -> tuple[ast.AST, ...]:
    """Every node of `path`'s tree."""
    return tuple(ast.walk(parsed(path)))


def bcdtool_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a bcdtool module in `path`, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) \
            if not path.is_relative_to(PACKAGE) else nodes(path):
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
    # namespace packages too (bcdtool/linux has no __init__.py)
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")
                and any(p.glob("*.py"))}
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

#: Third-party modules that may be imported inside a function, and the one module each may be
#: imported in: optional bindings that are not on PyPI or not on every machine (libguestfs'
#: binding is a Debian package; the Azure SDK is the extra bcdtool[azure], ~0.5 s to import),
#: loaded when a command needs them, with an install hint when they are missing (the CLI's lazy
#: tables in cli/lazy.py use importlib, not an import statement).
OPTIONAL_BINDINGS = {"guestfs": "bcdtool/backends/guestfs.py",
                     "azure": "bcdtool/blockdev/pageblob.py"}


def imports_in_functions(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import statement inside a function (at any depth)."""
    found = []
    todo = [(child, False) for child in ast.iter_child_nodes(tree)]
    while todo:
        node, inside = todo.pop()
        if inside and isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif inside and isinstance(node, ast.ImportFrom):
            found.append((node.lineno, node.module or ""))
        deeper = inside or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        todo += [(child, deeper) for child in ast.iter_child_nodes(node)]
    return sorted(found)


def test_imports_are_at_module_level():
    inside = []
    for path, _ in _modules():
        where = str(path.relative_to(REPO))
        inside += [f"{where}:{line}: {name}" for line, name in imports_in_functions(parsed(path))
                   if OPTIONAL_BINDINGS.get(name.split(".")[0]) != where]
    assert not inside, "import at module level (README, Code map):\n" + "\n".join(inside)


def test_the_function_import_finder_sees_nested_imports():
    sample = ("import os\ndef f():\n    import json\n    def g():\n        from x import y\n"
              "class C:\n    import re\n    def m(self):\n        import sys\n")
    assert imports_in_functions(ast.parse(sample)) == [(3, "json"), (5, "x"), (9, "sys")]


def test_run_time_imports_happen_in_one_place():
    """`importlib.import_module` (a late import by name) is used only by the CLI's lazy tables
    (cli/lazy.py: commands, the disk-URL opener, the guestfs backend, bcdedit's write runner),
    so that what a command loads can be read in one file."""
    found = []
    for path, _ in _modules():
        for node in nodes(path):
            if isinstance(node, ast.Attribute) and node.attr in ("import_module", "__import__"):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
            elif isinstance(node, ast.Name) and node.id == "__import__":
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert {f.split(":")[0] for f in found} <= {"bcdtool/cli/lazy.py"}, found


# -- no import cycles ---------------------------------------------------------------------------

def import_graph() -> dict[str, set[str]]:
    """{module: bcdtool modules it imports} over every module, imports at any depth (also under
    `if TYPE_CHECKING:`): `from bcdtool.pkg import mod` counts as importing `bcdtool.pkg.mod`
    (and the package itself, whose __init__ runs first)."""
    modules = {module: path for path, module in _modules()}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for node in nodes(path):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and \
                    node.module.split(".")[0] == "bcdtool":
                targets.add(node.module)
                targets |= {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.split(".")[0] == "bcdtool"}
        # a name that is not a module (`from bcdtool.errors import X`) means its module
        resolved = set()
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target:
                resolved.add(target)
        graph[module] = resolved - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles():
    """No module imports (through any chain) a module that imports it back, inside a package
    or across packages; the layer rule above forbids only the cross-package ones."""
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e2"}, "e2": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    # and the graph holds the real edges (detect opens raw images itself, and no longer
    # imports the format readers: blockdev.openers)
    graph = import_graph()
    assert "bcdtool.blockdev.raw" in graph["bcdtool.blockdev.detect"]
    assert "bcdtool.blockdev.qcow2" not in graph["bcdtool.blockdev.detect"]


# -- no dead code -------------------------------------------------------------------------------

#: Names vulture cannot see used, each for a reason.  Anything else it reports is dead code:
#: remove it (or, if it is meant as API, add it here with the reason).
USED_ELSEWHERE = {
    # named as "module:attribute" strings in cli/lazy.py (URL openers, guestfs, READERS)
    "open_url", "open_hive_guestfs", "Qcow2Device", "open_vhd", "VhdxDevice", "open_vmdk",
    "NtfsVolume", "interrupted", "latest",
    # methods called by a library: click (format_commands), io (seekable, seek, tell,
    # readinto), pytsk3's Img_Info (get_size), pyfatfs (_parse_fat, get_cluster_chain)
    "format_commands", "seekable", "seek", "tell", "readinto", "get_size", "_parse_fat",
    "get_cluster_chain",
    # read by urllib3: a pool's connection class, a PoolManager's pool classes (blockdev/http.py)
    "ConnectionCls", "pool_classes_by_scheme",
    # dataclass fields that reach JSON documents, journals and benchmarks through asdict()
    "bytes_read", "requests", "bytes_down", "bytes_up", "cpu_seconds", "pages_written",
    "bytes_written", "keys_compared", "method", "last_known_good", "runlevels",
    "bytes_per_sector",
    # the format's layouts and constants, declared whole (regf.md, the GPT and Unicode specs)
    "CellHeader", "ListHeader", "KEY_SYM_LINK", "VALUE_TOMBSTONE", "BASIC_DATA_TYPE",
    "UNICODE_VERSION",
    "MISREADINGS",
    # library API of the lower layers, used by the tests and documented in their docstrings
    "all_error_classes", "used_bytes", "has_errors", "export", "parse_type", "upcase_unit",
    # write/observe.py: the one hook the crash-injection tests install (its module doc)
    "install", "uninstall",
}


def test_no_dead_code():
    """vulture finds every function, class, variable and attribute nothing uses."""
    pytest.importorskip("vulture")
    proc = subprocess.run(
        [sys.executable, "-m", "vulture", "bcdtool", "--min-confidence", "60",
         "--ignore-decorators", "@click.command,@click.group,@*.command,@*.group",
         "--ignore-names", ",".join(sorted(USED_ELSEWHERE))],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, "dead code (remove it, or list why it is used in " \
        "USED_ELSEWHERE):\n" + proc.stdout + proc.stderr


# -- optional oracles skip ------------------------------------------------------------------------

def quiet_passes(source: str | ast.AST) -> list[int]:
    """Lines where a test gives up silently when an optional tool or module is missing: an
    `if` testing `shutil.which(...)`/`have(...)` whose body only returns, or an `except
    ImportError` that returns or passes (a skip says what was not checked; a return hides it)."""
    found = []
    for node in ast.walk(ast.parse(source) if isinstance(source, str) else source):
        if isinstance(node, ast.If) and all(isinstance(s, ast.Return) for s in node.body):
            names = {n.attr if isinstance(n, ast.Attribute) else n.id
                     for n in ast.walk(node.test) if isinstance(n, (ast.Attribute, ast.Name))}
            if names & {"which", "have", "find_spec"}:
                found.append(node.lineno)
        elif isinstance(node, ast.ExceptHandler) and node.type is not None:
            caught = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
            if caught & {"ImportError", "ModuleNotFoundError"} and \
                    all(isinstance(s, (ast.Return, ast.Pass)) for s in node.body):
                found.append(node.lineno)
    return found


def test_optional_oracles_skip_instead_of_passing_quietly():
    found = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        found += [f"{path.relative_to(REPO)}:{line}"
                  for line in quiet_passes(parsed(path))]
    assert not found, "skip with need_tool()/pytest.importorskip() instead:\n" + "\n".join(found)


def test_the_quiet_pass_finder_sees_both_shapes():
    sample = ("import shutil\ndef a():\n    if shutil.which('hivexsh') is None:\n        return\n"
              "def b():\n    try:\n        import pyregf\n    except ImportError:\n        return\n"
              "def c():\n    if shutil.which('x') is None:\n        pytest.skip('x')\n")
    assert quiet_passes(sample) == [3, 8]


# -- no test depends on the machine's speed -----------------------------------------------------

_CLOCKS = {"monotonic", "perf_counter", "time", "process_time", "monotonic_ns", "perf_counter_ns"}
_DURATIONS = {"elapsed", "duration", "took", "wall", "runtime"}


def speed_dependencies(source: str | ast.AST) -> list[int]:
    """Lines of asserts that bound a duration (`assert elapsed < 2`, `assert time.monotonic() -
    t0 <= 1`) and of Hypothesis settings with a deadline other than None."""
    found = []
    for node in ast.walk(ast.parse(source) if isinstance(source, str) else source):
        if isinstance(node, ast.Assert):
            for cmp in (n for n in ast.walk(node.test) if isinstance(n, ast.Compare)):
                if not any(isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for op in cmp.ops):
                    continue
                names = {n.attr if isinstance(n, ast.Attribute) else n.id
                         for n in ast.walk(cmp) if isinstance(n, (ast.Attribute, ast.Name))}
                calls = {n.func.attr for n in ast.walk(cmp) if isinstance(n, ast.Call)
                         and isinstance(n.func, ast.Attribute)}
                if calls & _CLOCKS or {n.lower() for n in names} & _DURATIONS:
                    found.append(node.lineno)
                    break
        elif isinstance(node, ast.keyword) and node.arg == "deadline" and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            found.append(node.value.lineno)
    return found


def test_no_test_depends_on_the_machine_speed():
    found = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        found += [f"{path.relative_to(REPO)}:{line}"
                  for line in speed_dependencies(parsed(path))]
    assert not found, ("wait on a condition or count work; Hypothesis deadline=None:\n"
                       + "\n".join(found))


def test_the_speed_finder_sees_timing_asserts():
    sample = ("import time\nt0 = time.monotonic()\nassert time.monotonic() - t0 < 2\n"
              "assert elapsed <= 0.5\nassert result.seconds > 0 or True\n"
              "s = settings(deadline=200)\nok = settings(deadline=None)\nassert n < 3\n")
    assert speed_dependencies(sample) == [3, 4, 6]


# -- the README's code map is the tree ----------------------------------------------------------

def _code_map() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return text.split("\n## Code map\n", 1)[1].split("\n## ", 1)[0]


def test_the_code_map_diagram_is_the_layer_rule():
    """The README's `cli → ops → ... → base` line lists LAYERS above, top first."""
    line = next(ln for ln in _code_map().splitlines() if "→" in ln and ln.startswith("cli"))
    drawn = [{name.strip() for name in step.split("·")} for step in line.split("→")]
    assert drawn == [layer if layer != {"<base>"} else {"base"} for layer in reversed(LAYERS)]


def test_the_code_map_names_every_package_and_top_level_module():
    text = _code_map()
    missing = [f"bcdtool/{p.name}/" for p in PACKAGE.iterdir()
               if p.is_dir() and not p.name.startswith("__") and f"`bcdtool/{p.name}/`" not in text]
    missing += [p.name for p in PACKAGE.glob("*.py")
                if p.stem not in ("__init__", "__main__") and p.stem not in text]
    assert not missing, missing


def test_every_package_is_installed():
    """A folder of modules without __init__.py is a namespace package, which setuptools'
    find_packages leaves out of a wheel: `pip install .` would lack it."""
    setuptools = pytest.importorskip("setuptools")
    folders = {".".join(p.relative_to(REPO).parts) for p in PACKAGE.rglob("*")
               if p.is_dir() and any(p.glob("*.py"))}
    assert folders <= set(setuptools.find_packages(str(REPO), include=["bcdtool*"])), folders


# -- disks are opened and partition tables read in one place ------------------------------------

#: The block-device classes and on-disk layouts: only blockdev/ builds them.  Everything else
#: opens a disk with blockdev.detect.open_image (or open_container for the raw bytes) and reads
#: its partitions and identity (GPT disk GUID, MBR signature) with
#: blockdev.partitions.read_partition_table (PartitionTable.disk_guid / disk_signature).
BLOCKDEV_INSIDES = {"bcdtool.blockdev.raw", "bcdtool.blockdev.qcow2", "bcdtool.blockdev.vhd",
                    "bcdtool.blockdev.vhdx", "bcdtool.blockdev.vmdk", "bcdtool.blockdev.http",
                    "bcdtool.blockdev.partitions_layout", "bcdtool.blockdev.qcow2_layout",
                    "bcdtool.blockdev.vhd_layout", "bcdtool.blockdev.vhdx_layout",
                    "bcdtool.blockdev.vmdk_layout"}
#: The signatures a partition-table parser needs.
TABLE_MAGIC = (b"EFI PART", "EFI PART")


def test_disks_are_opened_and_partitions_read_in_one_place():
    found = []
    for path, module in _modules():
        if module.startswith("bcdtool.blockdev"):
            continue
        where = path.relative_to(REPO)
        found += [f"{where}:{line}: imports {target}" for line, target in bcdtool_imports(path)
                  if target in BLOCKDEV_INSIDES]
        found += [f"{where}:{node.lineno}: {node.value!r}" for node in nodes(path)
                  if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))
                  and any(magic == node.value or (type(magic) is type(node.value)
                                                  and magic in node.value)
                          for magic in TABLE_MAGIC)]
    assert not found, ("open disks with blockdev.detect.open_image and read partitions with "
                       "blockdev.partitions.read_partition_table:\n" + "\n".join(found))


#: Who may open a disk or read its partition table without blockdev.disk.Disk, and why.  Every
#: other module opens a disk and chooses a partition with Disk.open / Disk.volume (one
#: --partition refusal, one cap on hostile tables).
DISK_OPENERS = {
    "open_image": {
        "bcdtool.locate.disk",           # a store on a disk: opened, then found by locate.discover
        "bcdtool.ops.forensic_source",   # the same, through a recorder of every range read
        "bcdtool.write.sinks.disk",      # the writable open of the target, at commit only
        "bcdtool.write.sinks.pageblob",  # the same, for a page blob
    },
    "read_partition_table": {
        "bcdtool.locate.discover",       # finds the store on a device its caller opened
        "bcdtool.write.sinks.disk",      # reads the table again at commit (the other volumes)
    },
}


def test_disks_are_opened_through_one_class():
    found = []
    for path, module in _modules():
        if module.startswith("bcdtool.blockdev"):
            continue
        for node in nodes(path):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bcdtool."):
                found += [f"{path.relative_to(REPO)}:{node.lineno}: imports {alias.name}"
                          for alias in node.names if alias.name in DISK_OPENERS
                          and module not in DISK_OPENERS[alias.name]]
    assert not found, ("open a disk and choose its partition with blockdev.disk.Disk:\n"
                       + "\n".join(found))


# -- every change goes through one runner -------------------------------------------------------

#: Who may reach the write path, and through what: a hive edit only through ops/recipe.py (open
#: → stage → changes → size policy → --backup → commit → audit, one EditResult), a Linux guest's
#: files only through ops/linux_fix.py, a restore only through ops/undo.py, and a new file only
#: through ops/newfile.py (or ops/backup.py, the --backup copy).  Everything else calls those;
#: the write package's own modules are its inside.
WRITE_DOORS = {
    "bcdtool.locate.commit": {"bcdtool.ops.recipe"},
    "bcdtool.linux.fix": {"bcdtool.ops.linux_fix"},
    "bcdtool.write.undo": {"bcdtool.ops.undo"},
    "bcdtool.write.transaction": {"bcdtool.linux.fix", "bcdtool.locate.commit"},
    "bcdtool.write.hive": {"bcdtool.locate.commit"},
    "bcdtool.write.fileio:create_new": {"bcdtool.ops.newfile", "bcdtool.ops.backup"},
}


def test_every_change_goes_through_its_one_runner():
    graph = import_graph()
    found = []
    for door, allowed in WRITE_DOORS.items():
        module, _, name = door.partition(":")
        for path, importer in _modules():
            if importer in allowed or importer.startswith("bcdtool.write."):
                continue
            uses = module in graph[importer] if not name else any(
                isinstance(n, ast.ImportFrom) and n.module == module
                and any(a.name == name for a in n.names) for n in nodes(path))
            if uses:
                found.append(f"{importer} uses {door} (only {sorted(allowed)} may)")
    assert not found, "\n".join(found)
