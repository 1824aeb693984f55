"""Recipes layer: `bcdtool forensic` — tampering findings, timeline, log history and deleted data.

Reads the store and its logs strictly read-only (`forensic_source`), judges the settings
(`forensic_rules`), and on request adds the timeline (`forensic_timeline`), earlier element values
from the transaction logs (`forensic_history`) and keys and values recovered from free cells and
slack (`forensic_deleted`).  The report carries the sha256 of every byte range read and is
byte-identical for the same input: everything is sorted, and the only wall-clock value is
`generated_at`, which the caller may pin.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

from bcdtool import __version__
from bcdtool.bcd.store import BcdStore
from bcdtool.ops import forensic_deleted, forensic_history, forensic_keys, forensic_timeline
from bcdtool.ops import forensic_rules as rules
from bcdtool.ops.forensic_model import ForensicFinding, StoreView, printable, severity_rank
from bcdtool.ops.forensic_source import Source, read_source
from bcdtool.regf.hive import Hive
from bcdtool.regf.logs import is_dirty

@dataclass
class ForensicReport:
    """Everything `forensic` found about one store."""

    source: Source
    generated_at: str
    header: dict
    findings: list[ForensicFinding]
    notices: list[str] = field(default_factory=list)
    timeline: list | None = None
    history: list | None = None
    deleted: list | None = None

    @property
    def worst(self) -> str:
        """The highest severity found ("info" when there is nothing)."""
        return max((f.severity for f in self.findings), key=severity_rank, default="info")

    def integrity(self) -> dict:
        """What was read and its digests, the tool version and the location on the target."""
        return {"tool": "bcdtool", "version": __version__, "target": self.source.target,
                "kind": self.source.kind, "location": self.source.location,
                "files": [f.to_json() for f in self.source.files],
                "disk_reads": [{"offset": o, "length": n, "sha256": h}
                               for o, n, h in self.source.disk_reads]}

    def to_json(self) -> dict:
        """The whole report as one JSON document (keys sorted when dumped)."""
        doc = {"generated_at": self.generated_at,
               "integrity": self.integrity(), "hive": self.header,
               "worst_severity": self.worst,
               "findings": [f.to_json() for f in self.findings],
               "notices": list(self.notices)}
        if self.timeline is not None:
            doc["timeline"] = [e.to_json() for e in self.timeline]
        if self.history is not None:
            doc["history"] = [h.to_json() for h in self.history]
        if self.deleted is not None:
            doc["deleted"] = [d.to_json() for d in self.deleted]
        return doc


def now_utc() -> str:
    """The current time as the report's `generated_at` (ISO 8601 UTC, seconds)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def open_hive_image(source: Source) -> tuple[Hive, list[str]]:
    """The store as Windows would read it (a dirty primary replayed from its logs) and notes."""
    hive = Hive.from_bytes(source.store, name=source.store_name, logs=source.logs,
                           allow_dirty=True, strict=False)
    return hive, list(hive.notices)


def investigate(spec: str, *, partition: int | None = None, path: str | None = None,
                timeline: bool = False, history: bool = False, deleted: bool = False,
                generated_at: str | None = None) -> ForensicReport:
    """The forensic report of the store on target `spec` (nothing is opened for writing)."""
    source = read_source(spec, partition=partition, path=path)
    hive, notices = open_hive_image(source)
    notices[:0] = source.notices
    store = BcdStore(hive)
    notices += [n for n in store.notices if n not in notices]
    view = StoreView(store, hive)
    past = forensic_history.history(source, hive) if history else None
    earlier: dict = {}
    for change in past.versions if past else ():
        earlier.setdefault((change.guid, change.code), []).append(change.value)
    dirty = is_dirty(source.store)
    dirty_note = ("the primary is dirty; findings are about the state its logs complete "
                  "(" + "; ".join(hive.notices) + ")") if dirty else None
    recovered, recovered_findings, carve_notes = forensic_deleted.deleted(hive, store) \
        if deleted else (None, [], [])
    notices += carve_notes
    # A pinned generated_at is for comparing reports, not a clock: "in the future" is judged
    # against the real time of a run only.
    now = None if generated_at else now_utc()
    generated_at = generated_at or now
    found = rules.findings(view, earlier=earlier, dirty_note=dirty_note,
                           extra=(past.findings if past else []) + recovered_findings
                           + forensic_keys.key_findings(view, now))
    report = ForensicReport(source, generated_at, header_facts(source.store, hive),
                            found, notices)
    report.history = past.versions if past else None
    report.deleted = recovered
    if timeline:
        report.timeline = forensic_timeline.timeline(source, hive, store)
    return report


def header_facts(primary: bytes, hive: Hive) -> dict:
    """Base-block facts of the primary file as stored (not as recovered)."""
    facts = forensic_timeline.base_block_facts(primary)
    facts["recovered_from_logs"] = bool(hive.recovered)
    return facts


def render_text(report: ForensicReport) -> str:
    """The human-readable report."""
    lines = [f"bcdtool {__version__} forensic report, generated {report.generated_at}",
             f"target: {report.source.target} ({report.source.kind})"]
    loc = report.source.location
    if loc.get("partition") is not None:
        lines.append(f"store: partition {loc['partition']} at byte {loc['partition_start']} "
                     f"({loc.get('filesystem')}), {loc.get('path')}")
    for f in report.source.files:
        extents = ", ".join(f"{o}+{n}" for o, n in f.extents)
        lines.append(f"read {f.role:5} {f.path}  {f.size} bytes  sha256 {f.sha256}"
                     + (f"  at {extents}" if report.source.kind in ("image", "device") else ""))
    reads = report.source.disk_reads
    if reads:
        lines.append(f"read from the disk: {len(reads)} ranges, {sum(n for _, n, _ in reads)} "
                     "bytes (listed with their sha256 in --json)")
    h = report.header
    lines.append(f"hive: sequence {h['primary_sequence']}/{h['secondary_sequence']}, last "
                 f"written {h['last_written']}, {'dirty' if h['dirty'] else 'clean'}")
    for note in report.notices:
        lines.append(f"note: {note}")
    lines.append("")
    lines.append(f"findings ({len(report.findings)}, worst: {report.worst}):")
    for f in report.findings:
        attack = f" [{f.attack}]" if f.attack else ""
        lines.append(f"  [{f.severity.upper():6}] {f.id}{attack}: {f.message}")
        for e in f.evidence:
            where = f"{e.key}" + (f" (last write {e.last_write})" if e.last_write else "")
            lines.append(f"           {where}")
    for title, items in (("timeline", report.timeline), ("history", report.history),
                         ("deleted (recovered from free cells and slack)", report.deleted)):
        if items is None:
            continue
        lines.append("")
        lines.append(f"{title} ({len(items)}):")
        lines.extend("  " + item.text() for item in items)
    return "\n".join(printable(line) for line in lines) + "\n"


__all__ = ["ForensicReport", "investigate", "render_text"]
