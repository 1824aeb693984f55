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

from bcdtool.bcd.store import BcdStore
from bcdtool.errors import BcdToolError
from bcdtool.limits import MAX_BCD_HIVE_BYTES
from bcdtool.ops.forensic_labels import key_label
from bcdtool.ops.forensic_model import filetime_iso, printable
from bcdtool.ops.forensic_source import Source
from bcdtool.regf import history
from bcdtool.regf.hive import Hive
from bcdtool.regf.layout_packed import BaseBlock
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
    #: Log entries: the key paths whose cells lie in the entry's dirty pages.
    keys: tuple[str, ...] = ()
    #: The raw FILETIME behind `time` (100 ns ticks since 1601), when there is one.
    filetime: int | None = None

    def sort_key(self) -> tuple:
        """Time first (undated last), then source, kind, sequence, subject."""
        return (self.filetime is None, self.filetime or 0, self.source, self.kind,
                -1 if self.sequence is None else self.sequence, self.subject, self.detail)

    def to_json(self) -> dict:
        """The JSON object of this event."""
        doc = {"time": self.time, "source": self.source, "kind": self.kind,
               "subject": self.subject, "sequence": self.sequence, "detail": self.detail,
               "filetime": self.filetime}
        if self.kind == "log-entry":
            doc["keys"] = list(self.keys)
        return doc

    def text(self) -> str:
        """One line of the text report."""
        seq = f" seq {self.sequence}" if self.sequence is not None else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.time or '(no time)':27} {self.source:10} {self.kind:16} " \
               f"{self.subject}{seq}{detail}"


def base_block_facts(data: bytes) -> dict:
    """Sequence numbers, times and state of a primary's base block, as stored."""
    head = BaseBlock.parse(data, what="regf base block")
    primary, secondary = head.primary_sequence_number, head.secondary_sequence_number
    written, reorganized = head.last_written_timestamp, head.last_reorganized_timestamp
    return {"primary_sequence": primary, "secondary_sequence": secondary,
            "last_written": filetime_iso(written), "last_written_filetime": written,
            "last_reorganized": filetime_iso(reorganized),
            "last_reorganized_filetime": reorganized or None, "dirty": is_dirty(data)}


def timeline(source: Source, hive: Hive, store: BcdStore) -> list[Event]:
    """Every event of the store, its logs and keys, sorted."""
    name = next(f.name for f in source.files if f.role == "store")
    facts = base_block_facts(source.store)
    events = [Event(facts["last_written"], name, "hive-header", "primary base block",
                    f"sequence {facts['primary_sequence']}/{facts['secondary_sequence']}, "
                    + ("dirty" if facts["dirty"] else "clean"), facts["primary_sequence"],
                    filetime=facts["last_written_filetime"] or None)]
    if facts["last_reorganized"]:
        events.append(Event(facts["last_reorganized"], name, "hive-reorganized",
                            "primary base block", "last reorganization",
                            filetime=facts["last_reorganized_filetime"]))
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
                         key.path or "(root)", key_label(store, key.path),
                         filetime=key.filetime if filetime_iso(key.filetime) else None))
    return out


def _log_events(source: Source, hive: Hive, store: BcdStore) -> list[Event]:
    out = []
    current = history.cell_owners(hive)
    # Each replayed copy is read once and dropped: only what each entry touched is kept.
    touched: dict[tuple[str, int], list[str]] = {}
    files = history.read_logs(source.store, source.logs, max_size=MAX_BCD_HIVE_BYTES)
    for snap in history.snapshots(source.store, source.logs, files):
        replayed = history.open_snapshot(snap, source.store_name)
        owners = history.cell_owners(replayed) if replayed is not None else current
        touched[(snap.entry.log, snap.entry.index)] = history.touched(owners, snap.entry.pages)
    for lf in files:
        when = filetime_iso(lf.last_written or 0)
        raw = lf.last_written if when else None
        out.append(Event(when, lf.name, "log-header", "log base block",
                         f"{'valid' if lf.valid else 'invalid'}, file type {lf.file_type}, "
                         f"sequence {lf.primary_sequence}/{lf.secondary_sequence}, "
                         f"{len(lf.entries)} entries"
                         + (f" ({lf.stop_reason})" if lf.stop_reason else ""),
                         lf.primary_sequence, filetime=raw))
        for entry in lf.entries:
            keys = touched[(entry.log, entry.index)] if (entry.log, entry.index) in touched \
                else history.touched(current, entry.pages)
            pages = ", ".join(f"{o:#x}+{n:#x}" for o, n in entry.pages)
            shown = "; ".join(key_label(store, k) for k in keys) or "no live key"
            out.append(Event(when, lf.name, "log-entry", f"entry {entry.index} ({entry.format} "
                             f"format, {entry.status})",
                             f"hive size {entry.hive_bins_data_size:#x}, pages {pages}; "
                             f"touched: {shown}", entry.sequence, tuple(keys), raw))
    return out


def to_csv(events: list[Event]) -> str:
    """The events as CSV (header row; RFC 4180 quoting) for timeline tools; control and
    zero-width characters of crafted key names escaped (`printable`; --json keeps them)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in events:
        writer.writerow([e.time or "", e.source, e.kind, printable(e.subject),
                         "" if e.sequence is None else e.sequence, printable(e.detail)])
    return buffer.getvalue()
