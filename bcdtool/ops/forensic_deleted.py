"""Recipes layer: `forensic --deleted` — keys, values and element data recovered from free space.

`regf.carve` finds `nk`/`vk` records in free cells and non-zero slack after live value data;
this module names them the BCD way (a deleted object, a deleted element and its last value, an
element overwritten by a shorter value) and keeps them apart from live data: every record says
`recovered: true` and where its bytes were.
"""

from __future__ import annotations

from dataclasses import dataclass

from bcdtool.bcd import codec, objects
from bcdtool.bcd.elements import display_name
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import BcdToolError
from bcdtool.ops.forensic_labels import key_label, object_label, parse_path, value_text
from bcdtool.ops.forensic_model import (RULES, Evidence, ForensicFinding, filetime_iso,
                                        severity_rank)
from bcdtool.ops.forensic_rules import suspicious_value
from bcdtool.regf import carve as regf_carve
from bcdtool.regf.hive import Hive


@dataclass(frozen=True)
class Recovered:
    """One recovered record (never live data)."""

    kind: str                      # "key", "value" or "slack"
    offset: int                    # cell offset in the hive bins
    path: str                      # reconstructed key path ("?\\..." when the parent is unknown)
    label: str                     # BCD reading of the path
    name: str | None               # value name (values and slack)
    last_write: str | None         # the key record's last-write time
    value: str | None              # decoded value (element values) or data type and bytes
    raw: str | None
    note: str = ""

    def to_json(self) -> dict:
        """The JSON object of this record (always `recovered: true`)."""
        return {"recovered": True, "kind": self.kind, "cell_offset": self.offset,
                "path": self.path, "label": self.label, "name": self.name,
                "last_write": self.last_write, "value": self.value, "raw": self.raw,
                "note": self.note}

    def text(self) -> str:
        """One line of the text report."""
        stamp = f" (last write {self.last_write})" if self.last_write else ""
        value = f" {self.name!r} = {self.value}" if self.name is not None else ""
        note = f" [{self.note}]" if self.note else ""
        return f"RECOVERED {self.kind} at cell {self.offset:#x}: {self.label}{stamp}{value}{note}"


def deleted(hive: Hive, store: BcdStore
            ) -> tuple[list[Recovered], list[ForensicFinding], list[str]]:
    """Every recovered key, value and slack record of the store (sorted by kind and offset),
    the findings the recovered values deserve, and notes on where carving held back."""
    carved = regf_carve.carve(hive)
    types = _recovered_types(carved)
    out: list[Recovered] = []
    for key in carved.keys:
        guid, _, _ = parse_path(key.path)
        label = key_label(store, key.path, types.get(guid))
        parent = "" if key.parent_live else "; parent unknown" if key.path.startswith("?") \
            else "; its parent was deleted too"
        out.append(Recovered("key", key.offset, key.path, label, None,
                             filetime_iso(key.filetime), None, None,
                             f"{len(key.values)} value(s) "
                             + ("matched by position: its value list was cleared"
                                if key.values_by_position else "reached through its value list")
                             + parent))
        for value in key.values:
            out.append(_value(value, key.path, label))
    for value in carved.values:
        out.append(_value(value, "?", "(owner unknown)"))
    for slack in carved.slack:
        out.append(Recovered("slack", slack.cell, slack.key, key_label(store, slack.key),
                             slack.value, None, _printable(slack.data), slack.data.hex(),
                             "bytes after the live value's end (an earlier, longer value)"))
    return sorted(out, key=lambda r: (r.kind, r.offset, r.name or "")), \
        deleted_findings(carved, store), carved.notes


def deleted_findings(carved: regf_carve.Carved, store: BcdStore) -> list[ForensicFinding]:
    """`bcd.deleted-setting` for each recovered element value that is suspicious on its own
    (testsigning Yes, DISABLE_INTEGRITY_CHECKS, ...), and for recovered startup objects."""
    types = _recovered_types(carved)
    out = []
    for key in carved.keys:
        guid, _, code = parse_path(key.path)
        if guid is None:
            continue
        for value in key.values:
            if code is None and value.name.lower() == "type" and value.data and \
                    int.from_bytes(value.data[:4], "little") == objects.STARTUP:
                out.append(_deleted(store, guid, types.get(guid), None, None, key,
                                    "bcd.startup-application", "a startup application object"))
            if code is None or value.name.lower() != "element" or value.data is None:
                continue
            try:
                decoded = codec.decode(code, value.data)
            except BcdToolError:
                continue
            fid = suspicious_value(code, decoded)
            if fid is not None:
                out.append(_deleted(store, guid, types.get(guid), code,
                                    value_text(code, value.data), key, fid, RULES[fid].meaning))
    return out


def _deleted(store: BcdStore, guid: str, object_type: int | None, code: int | None,
             value: str | None, key: regf_carve.RecoveredKey, fid: str,
             meaning: str) -> ForensicFinding:
    kind = object_type if object_type is not None else \
        (store.get(guid).type if store.has(guid) else 0)
    element = None if code is None else display_name(code, kind)
    evidence = Evidence(guid, objects.alias_of(guid), None, kind, element, code, value, None,
                        key.path, filetime_iso(key.filetime), key.filetime or None)
    what = f"{element} = {value}" if element else "the object"
    severity = "medium" if severity_rank(RULES[fid].severity) > 1 else "low"
    return ForensicFinding("bcd.deleted-setting", severity,
                           f"RECOVERED from free space (deleted key at cell {key.offset:#x}) "
                           f"{object_label(store, guid)}: {what}: [{fid}] {meaning}", (evidence,))


def _recovered_types(carved: regf_carve.Carved) -> dict[str, int]:
    """Object GUID -> object type read from recovered `Description\\Type` values."""
    types = {}
    for key in carved.keys:
        guid, part, code = parse_path(key.path)
        if guid and part == "Description" and code is None:
            for value in key.values:
                if value.name.lower() == "type" and value.data and len(value.data) >= 4:
                    types[guid] = int.from_bytes(value.data[:4], "little")
    return types


def _value(value: regf_carve.RecoveredValue, path: str, label: str) -> Recovered:
    _, _, code = parse_path(path)
    if value.data is None:
        shown = None
    elif code is not None and value.name.lower() == "element":
        shown = value_text(code, value.data)
    else:
        decoded = value.decoded()
        shown = f"{value.type_name} {decoded!r}" if decoded is not None else \
            f"{value.type_name} {value.data.hex()}"
    return Recovered("value", value.offset, path, label, value.name, None, shown,
                     None if value.data is None else value.data.hex(), value.data_note)


def _printable(data: bytes) -> str:
    """UTF-16LE text when the bytes read as such, else their hex."""
    trimmed = data.rstrip(b"\0")
    if len(trimmed) % 2:
        trimmed += b"\0"
    try:
        text = trimmed.decode("utf-16-le")
    except UnicodeDecodeError:
        return data.hex()
    return repr(text) if text and text.isprintable() else data.hex()
