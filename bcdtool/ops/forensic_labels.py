"""Recipes layer: BCD names for hive key paths and element values, for `forensic` listings.

The regf scanners speak in key paths (`Objects\\{guid}\\Elements\\12000004`); examiners want
`{bootmgr} {9dea...} description`.  These helpers translate, for live and for recovered data.
"""

from __future__ import annotations

import re

from bcdtool.bcd import codec, objects
from bcdtool.bcd.device import Device
from bcdtool.bcd.elements import display_name
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import BcdToolError

_PATH = re.compile(r"^Objects\\(\{[0-9a-fA-F-]{36}\})(?:\\(Description|Elements)"
                   r"(?:\\([0-9a-fA-F]{8}))?)?$", re.IGNORECASE)


def parse_path(path: str) -> tuple[str | None, str | None, int | None]:
    """(object GUID, "Description"/"Elements", element code) of a BCD key path (Nones if not)."""
    match = _PATH.match(path)
    if not match:
        return None, None, None
    guid, part, code = match.groups()
    return guid.lower(), part, int(code, 16) if code else None


def object_label(store: BcdStore, guid: str) -> str:
    """`{alias} {guid}` (or `{default} {guid}`, or the GUID and its description)."""
    alias = "{default}" if guid == store.default_guid() else objects.alias_of(guid)
    if alias:
        return f"{alias} {guid}"
    if store.has(guid) and store.get(guid).description:
        return f"{guid} ({store.get(guid).description})"
    return guid


def key_label(store: BcdStore, path: str, object_type: int | None = None) -> str:
    """A BCD reading of a key path: object, and element name when it is an element key."""
    guid, part, code = parse_path(path)
    if guid is None:
        return path or "(root)"
    label = object_label(store, guid)
    if code is not None:
        kind = object_type if object_type is not None else _type(store, guid)
        return f"{label} element {display_name(code, kind or 0)} ({code:08x})"
    if part:
        return f"{label} {part}"
    return label


def _type(store: BcdStore, guid: str) -> int | None:
    return store.get(guid).type if store.has(guid) else None


def value_text(code: int, raw: bytes) -> str:
    """An element value decoded for display (hex when it does not decode)."""
    try:
        value = codec.decode(code, raw)
    except BcdToolError:
        return f"<raw {raw.hex()}>"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, Device):
        return value.text(str, detailed=True)
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)
