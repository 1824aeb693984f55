"""Commit protocol on real files: clean headers, stale logs, crash prefixes, independent readers."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from bcdtool.errors import DirtyHiveError
from bcdtool.regf import commit, logs
from bcdtool.regf.checksums import raw_xor32, regf_checksum
from bcdtool.regf.hive import Hive
from bcdtool.regf.verify import verify_commit
from tests.helpers.common import need_tool
from tests.write.write_helpers import (copy_with_logs, edited, hivexsh_lsval,
                                       python_registry_value, seqs, sz)

STORE = "win11-uefi-installed-2025.bcd"  # a clean store with stale .LOG and .LOG1 beside it


def stamp(data: bytes) -> int:
    return struct.unpack_from("<Q", data, 12)[0]


def hivexregedit_export(path: Path) -> str:
    need_tool("hivexregedit")
    return subprocess.run(["hivexregedit", "--export", str(path), "\\"], capture_output=True,
                          check=True, timeout=120).stdout.decode("utf-8", "replace")


# --- finalize ---------------------------------------------------------------------------------

def test_finalize_sets_a_clean_header_and_never_decreases(corpus):
    original = (corpus / "hives" / "yarp-OldDirtyHive").read_bytes()  # 5/4, dirty
    new = bytearray(original)
    struct.pack_into("<II", new, 4, 3, 3)  # an image claiming older numbers
    final = commit.finalize(bytes(new), original)
    assert seqs(final) == (6, 6)
    assert not logs.is_dirty(final)
    assert stamp(final) > stamp(original)
    assert final[512:] == original[512:]
    assert regf_checksum(final[:508]) == raw_xor32(final[:508]) == \
        struct.unpack_from("<I", final, 508)[0]


def test_finalize_wraps_sequence_numbers(corpus):
    original = bytearray((corpus / "bcd" / "empty-createstore.bcd").read_bytes())
    struct.pack_into("<II", original, 4, 0xFFFFFFFF, 0xFFFFFFFE)
    final = commit.finalize(bytes(original), bytes(original))
    assert seqs(final) == (0, 0)


def test_finalize_avoids_checksums_hivex_and_windows_disagree_on(corpus, monkeypatch, tmp_path):
    original = (corpus / "bcd" / "empty-createstore.bcd").read_bytes()
    now = stamp(original) + 10_000_000
    probe = bytearray(original)
    struct.pack_into("<II", probe, 4, seqs(original)[0] + 1, seqs(original)[0] + 1)
    struct.pack_into("<Q", probe, 12, now)
    # Cancel the XOR through a reserved dword so the natural checksum would be 0.
    word = raw_xor32(bytes(probe[:508]))
    reserved = 200
    struct.pack_into("<I", probe, reserved, struct.unpack_from("<I", probe, reserved)[0] ^ word)
    assert raw_xor32(bytes(probe[:508])) == 0
    monkeypatch.setattr(commit, "filetime_now", lambda: now)
    final = commit.finalize(bytes(probe), original)
    assert stamp(final) == now + 1
    checksum = struct.unpack_from("<I", final, 508)[0]
    assert checksum == raw_xor32(final[:508]) == regf_checksum(final[:508])
    path = tmp_path / "perturbed"
    path.write_bytes(final)
    hivexregedit_export(path)  # hivex checks the raw XOR and would refuse a 0/1 mismatch


# --- commit_steps and crashes ------------------------------------------------------------------

def apply_steps(path: Path, steps: list[tuple[int, bytes]]) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        for offset, data in steps:
            os.pwrite(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def test_commit_steps_order_and_crash_prefixes_are_detectable(corpus, tmp_path):
    path = copy_with_logs(corpus, "bcd", "win10-uefi-recovery-store.bcd", tmp_path)
    hive = Hive.open(path)
    final = commit.finalize(edited(hive, "Objects", "BcdToolTest", "x" * 3000), hive.original)
    steps = commit.commit_steps(hive.original, final)
    assert steps[0][0] == 0 and len(steps[0][1]) == 512
    assert seqs(steps[0][1]) == (seqs(final)[0], seqs(hive.original)[1])
    assert steps[-1] == (0, final[:512])
    assert len(steps) >= 3
    for offset, data in steps[1:-1]:
        assert offset % 512 == 0 and len(data) % 512 == 0 and offset >= 512
    for cut in range(1, len(steps)):
        crashed = tmp_path / f"crash{cut}"
        shutil.copy(path, crashed)
        apply_steps(crashed, steps[:cut])
        assert logs.is_dirty(crashed.read_bytes()), cut
    done = tmp_path / "complete"
    shutil.copy(path, done)
    apply_steps(done, steps)
    data = done.read_bytes()
    assert data[:len(final)] == final and not logs.is_dirty(data)
    assert python_registry_value(data, "Objects", "BcdToolTest") == sz("x" * 3000)
    assert "BcdToolTest" in hivexsh_lsval(done, "Objects")
    verify_commit(hive.original, data)


def test_crashed_write_is_refused_on_open_once_logs_are_neutralized(corpus, tmp_path):
    path = copy_with_logs(corpus, "bcd", STORE, tmp_path)
    hive = Hive.open(path)
    final = commit.finalize(edited(hive, "Objects", "Half", "written"), hive.original)
    for log_path in logs.find_log_files(path):
        apply_steps(log_path, [(0, bytes(512))])
    steps = commit.commit_steps(hive.original, final)
    apply_steps(path, steps[:2])
    with pytest.raises(DirtyHiveError):
        Hive.open(path)
