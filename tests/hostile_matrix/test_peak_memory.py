"""Issue #11: a BCD command stays under 100 MiB of peak memory on any input.

Every BCD command runs as its own `bcdtool` process on inputs near the caps of bcdtool/limits.py
(fixtures/big_stores.py), each in a hive file, a folder, a FAT ESP and an NTFS System Reserved
partition; the peak resident set of that process (`RUSAGE_CHILDREN` of a small wrapper) must stay
under 100 MiB.  Memory does not depend on the machine's speed.  Inputs over the caps are refused
(exit 30) within the same bound.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bcdtool.limits import MAX_BCD_ELEMENT_BYTES, MAX_BCD_HIVE_BYTES, MiB
from fixtures import big_stores
from tests.helpers.common import CORPUS, need_tools, sha

REPO = Path(__file__).resolve().parents[2]
#: Peak resident memory a BCD command may use on any input (issue #11).
MAX_RSS = 100 * MiB
SINKS = ("file", "folder", "fat", "ntfs")
BOOTMGR = "{bootmgr}"

#: Each command: its arguments around TARGET, and the exit codes a run may end with (a store
#: that is not repairable or has findings gives 3; a hive file is not a disk for `repair`: 17).
COMMANDS = {
    "enum": (["enum", "TARGET"], {0}),
    "bcdedit-enum": (["bcdedit", "/store", "TARGET", "/enum", "all"], {0}),
    "set": (["bcdedit", "/store", "TARGET", "/set", BOOTMGR, "timeout", "3"], {0}),
    "create": (["bcdedit", "/store", "TARGET", "/create", "/d", "memory", "/application",
                "osloader"], {0}),
    "deletevalue": (["bcdedit", "/store", "TARGET", "/deletevalue", BOOTMGR, "timeout"], {0}),
    "delete": (["bcdedit", "/store", "TARGET", "/delete", "{default}", "/f"], {0}),
    "serial-status": (["serial-console", "status", "TARGET"], {0, 3}),
    "serial-enable": (["serial-console", "enable", "TARGET"], {0}),
    "doctor": (["doctor", "TARGET"], {0, 3}),
    "repair": (["repair", "boot", "TARGET"], {0, 3, 17}),
    "forensic": (["forensic", "TARGET"], {0, 3}),
}
#: What each input gives when it is read: the declared-size store is refused as corrupt (13).
EXPECTED = {"declared": {13}}


#: Runs one bcdtool in a fresh, small process and reports its own peak: a child forked from
#: the test process would count the test process's pages in its ru_maxrss (Linux keeps the
#: larger of the pre-exec and post-exec peaks), so the parent must be small.
_WRAPPER = ("import json, resource, subprocess, sys; "
            "done = subprocess.run([sys.executable, '-m', 'bcdtool', *sys.argv[1:]], "
            "stdin=subprocess.DEVNULL, capture_output=True); "
            "print(json.dumps([resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
            "done.returncode, done.stderr.decode(errors='replace')]))")


def measured(*args) -> tuple[int, int, str]:
    """(peak resident bytes, exit code, stderr) of `bcdtool ARGS` as its own process."""
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, check=True)
    peak, code, err = json.loads(done.stdout)
    return peak * 1024, code, err     # Linux reports KiB


class Targets:
    """Inputs built once per session, per (input, sink); each test works on its own copy."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.built: dict[tuple[str, str], Path] = {}

    def folder(self, name: str) -> Path:
        key = (name, "folder")
        if key not in self.built:
            self.built[key] = big_stores.BUILDERS[name](CORPUS / "bcd", self.root / name / "folder")
        return self.built[key]

    def get(self, name: str, sink: str) -> Path:
        key = (name, sink)
        if key not in self.built:
            if sink in ("fat", "ntfs"):
                need_tools("sfdisk", *(("mkfs.fat", "mcopy") if sink == "fat"
                                       else ("mkntfs", "ntfscp")))
                dest = self.root / name / sink
                dest.mkdir(parents=True, exist_ok=True)
                build = big_stores.on_fat if sink == "fat" else big_stores.on_ntfs
                build(self.folder(name), dest / "disk.img")
                self.built[key] = dest
            else:
                self.built[key] = self.folder(name)
        return self.built[key]

    def copy(self, name: str, sink: str, dest: Path) -> Path:
        """A private copy of the target (sparse stays sparse); returns what to name on the CLI."""
        subprocess.run(["cp", "-a", "--sparse=always", str(self.get(name, sink)), str(dest)],
                       check=True)
        if sink == "file":
            return dest / big_stores.BOOT / "BCD"
        return dest / "disk.img" if sink in ("fat", "ntfs") else dest


@pytest.fixture(scope="session")
def targets(tmp_path_factory):
    """The inputs; the slow ones (thousands of editor calls) are built here, before a test's
    hang guard starts counting."""
    if not (CORPUS / "bcd" / big_stores.STORE).is_file():
        pytest.skip("../shared/corpus is absent")
    built = Targets(tmp_path_factory.mktemp("big-stores"))
    for name in ("huge-values", "many-elements"):
        built.folder(name)
    return built


