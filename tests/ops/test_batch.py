"""Batch library: manifests, shards, --continue keys, and real runs on fixture disk images
(checked with mcopy/ntfscat + python-registry), including a failing target and dying workers."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from bcdtool.errors import InvalidArgumentError
from bcdtool.ops import batch as b
from tests.helpers.common import CORPUS
from tests.crash.crash_support import (
    STORE,
    Case,
    build_cases,
    ems_enabled,
    run_bcdtool,
    store_bytes,
)

DEFAULT = ["serial-console enable"]


def test_manifest_lines_and_json():
    tasks = b.parse_manifest(
        "# images of today\n\n/img/a.vhdx\n"
        '{"target": "/img/b.qcow2", "ops": ["bcdedit /ems {default} on", '
        '{"op": "serial-console enable", "baud": 9600}, "crashdump enable"]}\n'
        '{"target": "/mnt/root", "ops": [{"op": "linux fix", "device": "ttyS1"}]}\n', DEFAULT)
    assert [(t.line, t.target) for t in tasks] == [(3, "/img/a.vhdx"), (4, "/img/b.qcow2"),
                                                   (5, "/mnt/root")]
    assert tasks[0].ops == [{"op": "serial-console enable"}]
    assert tasks[1].ops == [{"op": "bcdedit", "args": ["/ems", "{default}", "on"]},
                            {"op": "serial-console enable", "baud": 9600},
                            {"op": "crashdump enable"}]
    assert tasks[2].ops == [{"op": "linux fix", "device": "ttyS1"}]


@pytest.mark.parametrize("line,message", [
    ('{"target": "x", "ops": ["format c:"]}', "unknown operation"),
    ('{"target": "x", "ops": [{"op": "serial-console enable", "speed": 1}]}',
     "does not take speed"),
    ('{"target": "x", "ops": ["bcdedit /store other.bcd /ems on"]}', "own store"),
    ('{"target": "x", "ops": ["bcdedit /createstore new.bcd"]}', "own store"),
    ('{"target": "x", "ops": ["bcdedit /nonsense"]}', "nonsense"),
    ('{"target": "x", "ops": []}', "non-empty"),
    ('{"target": "x", "ops": [{"op": "serial-console enable", "port": "1"}]}', "wrong type"),
    ('{"target": "x", "ops": [{"op": "serial-console enable", "port": true}]}', "wrong type"),
    ('{"target": "x", "ops": [{"op": "serial-console enable", "baud": 1234}]}', "1234"),
    ('{"target": "x", "ops": [{"op": "linux fix", "device": 0}]}', "wrong type"),
    ('{"target": "x", "extra": 1}', "unknown field"),
    ('{"ops": ["linux fix"]}', "needs \"target\""),
    ('{"target": "x", ', "invalid JSON"),
])
def test_bad_manifest_lines_refuse_the_whole_manifest(line, message):
    with pytest.raises(InvalidArgumentError, match=message) as info:
        b.parse_manifest("/img/ok.img\n" + line + "\n", DEFAULT)
    assert "line 2" in str(info.value)


def test_shards_partition_the_manifest():
    tasks = b.parse_manifest("".join(f"/img/{i}.img\n" for i in range(10)), DEFAULT)
    shards = [b.shard(tasks, k, 3) for k in range(3)]
    assert sorted(t.line for s in shards for t in s) == [t.line for t in tasks]
    assert [t.target for t in shards[1]] == ["/img/1.img", "/img/4.img", "/img/7.img"]
    for bad in ((3, 3), (-1, 3), (0, 0)):
        with pytest.raises(InvalidArgumentError):
            b.shard(tasks, *bad)


def test_continue_keys_need_same_target_ops_and_success():
    tasks = b.parse_manifest("/a\n/b\n/c\n", DEFAULT)
    ok = lambda t: json.dumps({"target": t.target, "ops": t.ops, "status": "ok"})  # noqa: E731
    previous = [ok(tasks[0]), json.dumps({"target": "/b", "ops": tasks[1].ops, "status": "failed"}),
                json.dumps({"target": "/c", "ops": [{"op": "linux fix"}], "status": "ok"}),
                '{"target": "/c", "sta', '{"summary": {"targets": 3}}']
    done = b.done_keys(previous)
    assert [t.key in done for t in tasks] == [True, False, False]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    return build_cases(CORPUS, tmp_path_factory.mktemp("batch-images"))


def copies(images, names, dest) -> list[Case]:
    out = []
    for i, name in enumerate(names):
        out.append(images[name].fresh_copy(dest / f"{i}-{name}"))
    return out


def test_batch_on_images_one_failure_isolated(images, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    targets = copies(images, ["raw", "qcow2", "vhdx", "vmdk", "mbr-ntfs", "hive-file"], tmp_path)
    garbage = tmp_path / "garbage.img"
    garbage.write_bytes(os.urandom(1024 * 1024))
    tasks = b.parse_manifest("".join(f"{c.target}\n" for c in targets[:3]) + f"{garbage}\n"
                             + "".join(f"{c.target}\n" for c in targets[3:]), DEFAULT)
    seen = []
    results = b.run_batch(tasks, jobs=2, on_result=seen.append)
    assert seen == results and len(results) == len(tasks)
    by_target = {r.target: r for r in results}
    bad = by_target[str(garbage)]
    assert bad.status == "failed" and bad.exit_code != 0 and bad.error
    for case in targets:
        result = by_target[str(case.target)]
        assert result.status == "ok", result.error
        assert result.changes and len(result.journal) == 1 and os.path.exists(result.journal[0])
        assert result.seconds > 0
        assert ems_enabled(store_bytes(case, tmp_path)), case.name
    # a second run finds nothing to change and writes nothing
    again = b.run_batch([t for t in tasks if t.target != str(garbage)], jobs=2,
                        on_result=lambda r: None)
    assert all(r.status == "ok" and not r.changes and not r.journal for r in again)


def test_dying_workers_fail_only_their_targets(images, tmp_path, monkeypatch):
    """Workers killed on their first write (the crash hook, inherited by spawned workers): the
    targets that needed a write fail with "worker died" and are detected as interrupted later;
    a target that needed no write still succeeds."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    done, *writing = copies(images, ["hive-file", "raw", "hive-file"], tmp_path)
    from bcdtool.ops.serial_console import enable

    enable(str(done.target))                     # already enabled: nothing to write
    manifest = tmp_path / "manifest.txt"
    manifest.write_text(f"{done.target}\n" + "".join(f"{c.target}\n" for c in writing))
    # `bcdtool batch` in a process whose fault hook (tests/crash/inject) its forkserver and so
    # every worker inherits: each worker dies on its first write.
    run = run_bcdtool(["batch", str(manifest), "--jobs", "2", "--json"], tmp_path / "state",
                      fault=0)
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    results = {r["target"]: r for r in lines if "target" in r}
    assert results[str(done.target)]["status"] == "ok", run.stdout + run.stderr
    from bcdtool.errors import InterruptedWriteError
    from bcdtool.ops.serial_checks import status

    for case in writing:
        result = results[str(case.target)]
        assert result["status"] == "failed" and "worker process died" in result["error"], result
        with pytest.raises(InterruptedWriteError):
            status(str(case.target))


