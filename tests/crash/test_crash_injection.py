"""Crash injection: `serial-console enable` killed right after each of its writes, on every image
format and on hive files; then detection on the next open, exact undo, and completion on re-run.
Also disk-full, I/O and read-only errors in the middle of a write: reported and rolled back.

The default run covers a representative subset (raw GPT disk and hive files at crash points
before the first write, after the first and after the second; VHDX after its header update;
qcow2 and MBR/NTFS in the middle of the changed pages); `make crash` runs every crash point of
every target.
"""

from __future__ import annotations

import pytest

from tests.helpers.common import CORPUS, sha
from tests.crash.crash_support import (
    DISK_FORMATS,
    FAULT_EXIT,
    INJECTED,
    build_cases,
    crash_and_recover,
    ems_enabled,
    journal_named,
    run_bcdtool,
    store_bytes,
    virtual_bytes,
)

#: More writes than any commit of the recipe does (a guard against a loop that never completes).
MAX_WRITES = 64


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    return build_cases(CORPUS, tmp_path_factory.mktemp("crash-targets"))


@pytest.mark.parametrize("name,n", [("raw", 0), ("raw", 1), ("raw", 2), ("hive-file", 0),
                                    ("hive-file", 1), ("hive-file-logs", 0), ("hive-file-logs", 1),
                                    ("hive-file-logs", 2), ("vhdx", 1), ("qcow2", 5),
                                    ("mbr-ntfs", 5)])
def test_crash_point(cases, name, n, tmp_path):
    outcome = crash_and_recover(cases[name], n, tmp_path / "run")
    assert outcome == "crashed", f"{name}: the recipe finished in fewer than {n + 1} writes"
    INJECTED.setdefault(name, []).append(n)


@pytest.mark.slow
@pytest.mark.parametrize("name", DISK_FORMATS + ["mbr-ntfs", "hive-file", "hive-file-logs"])
def test_every_crash_point(cases, name, tmp_path):
    """N = 0, 1, 2, ... until the command completes: every write of the recipe is a crash point."""
    crashed = []
    for n in range(MAX_WRITES):
        if crash_and_recover(cases[name], n, tmp_path / f"n{n}") == "completed":
            break
        crashed.append(n)
    else:
        pytest.fail(f"{name}: still crashing after {MAX_WRITES} writes")
    # a hive file is replaced by a temp file + rename (2 writes, plus one per stale log); a disk
    # takes the dirty base block, the changed pages and the clean base block (3 at least)
    least = 2 if cases[name].kind == "file" else 3
    assert len(crashed) >= least, f"{name}: only {len(crashed)} crash points: is the hook wired in?"
    INJECTED.setdefault(name, []).extend(crashed)


def _error_mid_write(case, mode: str, n: int, tmp_path):
    state = tmp_path / "state"
    mine = case.fresh_copy(tmp_path / "target")
    before = sha(virtual_bytes(mine, tmp_path))
    run = run_bcdtool(["serial-console", "enable", str(mine.target)], state, fault=n, mode=mode)
    return state, mine, before, run


@pytest.mark.parametrize("name", ["raw", "vhdx", "qcow2", "mbr-ntfs", "hive-file-logs"])
@pytest.mark.parametrize("mode", ["enospc", "eio"])
def test_write_error_is_rolled_back(cases, name, mode, tmp_path):
    """One write fails (disk full, I/O error) after another succeeded: exit 25 (a full disk) or
    39 (the medium failed: MediaError, naming ddrescue), the original bytes are back, no
    interrupted write is left behind, and the command then succeeds."""
    state, mine, before, run = _error_mid_write(cases[name], mode, 1, tmp_path)
    assert run.returncode == {"enospc": 25, "eio": 39}[mode], run.stderr
    assert {"enospc": "df -h", "eio": "ddrescue"}[mode] in run.stderr
    assert "restored" in run.stderr, run.stderr
    assert {"enospc": "No space left", "eio": "Input/output error"}[mode] in run.stderr
    assert sha(virtual_bytes(mine, tmp_path)) == before
    status = run_bcdtool(["serial-console", "status", str(mine.target)], state)
    assert status.returncode == 3, status.stderr      # problems found, not an interrupted write
    again = run_bcdtool(["serial-console", "enable", str(mine.target)], state)
    assert again.returncode == 0, again.stderr
    assert ems_enabled(store_bytes(mine, tmp_path))


