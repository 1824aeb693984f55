"""Issue #11's attacks re-run against main through the real CLI (a subprocess each), for the gaps
the re-run found: hard links to files outside the target, a FIFO named by `--backup`, and a second
writer told "interrupted write" (exit 27) about a write that was still running."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bcdtool.limits import MAX_BCD_BYTES
from tests.helpers.common import CORPUS, run_process, sha
from tests.helpers.journals import rewrite_signed
from tests.hostile.test_declared_sizes import MAX_RSS, peak_rss

STORE = "win11-uefi-installed-2025.bcd"          # clean, with a stale BCD.LOG and BCD.LOG1
SET = ("/set", "{bootmgr}", "timeout")


@pytest.fixture
def folder(tmp_path):
    """A mounted-ESP-like folder holding the store and its stale logs; returns (root, Boot)."""
    if not (CORPUS / "bcd" / STORE).is_file():
        pytest.skip("../shared/corpus is absent")
    boot = tmp_path / "esp" / "EFI" / "Microsoft" / "Boot"
    boot.mkdir(parents=True)
    shutil.copyfile(CORPUS / "bcd" / STORE, boot / "BCD")
    for log in ("LOG", "LOG1"):
        shutil.copyfile(CORPUS / "bcd" / f"{STORE}.{log}", boot / f"BCD.{log}")
    return tmp_path / "esp", boot


def _canary(tmp_path: Path, data: bytes) -> tuple[Path, str]:
    canary = tmp_path / "outside" / "canary"
    canary.parent.mkdir()
    canary.write_bytes(data)
    return canary, sha(canary)


def _journal_holds(state: Path, data: bytes) -> list[Path]:
    return [p for p in state.rglob("*") if p.is_file() and data[:64] in p.read_bytes()]


@pytest.mark.parametrize(("named", "log"), [("folder", "BCD.LOG"), ("file", "BCD.LOG1"),
                                           ("folder", "BCD.LOG2")])
def test_log_hard_linked_to_an_outside_file_is_never_zeroed_or_copied(folder, tmp_path, state,
                                                                     log, named):
    root, boot = folder
    # A stale log's bytes, so the commit would zero its header (what it did to the canary before).
    canary, before = _canary(tmp_path, (CORPUS / "bcd" / f"{STORE}.LOG1").read_bytes())
    (boot / log).unlink(missing_ok=True)
    os.link(canary, boot / log)
    store = sha(boot / "BCD")
    proc = run_process("bcdedit", "/store", root if named == "folder" else boot / "BCD", *SET, "9")
    assert proc.returncode == 31, proc.stderr
    assert "hard links" in proc.stderr and "nothing was written" in proc.stderr
    assert sha(canary) == before and sha(boot / "BCD") == store
    assert not _journal_holds(state, canary.read_bytes())


def test_store_hard_linked_to_an_outside_file_in_a_folder_is_not_written(folder, tmp_path):
    root, boot = folder
    canary, before = _canary(tmp_path, (boot / "BCD").read_bytes())
    (boot / "BCD").unlink()
    os.link(canary, boot / "BCD")
    proc = run_process("bcdedit", "/store", root, *SET, "9")
    assert proc.returncode == 31, proc.stderr
    assert "cp -p" in proc.stderr                  # the next step a rescue user can take
    assert sha(canary) == before


def test_audit_log_hard_linked_to_an_outside_file_is_refused(folder, tmp_path):
    root, boot = folder
    canary, before = _canary(tmp_path, b"root:x:0:0::/root:/bin/sh\n")
    os.link(canary, tmp_path / "audit.jsonl")
    store = sha(boot / "BCD")
    audit_log = tmp_path / "audit.jsonl"
    proc = run_process("bcdedit", "--audit-log", audit_log, "/store", root, *SET, "9")
    assert proc.returncode == 31, proc.stderr
    assert "--audit-log" in proc.stderr
    assert sha(canary) == before and sha(boot / "BCD") == store


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_backup_path_that_is_a_fifo_or_device_never_hangs(folder, tmp_path, kind):
    root, boot = folder
    where = tmp_path / "backup"
    if kind == "fifo":
        os.mkfifo(where)
    else:
        where.symlink_to("/dev/zero")            # endless: reading it whole never ends
    store = sha(boot / "BCD")
    proc = run_process("bcdedit", "--backup", where, "/store", root, *SET, "9")
    assert proc.returncode == 31, proc.stderr
    assert sha(boot / "BCD") == store


def _journal_of_a_write(root: Path, state: Path) -> Path:
    proc = run_process("bcdedit", "/store", root, *SET, "9")
    assert proc.returncode == 0, proc.stderr
    (journal,) = state.glob("bcdtool/journal/*/journal.json")
    return journal


def _raise_marker(journal: Path, pid: int, started: str | None) -> None:
    """Put journal and pending marker in the state a writer in the middle of its write leaves
    (journal "writing", marker naming it and the writing process)."""
    doc = json.loads(journal.read_text())
    doc["state"] = "writing"
    rewrite_signed(journal, doc, journal.parents[2])
    marker = journal.parents[2] / "pending"
    marker.mkdir(exist_ok=True)
    key = doc["target_key"]
    name = hashlib.sha256(key.encode()).hexdigest()[:32] + ".json"
    (marker / name).write_text(json.dumps({"key": key, "journal": str(journal), "pid": pid,
                                           "started": started}))


def _started(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[19].decode()


def test_a_write_in_progress_is_reported_as_locked_not_interrupted(folder, state):
    root, _ = folder
    journal = _journal_of_a_write(root, state)
    writer = subprocess.Popen(["sleep", "120"])     # stands for the live writing process
    try:
        _raise_marker(journal, writer.pid, _started(writer.pid))
        proc = run_process("enum", root)
        assert proc.returncode == 32, proc.stderr  # another writer: wait, do not undo
        assert "undo" not in proc.stderr and f"pid {writer.pid}" in proc.stderr
    finally:
        writer.kill()
        writer.wait()
    # The same marker once its process is gone is an interrupted write, as before.
    proc = run_process("enum", root)
    assert proc.returncode == 27 and "bcdtool undo" in proc.stderr, proc.stderr


def test_a_reused_pid_is_not_taken_for_a_live_writer(folder, state):
    root, _ = folder
    journal = _journal_of_a_write(root, state)
    _raise_marker(journal, os.getpid(), "1")       # a live pid, but not the one that wrote
    proc = run_process("enum", root)
    assert proc.returncode == 27, proc.stderr


def _timeout(spec: Path) -> int:
    out = run_process("bcdedit", "/store", str(spec), "/enum", "{bootmgr}").stdout
    return int(next(line.split()[-1] for line in out.splitlines() if line.startswith("timeout")))


def test_concurrent_writers_never_lose_a_reported_success(folder):
    """Three real writers at once, several rounds: each exits 0 (and its value is then the
    store's, or a later success overwrote it), 25 (changed since read) or 32 (locked) —
    never 27 (no write was interrupted), 1, or a success whose change is gone."""
    root, boot = folder
    specs = [root, boot / "BCD", root]         # the folder and the BCD in it share one lock
    seen = set()
    for rnd in range(3):
        values = [str(100 + 10 * rnd + k) for k in range(len(specs))]
        with concurrent.futures.ThreadPoolExecutor(len(specs)) as pool:
            procs = list(pool.map(lambda sv: run_process("bcdedit", "/store", str(sv[0]), *SET,
                                                      sv[1]), zip(specs, values, strict=True)))
        codes = [p.returncode for p in procs]
        seen.update(codes)
        assert set(codes) <= {0, 25, 32}, [p.stderr for p in procs]
        won = [int(v) for v, p in zip(values, procs, strict=True) if p.returncode == 0]
        if won:
            assert _timeout(root) in won
    assert 0 in seen


@pytest.mark.xfail(strict=True, reason="open gap: a store just under the 64 MiB BCD cap costs "
                   "~415 MiB peak in bcdedit /set (copies of the image in plan, verify, journal "
                   "and re-read); the 100 MiB bound holds only for refused inputs")
def test_bcd_edit_of_a_store_just_under_the_cap_stays_under_100_mib(folder):
    root, boot = folder
    with open(boot / "BCD", "r+b") as handle:      # zero padding after the last bin, sparse
        handle.truncate(MAX_BCD_BYTES - (1 << 20))
    assert peak_rss("bcdedit", "/store", root, *SET, "3") < MAX_RSS
