"""Recipes layer: `forensic --history` — earlier element values recoverable from the logs.

Each log entry is replayed onto a private copy of the primary (`regf.history.snapshots`); the
copy is read as a BCD store and compared with the live store, element by element.  Every
difference is one record: which element had which value at which sequence number, in which log
entry, whether that entry is already applied to the primary (or pending), and what the element
holds now.  A replayed copy that does not parse (a stale log whose pages no longer fit the
primary's layout) is noted and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from bcdtool.bcd.elements import display_name
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import BcdToolError
from bcdtool.limits import MAX_BCD_HIVE_BYTES
from bcdtool.ops.forensic_labels import object_label, value_text
from bcdtool.ops.forensic_model import ForensicFinding, StoreView, filetime_iso, severity_rank
from bcdtool.ops.forensic_rules import findings
from bcdtool.ops.forensic_source import Source
from bcdtool.regf import history as regf_history
from bcdtool.regf.hive import Hive


@dataclass(frozen=True)
class Version:
    """An element (or object) as a log entry shows it, beside its value in the live store."""

    log: str
    entry: int
    sequence: int
    status: str                    # "applied" or "pending"
    guid: str
    object: str                    # BCD label of the object
    code: int | None               # None: the whole object
    element: str | None
    value: object                  # decoded value at that sequence (None: absent then)
    value_text: str
    raw: str | None
    now_text: str                  # the live store's value, or "(absent)"
    key_last_write: str | None

    def to_json(self) -> dict:
        """The JSON object of this record."""
        return {"log": self.log, "entry": self.entry, "sequence": self.sequence,
                "status": self.status, "object": self.guid, "object_label": self.object,
                "code": None if self.code is None else f"{self.code:#010x}",
                "element": self.element, "value": self.value_text, "raw": self.raw,
                "now": self.now_text, "key_last_write": self.key_last_write}

    def text(self) -> str:
        """One line of the text report."""
        what = f"{self.object} {self.element}" if self.element else f"object {self.object}"
        return f"seq {self.sequence} ({self.log} entry {self.entry}, {self.status}): {what} = " \
               f"{self.value_text}; now {self.now_text}"


@dataclass(frozen=True)
class History:
    """Earlier element values, and the security findings only earlier states had."""

    versions: list[Version]
    findings: list[ForensicFinding]


def history(source: Source, hive: Hive) -> History:
    """Every element value that a log entry shows differently from the live store (sorted), and
    a `bcd.earlier-setting` finding for each suspicious setting a replayed state had that the
    live store no longer has."""
    live = BcdStore(hive)
    now = {_finding_key(f) for f in findings(StoreView(live, hive))}
    out: list[Version] = []
    earlier: dict[tuple, ForensicFinding] = {}
    for snap in regf_history.snapshots(source.store, source.logs, max_size=MAX_BCD_HIVE_BYTES):
        past_hive = regf_history.open_snapshot(snap, source.store_name)
        if past_hive is None:
            continue
        try:
            past = BcdStore(past_hive)
        except BcdToolError:
            continue
        out.extend(_differences(snap.entry, past, live))
        for found in findings(StoreView(past, past_hive)):
            key = _finding_key(found)
            if severity_rank(found.severity) > 0 and key not in now and key not in earlier:
                earlier[key] = ForensicFinding(
                    "bcd.earlier-setting", "medium" if severity_rank(found.severity) > 1
                    else "low", f"{snap.entry.label()}, {snap.entry.status}: [{found.id}] "
                    f"{found.message} -- the live store no longer has this", found.evidence)
    versions = sorted(out, key=lambda v: (v.sequence, v.log, v.entry, v.guid, v.code or 0))
    return History(versions, list(earlier.values()))


def _finding_key(found: ForensicFinding) -> tuple:
    return (found.id, tuple((e.guid, e.code, e.value) for e in found.evidence))


def _differences(entry: regf_history.LogEntry, past: BcdStore, live: BcdStore) -> list[Version]:
    out = []
    for obj in past.objects():
        now_obj = live.get(obj.guid) if live.has(obj.guid) else None
        label = object_label(live if now_obj else past, obj.guid)
        if now_obj is None:
            out.append(_version(entry, past, obj, None, label, "(object absent)"))
        for code, elem in sorted(obj.elements.items()):
            now = now_obj.elements.get(code) if now_obj else None
            if now is not None and (now.raw, now.reg_type) == (elem.raw, elem.reg_type):
                continue
            now_text = "(absent)" if now is None else value_text(code, now.raw)
            out.append(_version(entry, past, obj, code, label, now_text))
        if now_obj is not None:
            for code in sorted(set(now_obj.elements) - set(obj.elements)):
                now_elem = now_obj.elements[code]
                out.append(Version(entry.log, entry.index, entry.sequence, entry.status,
                                   obj.guid, label, code, display_name(code, obj.type), None,
                                   "(absent)", None, value_text(code, now_elem.raw), None))
    return out


def _version(entry, past: BcdStore, obj, code: int | None, label: str, now_text: str) -> Version:
    if code is None:
        stamp = _stamp(past.hive, f"Objects\\{obj.key_name}")
        return Version(entry.log, entry.index, entry.sequence, entry.status, obj.guid, label,
                       None, None, None, f"object of type {obj.type:#010x}", None, now_text,
                       stamp)
    elem = obj.elements[code]
    try:
        value = elem.value()
    except BcdToolError:
        value = None
    stamp = _stamp(past.hive, f"Objects\\{obj.key_name}\\Elements\\{elem.key_name}")
    return Version(entry.log, entry.index, entry.sequence, entry.status, obj.guid, label, code,
                   display_name(code, obj.type), value, value_text(code, elem.raw),
                   elem.raw.hex(), now_text, stamp)


def _stamp(hive: Hive, path: str) -> str | None:
    try:
        return filetime_iso(hive.key(path).filetime)
    except BcdToolError:
        return None
