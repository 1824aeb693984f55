"""Recipes layer: the `forensic --timeline` — every time and sequence number the store holds.

One sorted list of events: the primary's base block (last-written time, sequence numbers, the
last-reorganized time), each log's base block, each log entry (its sequence number, whether it
is already applied, and which keys' cells lie in its dirty pages), and the last-write time of
every key (objects, their Description and Elements keys, each element key), named the BCD way.
Log entries carry no time of their own: they are placed at their log's base-block time.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from bcdtool import _construct
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import BcdToolError
from bcdtool.ops.forensic_labels import key_label
from bcdtool.ops.forensic_model import filetime_iso
from bcdtool.ops.forensic_source import Source
from bcdtool.regf import history
from bcdtool.regf.hive import Hive
from bcdtool.regf.layout import BaseBlock
from bcdtool.regf.logs import is_dirty

CSV_COLUMNS = ("time", "source", "kind", "subject", "sequence", "detail")


@dataclass(frozen=True)
class Event:
    """One dated (or sequenced) fact."""

    time: str | None               # ISO 8601 UTC, None when the record holds no valid time
    source: str                    # file name the fact was read from
    kind: str                      # hive-header, hive-reorganized, log-header, log-entry, key
    subject: str
    detail: str = ""
    sequence: int | None = None

    def sort_key(self) -> tuple:
        """Time first (undated last), then source, kind, sequence, subject."""
        return (self.time is None, self.time or "", self.source, self.kind,
                -1 if self.sequence is None else self.sequence, self.subject, self.detail)

    def to_json(self) -> dict:
        """The JSON object of this event."""
        return {"time": self.time, "source": self.source, "kind": self.kind,
                "subject": self.subject, "sequence": self.sequence, "detail": self.detail}

    def text(self) -> str:
        """One line of the text report."""
        seq = f" seq {self.sequence}" if self.sequence is not None else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.time or '(no time)':27} {self.source:10} {self.kind:16} " \
               f"{self.subject}{seq}{detail}"


def base_block_facts(data: bytes) -> dict:
    """Sequence numbers, times and state of a primary's base block, as stored."""
    head = _construct.parse(BaseBlock, data, what="regf base block")
    primary, secondary = head.primary_sequence_number, head.secondary_sequence_number
    written, reorganized = head.last_written_timestamp, head.last_reorganized_timestamp
    return {"primary_sequence": primary, "secondary_sequence": secondary,
            "last_written": filetime_iso(written), "last_written_filetime": written,
            "last_reorganized": filetime_iso(reorganized), "dirty": is_dirty(data)}


def timeline(source: Source, hive: Hive, store: BcdStore) -> list[Event]:
    """Every event of the store, its logs and keys, sorted."""
    name = next(f.name for f in source.files if f.role == "store")
    facts = base_block_facts(source.store)
    events = [Event(facts["last_written"], name, "hive-header", "primary base block",
                    f"sequence {facts['primary_sequence']}/{facts['secondary_sequence']}, "
                    + ("dirty" if facts["dirty"] else "clean"), facts["primary_sequence"])]
    if facts["last_reorganized"]:
        events.append(Event(facts["last_reorganized"], name, "hive-reorganized",
                            "primary base block", "last reorganization"))
    events += _log_events(source, hive, store)
    events += _key_events(hive, store, name)
    return sorted(events, key=Event.sort_key)


def _key_events(hive: Hive, store: BcdStore, name: str) -> list[Event]:
    out = []
    try:
        keys = list(hive.walk())
    except BcdToolError:
        keys = [hive.root]
    for key in keys:
        out.append(Event(filetime_iso(key.filetime), name, "key-written",
                         key.path or "(root)", key_label(store, key.path)))
    return out


def _log_events(source: Source, hive: Hive, store: BcdStore) -> list[Event]:
    out = []
    snapshots = {(s.entry.log, s.entry.index): s for s in history.snapshots(source.store,
                                                                              source.logs)}
    current = history.cell_owners(hive)
    for lf in history.read_logs(source.store, source.logs):
        when = filetime_iso(lf.last_written) if lf.last_written else None
        out.append(Event(when, lf.name, "log-header", "log base block",
                         f"{'valid' if lf.valid else 'invalid'}, file type {lf.file_type}, "
                         f"sequence {lf.primary_sequence}/{lf.secondary_sequence}, "
                         f"{len(lf.entries)} entries"
                         + (f" ({lf.stop_reason})" if lf.stop_reason else ""),
                         lf.primary_sequence))
        for entry in lf.entries:
            snap = snapshots.get((entry.log, entry.index))
            replayed = history.open_snapshot(snap, source.store_name) if snap else None
            owners = history.cell_owners(replayed) if replayed is not None else current
            keys = history.touched(owners, entry.pages)
            pages = ", ".join(f"{o:#x}+{n:#x}" for o, n in entry.pages)
            shown = "; ".join(key_label(store, k) for k in keys) or "no live key"
            out.append(Event(when, lf.name, "log-entry", f"entry {entry.index} ({entry.format} "
                             f"format, {entry.status})",
                             f"hive size {entry.hive_bins_data_size:#x}, pages {pages}; "
                             f"touched: {shown}", entry.sequence))
    return out


def to_csv(events: list[Event]) -> str:
    """The events as CSV (header row; RFC 4180 quoting) for timeline tools."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in events:
        writer.writerow([e.time or "", e.source, e.kind, e.subject,
                         "" if e.sequence is None else e.sequence, e.detail])
    return buffer.getvalue()
