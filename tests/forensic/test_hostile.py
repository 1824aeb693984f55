"""`forensic` on damaged stores and logs: every section runs or fails with one of bcdtool's errors,
never a traceback (bit flips and truncations of real stores and their logs)."""

from __future__ import annotations

import json
import random
import re
import struct
import subprocess
import sys

import pytest

from bcdtool.errors import BcdToolError
from bcdtool.limits import MAX_BCD_BYTES
from bcdtool.ops.forensic import investigate, render_text
from bcdtool.regf import carve, history
from bcdtool.regf.checksums import regf_checksum
from bcdtool.regf.history import MAX_REPLAYED
from tests.helpers.common import need_tool
from tests.forensic.forensic_helpers import (free_nk, free_vk, make_entry, make_log, new_store,
                                             with_free_bin, with_sequence)

CASES = [("win11-uefi-installed-2025.bcd", (".LOG", ".LOG1")),
         ("win10-uefi-installed-crufty-2016.bcd", (".LOG", ".LOG1")),
         ("win10-uefi-bitpixie-modified.bcd", ())]


def _damage(data: bytes, rng: random.Random, flips: int) -> bytes:
    out = bytearray(data)
    for _ in range(flips):
        pos = rng.randrange(len(out))
        out[pos] ^= 1 << rng.randrange(8)
    return bytes(out)


@pytest.mark.parametrize("name, logs", CASES)
@pytest.mark.parametrize("seed", range(8))
def test_damaged_inputs_raise_only_our_errors(corpus, tmp_path, name, logs, seed):
    rng = random.Random(f"{name}-{seed}")
    store = (corpus / "bcd" / name).read_bytes()
    target = tmp_path / "BCD"
    damaged = _damage(store[4096:], rng, 4)
    head = store[:4096] if seed % 2 else _damage(store[:4096], rng, 1)
    target.write_bytes((head + damaged)[:len(store) - (seed * 1000 if seed in (3, 6) else 0)])
    for suffix in logs:
        log = (corpus / "bcd" / (name + suffix)).read_bytes()
        (tmp_path / ("BCD" + suffix)).write_bytes(_damage(log, rng, 3))
    try:
        report = investigate(str(target), timeline=True, history=True, deleted=True,
                             generated_at="T")
    except BcdToolError:
        return
    assert render_text(report)
    report.to_json()


def test_a_log_of_many_entries_is_replayed_only_up_to_the_cap(tmp_path):
    image = new_store()
    page = image[4096:4096 + 512]
    hive_size = struct.unpack_from("<I", image, 40)[0]
    entries = [make_entry(100 + i, hive_size, [(0, page)]) for i in range(MAX_REPLAYED + 200)]
    (tmp_path / "BCD").write_bytes(with_sequence(image, 5000))
    (tmp_path / "BCD.LOG1").write_bytes(make_log(image, 100, entries))
    report = investigate(str(tmp_path / "BCD"), timeline=True, history=True)
    logged = [e for e in report.timeline if e.kind == "log-entry"]
    assert len(logged) == MAX_REPLAYED + 200          # all listed ...
    assert report.history == []                       # ... replaying changes nothing here
    assert len(list(history.snapshots(with_sequence(image, 5000),
                                      [("BCD.LOG1", make_log(image, 100, entries))]))) \
        == MAX_REPLAYED


def test_an_entry_claiming_a_huge_hive_is_not_replayed(tmp_path):
    image = new_store()
    entry = make_entry(7, 0x7FFF0000, [(0, image[4096:4608])])
    logs = [("BCD.LOG1", make_log(image, 7, [entry]))]
    assert list(history.snapshots(with_sequence(image, 9), logs)) == []


def test_an_oversized_log_is_listed_not_read(tmp_path):
    (tmp_path / "BCD").write_bytes(new_store())
    with open(tmp_path / "BCD.LOG2", "wb") as handle:
        handle.truncate(MAX_BCD_BYTES + 1)          # sparse: costs no disk space
    report = investigate(str(tmp_path / "BCD"), history=True)
    assert any("BCD.LOG2" in n and "not read" in n for n in report.notices)
    assert [f.name for f in report.source.files] == ["BCD"]


def _bins(image: bytes) -> int:
    return struct.unpack_from("<I", image, 40)[0]


