"""`bcdtool batch` as a user runs it: JSON lines, summary, exit codes, --output/--continue,
--shard, --op, and a manifest error refused before anything runs."""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path

import pytest

from tests.helpers.common import CORPUS, run_process

STORE = "bcd/win10-uefi-installed-systemd-boot.bcd"


@pytest.fixture
def bcdtool(tmp_path):
    """`bcdtool ARGS` as a process run from tmp_path, with its own state folder."""
    return partial(run_process, state=tmp_path / "s", cwd=tmp_path, timeout=300,
                   env={"BCDTOOL_FAULT_AFTER_WRITES": None})


@pytest.fixture
def stores(tmp_path) -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    out = []
    for i in range(4):
        path = tmp_path / f"BCD{i}"
        shutil.copy(CORPUS / STORE, path)
        out.append(path)
    return out


def lines(stdout: str) -> tuple[list[dict], dict]:
    docs = [json.loads(line) for line in stdout.splitlines()]
    assert "summary" in docs[-1]
    return docs[:-1], docs[-1]["summary"]


def test_json_lines_summary_and_exit_codes(stores, tmp_path, bcdtool):
    manifest = tmp_path / "m.txt"
    manifest.write_text("\n".join(str(p) for p in stores) + "\n")
    run = bcdtool("batch", str(manifest), "--json", "--jobs", "2")
    assert run.returncode == 0, run.stderr
    results, total = lines(run.stdout)
    assert sorted(r["target"] for r in results) == sorted(map(str, stores))
    for r in results:
        assert set(r) >= {"target", "status", "changes", "journal", "error", "seconds"}
        assert r["status"] == "ok" and r["changes"] and r["journal"] and r["error"] is None
    assert total == dict(total, targets=4, ok=4, failed=0, changed=4)
    # one missing target: its line says why, the others are fine, exit 3
    manifest.write_text(f"{stores[0]}\n{tmp_path / 'nope.vhdx'}\n")
    run = bcdtool("batch", str(manifest), "--json")
    assert run.returncode == 3
    results, total = lines(run.stdout)
    failed = [r for r in results if r["status"] == "failed"]
    assert len(failed) == 1 and "nope.vhdx" in failed[0]["target"] and failed[0]["exit_code"] == 15
    assert total["ok"] == 1 and total["failed"] == 1


def test_output_and_continue(stores, tmp_path, bcdtool):
    manifest = tmp_path / "m.txt"
    broken = tmp_path / "broken.bcd"
    broken.write_bytes(b"regf" + bytes(4092))
    manifest.write_text(f"{stores[0]}\n{broken}\n{stores[1]}\n")
    out = tmp_path / "run.jsonl"
    first = bcdtool("batch", str(manifest), "--output", str(out))
    assert first.returncode == 3
    assert "FAILED" in first.stdout and "2 ok, 1 failed" in first.stdout
    assert len(out.read_text().splitlines()) == 3
    again = bcdtool("batch", str(manifest), "--output", str(out), "--continue", "--json")
    results, total = lines(again.stdout)
    assert [r["target"] for r in results] == [str(broken)]     # only the failed one ran again
    assert "skipping 2 target(s)" in again.stderr
    assert again.returncode == 3


def test_shards_and_op(stores, tmp_path, bcdtool):
    manifest = tmp_path / "m.txt"
    manifest.write_text("".join(f"{p}\n" for p in stores))
    seen = []
    for k in range(2):
        run = bcdtool("batch", str(manifest), "--json", "--shard", f"{k}/2", "--op",
                      "bcdedit /timeout 9")
        assert run.returncode == 0, run.stderr
        results, _ = lines(run.stdout)
        seen += [r["target"] for r in results]
        assert all(r["ops"] == [{"op": "bcdedit", "args": ["/timeout", "9"]}] for r in results)
    assert sorted(seen) == sorted(map(str, stores))
    from Registry import Registry

    for path in stores:
        key = Registry.Registry(str(path)).open(
            "Objects\\{9dea862c-5cdd-4e70-acc1-f32b344d4795}\\Elements\\25000004")
        assert key.value("Element").raw_data()[:8] == (9).to_bytes(8, "little")


def test_bad_manifest_runs_nothing(stores, tmp_path, bcdtool):
    manifest = tmp_path / "m.txt"
    manifest.write_text(f"{stores[0]}\n" + '{"target": "x", "ops": ["format c:"]}\n')
    before = stores[0].read_bytes()
    run = bcdtool("batch", str(manifest))
    assert run.returncode == 24 and "manifest line 2" in run.stderr
    assert stores[0].read_bytes() == before
    manifest.write_text(f"{stores[0]}\n")
    run = bcdtool("batch", str(manifest), "--continue")
    assert run.returncode == 24 and "--output" in run.stderr
    assert stores[0].read_bytes() == before


def test_relative_targets_resolve_from_the_callers_folder(stores, tmp_path, bcdtool):
    manifest = tmp_path / "m.txt"
    manifest.write_text("".join(f"{p.name}\n" for p in stores[:2]))
    run = bcdtool("batch", "m.txt", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    results, _ = lines(run.stdout)
    assert sorted(r["target"] for r in results) == ["BCD0", "BCD1"]
    assert all(r["changes"] for r in results)
