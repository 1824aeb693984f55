"""`forensic --timeline`: key times agree with python-registry, log entries with its log parser,
the list is sorted, and the CSV carries the same events."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json

import pytest
from Registry import Registry, RegistryParse

from bcdtool.ops.forensic import investigate
from bcdtool.ops.forensic_timeline import CSV_COLUMNS, to_csv
from tests.helpers.common import corpus_files
from tests.forensic.forensic_helpers import bcdtool

STORES = [p.name for p in corpus_files("bcd", "*.bcd")]


def _iso(stamp: dt.datetime) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ticks_agree(event) -> bool:
    """The ISO time is the raw FILETIME rounded half-even to microseconds."""
    micro = int((decimal.Decimal(event.filetime) / 10).quantize(1, decimal.ROUND_HALF_EVEN))
    return _iso(dt.datetime(1601, 1, 1) + dt.timedelta(microseconds=micro)) == event.time


def _python_registry_times(path) -> dict[str, str]:
    """Key path relative to the root -> last-write time, by python-registry."""
    reg = Registry.Registry(str(path))
    out = {}
    stack = [(reg.root(), "")]
    while stack:
        key, rel = stack.pop()
        out[rel or "(root)"] = _iso(key.timestamp())
        for sub in key.subkeys():
            stack.append((sub, f"{rel}\\{sub.name()}" if rel else sub.name()))
    return out


@pytest.mark.parametrize("name", STORES)
def test_key_times_agree_with_python_registry(corpus, name):
    path = corpus / "bcd" / name
    report = investigate(str(path), timeline=True, generated_at="T")
    ours = {e.subject: e.time for e in report.timeline if e.kind == "key-written"}
    assert ours == _python_registry_times(path)
    header = [e for e in report.timeline if e.kind == "hive-header"]
    regf = Registry.Registry(str(path))._regf
    assert [(e.time, e.sequence) for e in header] == [
        (_iso(regf.modification_timestamp()), regf.hive_sequence1())]
    assert all(_ticks_agree(e) for e in report.timeline if e.filetime is not None)
    assert all(dt.datetime.fromisoformat(e.time.replace("Z", "+00:00")).replace(tzinfo=None)
               == dt.datetime.strptime(e.time, "%Y-%m-%dT%H:%M:%S.%fZ")
               for e in report.timeline if e.time)
    assert report.timeline == sorted(report.timeline, key=lambda e: e.sort_key())


@pytest.mark.parametrize("name", [n for n in STORES if any(
    (p.name.startswith(n + ".LOG")) for p in corpus_files("bcd", "*.LOG*"))])
def test_log_entries_agree_with_python_registry(corpus, name):
    report = investigate(str(corpus / "bcd" / name), timeline=True, generated_at="T")
    ours = sorted((e.source, e.sequence) for e in report.timeline if e.kind == "log-entry")
    theirs = []
    for log in sorted(corpus_files("bcd", name + ".LOG*")):
        block = RegistryParse.REGFBlock(log.read_bytes(), 0, False)
        theirs += [(log.name, entry.sequence()) for entry in block.log_entries()]
    assert ours == sorted(theirs) and ours
    primary = Registry.Registry(str(corpus / "bcd" / name))._regf.hive_sequence2()
    for e in report.timeline:
        if e.kind == "log-entry":
            assert ("applied" in e.subject) == (e.sequence < primary)
            assert "touched:" in e.detail


def test_log_entry_names_the_keys_it_touched(corpus):
    report = investigate(str(corpus / "bcd" / "win11-uefi-installed-2025.bcd"), timeline=True)
    (entry,) = [e for e in report.timeline if e.kind == "log-entry" and e.sequence == 1084]
    assert "{fwbootmgr} {a5a30fa2-3d06-4e9f-b5f4-a01df9d1fcba} element timeout" in entry.detail
    assert "Objects\\{a5a30fa2-3d06-4e9f-b5f4-a01df9d1fcba}\\Elements\\25000004" in entry.keys
    assert entry.to_json()["keys"] == list(entry.keys)


def test_csv_for_timeline_tools(corpus):
    path = corpus / "bcd" / "win10-uefi-installed-crufty-2016.bcd"
    run = bcdtool("forensic", path, "--csv")
    assert run.returncode == 0, run.stderr
    rows = list(csv.reader(io.StringIO(run.stdout)))
    assert tuple(rows[0]) == CSV_COLUMNS
    doc = json.loads(bcdtool("forensic", path, "--timeline", "--json").stdout)
    assert len(rows) - 1 == len(doc["timeline"])
    assert [r[0] for r in rows[1:]] == [e["time"] or "" for e in doc["timeline"]]
    kinds = {r[2] for r in rows[1:]}
    assert {"hive-header", "log-header", "log-entry", "key-written"} <= kinds
    report = investigate(str(path), timeline=True)
    assert to_csv(report.timeline) == run.stdout