def test_values_sharing_one_data_cell_do_not_multiply_memory_or_the_report(tmp_path):
    """Free space crafted full of vk records that all name one 64 KiB data cell: each record
    kept its own copy of the data (gigabytes; exit 30 under 2 GiB before carving held back)."""
    image = new_store()
    data_cell = struct.pack("<i", 65536 + 8) + b"A" * 65536 + bytes(4)
    first = _bins(image) + 32
    vks = b"".join(free_vk(b"x", 65536, first) for _ in range(60_000))
    (tmp_path / "BCD").write_bytes(with_free_bin(image, data_cell + vks, 2 << 20))
    report = investigate(str(tmp_path / "BCD"), deleted=True, generated_at="T")
    held = [r for r in report.deleted if r.raw]
    assert len(report.deleted) <= carve.MAX_RECORDS
    assert sum(len(r.raw) // 2 for r in held) <= carve.MAX_CARVED_DATA
    assert any("carving stopped" in n for n in report.notices)
    assert any("not read" in n for n in report.notices)
    assert all(r.kind == "value" for r in report.deleted)


def test_a_long_chain_of_deleted_keys_is_carved_in_bounded_depth(tmp_path):
    image = new_store()
    first = _bins(image) + 32
    cells, parent, offset = [], 0xFFFFFFFF, first
    for _ in range(5_000):
        cell = free_nk(b"k", parent)
        cells.append(cell)
        parent, offset = offset, offset + len(cell)
    (tmp_path / "BCD").write_bytes(with_free_bin(image, b"".join(cells), 1 << 20))
    report = investigate(str(tmp_path / "BCD"), deleted=True, generated_at="T")
    keys = [r for r in report.deleted if r.kind == "key"]
    assert len(keys) == 5_000
    assert max(r.path.count("\\") for r in keys) <= carve.MAX_DEPTH + 1


_CHANGES = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND|"
                      r"^\d+\s+(mkdir|mkdirat|rename|renameat2?|unlink|unlinkat|truncate|"
                      r"ftruncate|link|linkat|symlink|symlinkat)\(")


def test_crafted_store_and_logs_open_nothing_for_writing(tmp_path):
    """A dirty store with crafted free space and a log of hostile entries, in a read-only folder
    of read-only files: every section runs, and the syscall trace shows no open for writing and
    no file created, renamed, removed or truncated (as root, modes alone prove nothing)."""
    need_tool("strace")
    image = new_store()
    data_cell = struct.pack("<i", 4096 + 8) + b"B" * 4096 + bytes(4)
    first = _bins(image) + 32
    crafted = with_free_bin(image, data_cell + b"".join(
        free_vk(b"v", 4096, first) for _ in range(3000)), 1 << 20)
    hive_size = _bins(crafted)
    page = crafted[4096:4608]
    entries = [make_entry(20 + i, hive_size, [(0, page), (hive_size - 512, bytes(512))])
               for i in range(40)] + [make_entry(60, 0x7FFF0000, [(0, page)])]
    folder = tmp_path / "evidence"
    folder.mkdir()
    dirty = bytearray(with_sequence(crafted, 20))
    struct.pack_into("<I", dirty, 8, 19)                # secondary behind: the logs are needed
    struct.pack_into("<I", dirty, 508, regf_checksum(bytes(dirty[:508])))
    (folder / "BCD").write_bytes(bytes(dirty))
    (folder / "BCD.LOG1").write_bytes(make_log(crafted, 20, entries))
    (folder / "BCD.LOG2").write_bytes(b"regf" + bytes(100))
    for path in folder.iterdir():
        path.chmod(0o444)
    folder.chmod(0o555)
    trace = tmp_path / "trace.txt"
    state = tmp_path / "state"
    try:
        run = subprocess.run(
            ["strace", "-f", "-qq", "-e", "trace=open,openat,openat2,creat,mkdir,mkdirat,rename,"
             "renameat,renameat2,unlink,unlinkat,truncate,ftruncate,link,linkat,symlink,"
             "symlinkat", "-o", str(trace), sys.executable, "-m", "bcdtool", "forensic",
             str(folder / "BCD"), "--timeline", "--history", "--deleted", "--json"],
            capture_output=True, text=True, timeout=600,
            env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin",
                 "HOME": str(tmp_path), "XDG_STATE_HOME": str(state)})
    finally:
        folder.chmod(0o755)
    assert run.returncode in (0, 3), run.stderr
    lines = [line for line in trace.read_text().splitlines() if "/dev/null" not in line]
    assert any("BCD.LOG1" in line for line in lines), "the trace saw no open of the log"
    assert [line for line in lines if _CHANGES.search(line)] == []
    assert not state.exists()
    doc = json.loads(run.stdout)
    assert doc["deleted"] and doc["timeline"]