def test_duplicate_targets_run_once(images, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    (case,) = copies(images, ["hive-file"], tmp_path)
    link = tmp_path / "same.bcd"
    os.symlink(case.target, link)
    tasks = b.parse_manifest(f"{case.target}\n{link}\n", DEFAULT)
    results = sorted(b.run_batch(tasks, jobs=2, on_result=lambda r: None), key=lambda r: r.line)
    assert [r.status for r in results] == ["ok", "failed"]
    assert "manifest line 1" in results[1].error


def test_bcdedit_and_linux_fix_ops(tmp_path, monkeypatch):
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    store = tmp_path / "BCD"
    shutil.copy(CORPUS / STORE, store)
    root = tmp_path / "root"
    shutil.copytree(CORPUS / "linux" / "rhel-7.2-azure", root)
    manifest = (json.dumps({"target": str(store), "ops": ["bcdedit /timeout 7"]}) + "\n"
                + json.dumps({"target": str(root), "ops": ["linux fix"]}) + "\n")
    results = {r.target: r for r in b.run_batch(b.parse_manifest(manifest, DEFAULT), jobs=2,
                                                on_result=lambda r: None)}
    assert all(r.status == "ok" for r in results.values()), results
    from Registry import Registry

    reg = Registry.Registry(str(store))
    timeout = reg.open("Objects\\{9dea862c-5cdd-4e70-acc1-f32b344d4795}\\Elements\\25000004")
    assert timeout.value("Element").raw_data()[:8] == (7).to_bytes(8, "little")
    linux = results[str(root)]
    assert linux.changes and linux.journal
    assert "console=ttyS0" in (root / "etc/default/grub").read_text()


def test_serial_console_and_crashdump_on_a_windows_disk(tmp_path, monkeypatch):
    """Both Windows recipes in one manifest line, on a disk with a store and a SYSTEM hive;
    read back with python-registry through ntfscat/mcopy (ops_helpers.windows_file)."""
    import io

    from Registry import Registry

    from fixtures.windows_hives import system_hive
    from tests.ops.ops_helpers import build_windows_disk, windows_file

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    raw = tmp_path / "win.img"
    disk = build_windows_disk("uefi", raw, system=system_hive(current=1))
    line = json.dumps({"target": str(raw), "ops": [
        "serial-console enable", {"op": "crashdump enable", "dump_file": r"D:\MEMORY.DMP"}]})
    (result,) = b.run_batch(b.parse_manifest(line, DEFAULT), jobs=1, on_result=lambda r: None)
    assert result.status == "ok", result.error
    assert {c["op"] for c in result.changes} == {"serial-console enable", "crashdump enable"}
    assert len(result.journal) == 2
    system = Registry.Registry(io.BytesIO(windows_file(
        raw, disk, "Windows/System32/config/SYSTEM", tmp_path)))
    crash = system.open(r"ControlSet001\Control\CrashControl")
    assert crash.value("NMICrashDump").value() == 1
    assert crash.value("DumpFile").value() == r"D:\MEMORY.DMP"