def test_file_write_error_says_restored(cases, tmp_path):
    state, mine, before, run = _error_mid_write(cases["hive-file-logs"], "enospc", 1, tmp_path)
    assert run.returncode == 25 and sha(virtual_bytes(mine, tmp_path)) == before
    assert "restored" in run.stderr, run.stderr


def test_no_temp_file_left_after_crash_and_undo(cases, tmp_path):
    mine = cases["hive-file"].fresh_copy(tmp_path / "target")
    state = tmp_path / "state"
    assert run_bcdtool(["serial-console", "enable", str(mine.target)], state,
                       fault=1).returncode == FAULT_EXIT
    opened = run_bcdtool(["serial-console", "status", str(mine.target)], state)
    assert run_bcdtool(["undo", str(journal_named(opened.stderr))], state).returncode == 0
    assert sorted(p.name for p in mine.folder.iterdir()) == ["BCD"]


@pytest.mark.parametrize("name", ["raw", "hive-file-logs"])
def test_medium_turning_read_only(cases, name, tmp_path):
    """Every write from the second on fails (EROFS), so the rollback fails too: the error says so
    and names the journal; the next open reports the interrupted write; undo then restores."""
    state, mine, before, run = _error_mid_write(cases[name], "erofs", 1, tmp_path)
    assert run.returncode == 25, run.stderr
    # Disk or hive file alike (one write path): the rollback's own writes failed too.
    assert "restoring the original bytes failed too" in run.stderr, run.stderr
    journal = journal_named(run.stderr)
    opened = run_bcdtool(["serial-console", "status", str(mine.target)], state)
    assert opened.returncode == 27, opened.stderr
    assert journal_named(opened.stderr) == journal
    assert run_bcdtool(["undo", str(journal)], state).returncode == 0
    assert sha(virtual_bytes(mine, tmp_path)) == before
    for original in cases[name].folder.iterdir():   # the neutralised log's header is back too
        assert sha((mine.folder / original.name).read_bytes()) == sha(original.read_bytes())
    assert not ems_enabled(store_bytes(mine, tmp_path))


def test_stream_optimized_vmdk_is_refused_unwritten(cases, tmp_path):
    """streamOptimized VMDKs hold compressed grains: nothing can be rewritten in place, so the
    recipe is refused before any write (no crash point exists) and the image is unchanged."""
    from fixtures.images import convert

    raw = cases["raw"]
    folder = tmp_path / "stream"
    folder.mkdir()
    image = convert(raw.target, "vmdk-stream", folder)
    before = image.read_bytes()
    run = run_bcdtool(["serial-console", "enable", str(image)], tmp_path / "state", fault=0)
    assert run.returncode not in (0, FAULT_EXIT, 1), run.stderr
    assert "nothing was written" in run.stderr or "compressed" in run.stderr, run.stderr
    assert image.read_bytes() == before


def test_fault_hook_is_inert_unarmed(cases, tmp_path):
    """Without the variable the hook does nothing: the recipe completes (and the exit code a
    fault uses is distinct from every bcdtool exit code)."""
    from bcdtool.errors import all_error_classes

    assert FAULT_EXIT not in {cls.exit_code for cls in all_error_classes()} | {0, 1, 2, 3}
    mine = cases["raw"].fresh_copy(tmp_path / "target")
    run = run_bcdtool(["serial-console", "enable", str(mine.target)], tmp_path / "state")
    assert run.returncode == 0, run.stderr
    assert ems_enabled(store_bytes(mine, tmp_path))
