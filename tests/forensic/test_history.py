"""`forensic --history`: earlier element values from log entries, on hives where the truth is known
(versions made with bcdtool's editor, logged page by page as Windows logs each flush) and on
the corpus's logs."""

from __future__ import annotations

import json
import struct

from bcdtool.ops.forensic import investigate
from bcdtool.regf.checksums import regf_checksum
from tests.forensic.forensic_helpers import (LOADER, bcdtool, edit, log_of_versions, make_entry,
                                             make_log, new_store, with_sequence, dirty_pages)


def _versions():
    v0 = new_store()
    v1 = edit(v0, (LOADER, "description", "First"))
    v2 = edit(v1, (LOADER, "description", "Second"), (LOADER, "testsigning", True))
    v3 = edit(v2, (LOADER, "description", "Third"), (LOADER, "testsigning", None))
    return [v0, v1, v2, v3]


def _write(folder, primary: bytes, log: bytes | None, name: str = "BCD.LOG1"):
    folder.mkdir(exist_ok=True)
    (folder / "BCD").write_bytes(primary)
    if log is not None:
        (folder / name).write_bytes(log)
    return folder / "BCD"


def _seen(report) -> list[tuple]:
    return [(v.sequence, v.status, v.guid, v.element, v.value_text, v.now_text)
            for v in report.history]


def test_applied_entries_give_every_earlier_value(tmp_path):
    versions = _versions()
    path = _write(tmp_path / "a", with_sequence(versions[-1], 10), log_of_versions(versions, 7))
    report = investigate(str(path), history=True, generated_at="T")
    assert _seen(report) == [
        (7, "applied", LOADER, "description", "First", "Third"),
        (8, "applied", LOADER, "description", "Second", "Third"),
        (8, "applied", LOADER, "testsigning", "Yes", "(absent)"),
    ]
    # the live findings are about the primary: testsigning is gone now
    assert not [f for f in report.findings if f.id == "bcd.test-signing"]
    history = report.history
    assert all(h.key_last_write for h in history)


def test_pending_entry_completes_a_dirty_primary(tmp_path):
    versions = _versions()
    v2, v3 = versions[2], versions[3]
    # The primary holds v2 but its last write (to v3) was interrupted: Sequence1 != Sequence2.
    primary = bytearray(with_sequence(v2, 9))
    struct.pack_into("<I", primary, 4, 10)
    struct.pack_into("<I", primary, 508, regf_checksum(bytes(primary[:508])))
    hive_size = struct.unpack_from("<I", v3, 40)[0]
    log = make_log(v2, 9, [make_entry(9, hive_size, dirty_pages(v2, v3))])
    path = _write(tmp_path / "b", bytes(primary), log)
    report = investigate(str(path), history=True, timeline=True, generated_at="T")
    assert report.header["dirty"] and report.header["recovered_from_logs"]
    assert report.history == []          # the pending entry is the live state
    assert any(f.id == "bcd.store-dirty" for f in report.findings)
    entries = [e for e in report.timeline if e.kind == "log-entry"]
    assert [(e.sequence, "pending" in e.subject) for e in entries] == [(9, True)]
    assert "description" in entries[0].detail


def test_earlier_auto_makes_hypervisor_off_medium(tmp_path):
    base = new_store()
    auto = edit(base, (LOADER, "hypervisorlaunchtype", 1))
    off = edit(auto, (LOADER, "hypervisorlaunchtype", 0))
    path = _write(tmp_path / "c", with_sequence(off, 20), log_of_versions([base, auto, off], 18))
    with_history = investigate(str(path), history=True)
    without = investigate(str(path))
    severity = {r: [f.severity for f in rep.findings if f.id == "bcd.hypervisor-off"]
                for r, rep in (("with", with_history), ("without", without))}
    assert severity == {"with": ["medium"], "without": ["low"]}
    assert [(h.element, h.value_text) for h in with_history.history] == \
        [("hypervisorlaunchtype", "1")]


def test_corpus_stale_log1_shows_deleted_firmware_entries(corpus):
    report = investigate(str(corpus / "bcd" / "win11-uefi-installed-2025.bcd"), history=True)
    mac = "{1ab7543e-556e-11f0-80d4-daad073cac2e}"
    rows = [(h.log, h.sequence, h.status, h.element, h.value_text, h.now_text)
            for h in report.history if h.guid == mac]
    assert ("win11-uefi-installed-2025.bcd.LOG1", 5, "applied", "description", "Mac OS X",
            "(absent)") in rows
    assert any(r[3] is None and r[5] == "(object absent)" for r in rows)


def test_corpus_applied_logs_hold_no_other_state(corpus):
    # Each of these logs holds only the flush the primary already contains (entry seq = primary
    # seq - 1), so replaying it changes no element.
    for name in ("win10-uefi-dualboot-testsigning.bcd", "win81-bios-installed-sysreserved.bcd",
                 "win7-bios-installed-winre.bcd", "win10-uefi-recovery-store.bcd"):
        report = investigate(str(corpus / "bcd" / name), history=True)
        assert report.history == [], name


def test_history_json_and_text(tmp_path):
    versions = _versions()
    path = _write(tmp_path / "d", with_sequence(versions[-1], 10), log_of_versions(versions, 7))
    run = bcdtool("forensic", path, "--history", "--json")
    doc = json.loads(run.stdout)
    assert [(h["sequence"], h["element"], h["value"]) for h in doc["history"]] == [
        (7, "description", "First"), (8, "description", "Second"), (8, "testsigning", "Yes")]
    text = bcdtool("forensic", path, "--history").stdout
    assert "seq 8 (BCD.LOG1 entry 1, applied)" in text and "testsigning = Yes; now (absent)" in text


def test_a_setting_cleaned_up_after_use_is_a_finding(tmp_path):
    # testsigning was switched on (seq 8) and off again (seq 9): the live store is clean, the
    # log still shows it
    versions = _versions()
    path = _write(tmp_path / "e", with_sequence(versions[-1], 10), log_of_versions(versions, 7))
    report = investigate(str(path), history=True)
    (found,) = [f for f in report.findings if f.id == "bcd.earlier-setting"]
    assert found.severity == "medium" and "[bcd.test-signing]" in found.message
    assert "seq 8" in found.message and found.evidence[0].guid == LOADER
    assert not [f for f in investigate(str(path)).findings if f.id == "bcd.earlier-setting"]