@pytest.fixture(scope="session")
def over_the_caps(tmp_path_factory):
    """Stores just over each BCD cap, built before any hang guard (see `targets`)."""
    if not (CORPUS / "bcd" / big_stores.STORE).is_file():
        pytest.skip("../shared/corpus is absent")
    root = tmp_path_factory.mktemp("over-the-caps")
    corpus = CORPUS / "bcd"
    return {
        "hive": big_stores.huge_values(corpus, root / "hive", total=MAX_BCD_HIVE_BYTES,
                                       elements=0),
        "one BCD element": big_stores.huge_values(corpus, root / "element",
                                                  total=2 * MAX_BCD_ELEMENT_BYTES,
                                                  value=2 * MAX_BCD_ELEMENT_BYTES),
        "for all of them": big_stores.huge_values(corpus, root / "data", total=2 * MiB,
                                                  value=60_000, elements=40),
        "objects and elements": big_stores.declared_keys(corpus, root / "keys"),
    }


def _run(targets, tmp_path, name, sink, command):
    target = targets.copy(name, sink, tmp_path / "target")
    args, codes = COMMANDS[command]
    peak, code, err = measured(*[target if a == "TARGET" else a for a in args])
    assert code in EXPECTED.get(name, codes), err
    assert peak < MAX_RSS, f"{command} on {name} ({sink}): {peak / MiB:.1f} MiB"
    return target


@pytest.mark.parametrize("sink", SINKS)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_on_a_store_padded_to_the_cap(targets, tmp_path, sink, command):
    """The store zero-padded to just under 64 MiB (the slack is never read or copied)."""
    _run(targets, tmp_path, "padded", sink, command)


@pytest.mark.parametrize("sink", SINKS)
@pytest.mark.parametrize("name", ["declared", "dirty-big-logs", "huge-values", "many-elements"])
@pytest.mark.parametrize("command", ["enum", "set"])
def test_reading_and_writing_inputs_near_the_caps(targets, tmp_path, name, sink, command):
    """A declared bins size near the cap in a small file; a dirty store with two 63 MiB logs
    (replayed an entry at a time); a hive near MAX_BCD_HIVE_BYTES with element data at its
    caps; a store with MAX_BCD_KEYS objects and elements."""
    _run(targets, tmp_path, name, sink, command)


@pytest.mark.parametrize("name", ["dirty-big-logs", "huge-values", "many-elements"])
@pytest.mark.parametrize("command", ["forensic", "doctor", "serial-enable"])
def test_whole_store_commands_near_the_caps(targets, tmp_path, name, command):
    _run(targets, tmp_path, name, "file", command)


@pytest.mark.parametrize("sink", SINKS)
def test_undo_of_an_edit_of_a_padded_store_is_bit_exact(targets, tmp_path, state, sink):
    """Only the hive's bytes and the file's size are journaled; undo restores all 63 MiB."""
    target = _run(targets, tmp_path, "padded", sink, "set")
    image = target / big_stores.BOOT / "BCD" if sink == "folder" else target
    before = sha(targets.get("padded", sink) / image.relative_to(tmp_path / "target"))
    journals = sorted((state / "bcdtool" / "journal").glob("*/journal.json"))
    assert len(journals) == 1 and sum(p.stat().st_size for p in journals[0].parent.iterdir()) \
        < MiB      # the slack is not copied into the journal
    peak, code, err = measured("undo", journals[0])
    assert code == 0, err
    assert peak < MAX_RSS, f"undo: {peak / MiB:.1f} MiB"
    assert sha(image) == before


@pytest.mark.parametrize("why", ["hive", "one BCD element", "for all of them",
                                 "objects and elements"])
def test_inputs_over_the_caps_are_refused_within_the_bound(over_the_caps, why):
    """Over MAX_BCD_HIVE_BYTES (bins, not slack), MAX_BCD_ELEMENT_BYTES, MAX_BCD_ELEMENT_DATA
    or MAX_BCD_KEYS: exit 30 naming the cap, under 100 MiB."""
    folder = over_the_caps[why]
    for args in (["enum", folder], ["bcdedit", "/store", folder, "/set", BOOTMGR, "timeout", 1]):
        peak, code, err = measured(*args)
        assert code == 30 and why in err and "new-store" in err, err
        assert peak < MAX_RSS, f"{args[0]}: {peak / MiB:.1f} MiB"


def test_the_probe_sees_a_big_child(tmp_path):
    """Control: the measurement is the child's own peak (a child holding 150 MiB shows it)."""
    code = ("import json, resource, subprocess, sys; subprocess.run([sys.executable, '-c', "
            "'b = bytearray(150 << 20); b[::4096] = bytes(len(b[::4096]))']); "
            "print(json.dumps([resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, 0, '']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert json.loads(done.stdout)[0] * 1024 > 150 * MiB


def test_copies_of_the_store_are_not_kept(targets, tmp_path):
    """The padded store's slack is never read: an edit's peak is about that of a small store."""
    small = tmp_path / "small"
    shutil.copytree(targets.get("padded", "folder"), small)
    with open(small / big_stores.BOOT / "BCD", "r+b") as handle:
        handle.truncate(32768)
    big_peak, code, err = measured(*_args("set", targets.copy("padded", "folder",
                                                              tmp_path / "big")))
    assert code == 0, err
    small_peak, code, err = measured(*_args("set", small))
    assert code == 0, err
    assert big_peak < small_peak + 8 * MiB, (big_peak / MiB, small_peak / MiB)


def _args(command: str, target: Path) -> list:
    return [target if a == "TARGET" else a for a in COMMANDS[command][0]]
