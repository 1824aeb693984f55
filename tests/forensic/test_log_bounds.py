"""How much of a hostile transaction log is hashed: the cheap checks first (Windows stops at the
first break), each distinct entry hashed once per process, and no more entries than a hive of
the log's size can need (`limits.LOG_ENTRY_BYTES_PER_HIVE`).  Counted in hash calls and entries,
never in seconds (bench/hostile_logs.py has the timings)."""

from __future__ import annotations

import struct

import pytest

from bcdtool.limits import LOG_ENTRY_BYTES_PER_HIVE, MAX_BCD_HIVE_BYTES
from bcdtool.ops.forensic import investigate
from bcdtool.regf import history, logs
from bcdtool.regf.checksums import marvin32
from tests.forensic.forensic_helpers import (LOADER, dirty_pages, edit, make_entry, make_log,
                                             new_store, with_sequence)


@pytest.fixture
def hashed(monkeypatch) -> list[int]:
    """Bytes passed to Marvin32 by the log parser, one item per call (the real function runs)."""
    calls: list[int] = []

    def counting(data, *args):
        calls.append(len(data))
        return marvin32(data, *args)

    monkeypatch.setattr(logs, "marvin32", counting)
    logs._VERIFIED.clear()
    return calls


def _store() -> tuple[bytes, int, bytes]:
    image = new_store()
    return image, struct.unpack_from("<I", image, 40)[0], image[4096:4096 + 512]


def _dirty(image: bytes, sequence: int) -> bytes:
    out = bytearray(with_sequence(image, sequence))
    struct.pack_into("<I", out, 4, sequence + 1)          # Sequence1 ahead: a write interrupted
    return bytes(out)


def test_a_sequence_break_ends_the_log_before_its_entry_is_hashed(hashed):
    image, hive_size, page = _store()
    bad = bytearray(make_entry(101 + 40, hive_size, [(0, page)] * 8))   # wrong sequence ...
    bad[-1] ^= 0xFF                                                      # ... and a wrong hash
    log = make_log(image, 100, [make_entry(100, hive_size, [(0, page)] * 8), bytes(bad)])
    files = history.read_logs(with_sequence(image, 500), [("BCD.LOG1", log)])
    assert [e.sequence for e in files[0].entries] == [100]
    assert "has sequence 141, expected 101" in files[0].stop_reason
    assert sum(hashed) < 2 * len(make_entry(100, hive_size, [(0, page)] * 8))  # first only


def test_an_out_of_bounds_page_ends_the_log_before_its_entry_is_hashed(hashed):
    image, hive_size, page = _store()
    entry = make_entry(100, hive_size, [(hive_size, page)])       # page past the hive's end
    files = history.read_logs(with_sequence(image, 500), [("BCD.LOG1", make_log(image, 100,
                                                                                [entry]))])
    assert files[0].entries == () and "out-of-bounds page" in files[0].stop_reason
    assert hashed == []


def test_each_entry_is_hashed_once_however_often_the_log_is_read(hashed, tmp_path):
    image, hive_size, page = _store()
    entries = [make_entry(100 + i, hive_size, [(0, page)] * 4) for i in range(6)]
    (tmp_path / "BCD").write_bytes(_dirty(image, 100))
    (tmp_path / "BCD.LOG1").write_bytes(make_log(image, 100, entries))
    report = investigate(str(tmp_path / "BCD"), timeline=True, history=True)
    assert len([e for e in report.timeline if e.kind == "log-entry"]) == 6
    assert len(hashed) == 2 * 6        # recover, re-check, history, timeline: one pair each


def test_a_log_holding_more_than_a_hive_can_need_is_replayed_only_that_far(hashed):
    image, hive_size, page = _store()
    per_entry = [(0, page)] * 15                      # 15 pages: an 8 KiB entry
    size = len(make_entry(0, hive_size, per_entry))
    count = LOG_ENTRY_BYTES_PER_HIVE * (hive_size // size) + 5
    log = make_log(image, 100, [make_entry(100 + i, hive_size, per_entry) for i in range(count)])
    primary = _dirty(image, 100)
    recovered = logs.recover(primary, [("BCD.LOG1", log)], max_size=4096 + hive_size)
    fits = LOG_ENTRY_BYTES_PER_HIVE * hive_size // size
    assert len(recovered.applied) == fits < count
    assert any("bcdtool's cap" in n for n in recovered.notices)
    assert len(hashed) == 2 * fits                    # nothing past the cap was hashed
    # the same bound where history lists entries, with the cap of a BCD store's hive
    files = history.read_logs(primary, [("BCD.LOG1", log)], max_size=4096 + hive_size)
    assert len(files[0].entries) == fits
    assert len(history.read_logs(primary, [("BCD.LOG1", log)],
                                 max_size=MAX_BCD_HIVE_BYTES)[0].entries) == count


def test_a_log_changed_after_its_check_is_hashed_again_and_refused(hashed):
    image, hive_size, page = _store()
    entry = make_entry(100, hive_size, [(0, page)])
    log = bytearray(make_log(image, 100, [entry]))
    primary = _dirty(image, 100)
    source = logs.LogSource(len(log), lambda at, n: bytes(log[at:at + n]))
    parsed = logs._parse_new_log("BCD.LOG1", source, hive_size)
    log[-1] ^= 1                                      # rewritten after the parse
    with pytest.raises(logs.DirtyHiveError, match="changed while it was read"):
        logs._recover_new(primary, [parsed], True)


def test_history_from_logs_with_a_gap_stops_each_chain_at_the_gap(tmp_path):
    """LOG1 holds 100, 101 and then 103 (102 is missing); LOG2 holds 103 alone.  Windows would
    never replay 103 after 101: LOG1's chain ends at the gap (its header says where), LOG2's
    entry is replayed from the primary, never on top of LOG1's state, and nothing is lost."""
    base = new_store()
    v1 = edit(base, (LOADER, "testsigning", True))
    v2 = edit(v1, (LOADER, "nointegritychecks", True))
    v3 = edit(v2, (LOADER, "testsigning", None))
    size = struct.unpack_from("<I", base, 40)[0]
    e100, e101, e103 = (make_entry(seq, size, dirty_pages(a, b))
                        for seq, (a, b) in ((100, (base, v1)), (101, (v1, v2)), (103, (v2, v3))))
    (tmp_path / "BCD").write_bytes(with_sequence(v3, 110))
    (tmp_path / "BCD.LOG1").write_bytes(make_log(base, 100, [e100, e101, e103]))
    (tmp_path / "BCD.LOG2").write_bytes(make_log(base, 103, [e103]))
    report = investigate(str(tmp_path / "BCD"), timeline=True, history=True, generated_at="T")
    headers = {e.source: e.detail for e in report.timeline if e.kind == "log-header"}
    assert "has sequence 103, expected 102" in headers["BCD.LOG1"]
    entries = sorted((e.source, e.sequence) for e in report.timeline if e.kind == "log-entry")
    assert entries == [("BCD.LOG1", 100), ("BCD.LOG1", 101), ("BCD.LOG2", 103)]
    earlier = {f.message.split("[")[1].split("]")[0] for f in report.findings
               if f.id == "bcd.earlier-setting"}
    assert earlier == {"bcd.test-signing"}            # nointegritychecks is still live
