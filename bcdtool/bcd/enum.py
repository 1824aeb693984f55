"""BCD layer: the `/enum` renderer — bcdedit's text layout line for line, a richer offline view
(alias and GUID together, partition identities), and the JSON form.

Reference: ../shared/reference/bcd.md §8 (display rules) and §10 (selection, layout, values).
"""

from __future__ import annotations

from typing import NamedTuple

from bcdtool.bcd import objects
from bcdtool.bcd.device import Device, DiskLayout
from bcdtool.bcd.elements import (FORMAT_NAMES, HEX_INTEGERS, IPV4_INTEGERS, E, Format,
                                  display_name, element_format, is_hidden, lookup)
from bcdtool.bcd.store import BcdObject, BcdStore, Change, Element
from bcdtool.errors import BcdToolError
from bcdtool.wintext import escape_name

NAME_WIDTH = 24
SELECTORS = ("active", "all", "firmware", "bootapp", "bootmgr", "osloader", "resume", "inherit",
             "device")


class View(NamedTuple):
    """How to render: bcdedit's exact layout (`better=False`) or bcdtool's offline view."""

    verbose: bool = False      # /v: full GUIDs (bcdedit) and hidden template elements
    better: bool = False       # alias and GUID together, partition identities
    disk: DiskLayout | None = None  # the disk the store was read from, to name its partitions


#: bcdedit's own layout (no bcdtool additions), the default view.
BCDEDIT = View()


def select(store: BcdStore, selector: str = "active") -> list[BcdObject]:
    """The objects `/enum <selector>` prints, in bcdedit's order (selector or identifier).

    Raises:
        InvalidIdentifierError / NotFoundError: for an identifier that is not valid or absent.
    """
    key = selector.strip().lower()
    if key == "active":
        bootmgr_guid = objects.ALIASES["{bootmgr}"]
        if not store.has(bootmgr_guid):
            return []
        bootmgr = store.get(bootmgr_guid)
        chosen = [bootmgr]
        order = bootmgr.elements.get(E.DISPLAYORDER)
        for guid in _object_list(order):
            if store.has(guid) and store.get(guid) not in chosen:
                chosen.append(store.get(guid))
        return chosen
    if key in SELECTORS:
        return [o for o in store.objects() if objects.matches_selector(key, o.type)]
    return [store.get(store.resolve(selector))]


def _object_list(elem: Element | None) -> list[str]:
    if elem is None:
        return []
    try:
        value = elem.value()
    except BcdToolError:
        return []
    return [g.lower() for g in value if objects.is_guid(g)]


def identifier(store: BcdStore, guid: str, view: View) -> str:
    """An object reference as printed: `{default}`, an alias or the GUID (§8 display rules)."""
    guid = guid.lower()
    if view.verbose and not view.better:
        return guid
    alias = "{default}" if guid == store.default_guid() else objects.alias_of(guid)
    if not view.better:
        return alias or guid
    return f"{alias} {guid}" if alias else guid


def render(store: BcdStore, chosen: list[BcdObject], view: View = BCDEDIT) -> str:
    """The `/enum` text for `chosen` (each section preceded by an empty line, LF line ends)."""
    lines: list[str] = []
    for obj in chosen:
        lines.extend(render_object(store, obj, view))
    return "\n".join(lines) + "\n" if lines else ""


def render_object(store: BcdStore, obj: BcdObject, view: View) -> list[str]:
    """One section: empty line, title, dashes, identifier, then elements in code order."""
    title = objects.section_title(obj.guid, obj.type)
    lines = ["", title, "-" * len(title), _line("identifier", [identifier(store, obj.guid, view)])]
    for code in sorted(obj.elements):
        if is_hidden(code) and not view.verbose:
            continue
        lines.append(_line(display_name(code, obj.type),
                           value_lines(store, obj, obj.elements[code], view)))
    return lines


def _line(name: str, values: list[str]) -> str:
    head = name.ljust(NAME_WIDTH) if len(name) < NAME_WIDTH else name + " "
    first = values[0] if values else ""
    rest = ["\n" + " " * NAME_WIDTH + v for v in values[1:]]
    return (head + first).rstrip() + "".join(rest)


def value_lines(store: BcdStore, obj: BcdObject, elem: Element, view: View) -> list[str]:
    """The printed value of an element, one string per output line; control characters a
    hostile store put in a string (a terminal escape, a line break) are shown as `\\uXXXX`."""
    return [escape_name(line) for line in _value_lines(store, obj, elem, view)]


def _value_lines(store: BcdStore, obj: BcdObject, elem: Element, view: View) -> list[str]:
    try:
        value = elem.value()
    except BcdToolError:
        return [f"<invalid {FORMAT_NAMES.get(element_format(elem.code), 'data')}: "
                f"{elem.raw.hex()}>"]
    fmt = element_format(elem.code)
    row = lookup(elem.code, obj.type)
    if fmt == Format.BOOLEAN:
        return ["Yes" if value else "No"]
    if fmt == Format.INTEGER:
        name = row.value_name(value) if row else None
        if name is None and row is not None and (row.scope, row.name) in HEX_INTEGERS:
            name = f"{value:#x}"
        if name is None and row is not None and (row.scope, row.name) in IPV4_INTEGERS \
                and value < 1 << 32:
            name = ".".join(str(b) for b in value.to_bytes(4, "little"))
        return [name if name is not None else str(value)]
    if fmt == Format.INTEGER_LIST:
        # named lists print hex; a custom: integer list was seen printed in decimal (§10.3)
        return [f"{v:#x}" if row and row.name else str(v) for v in value]
    if fmt == Format.OBJECT:
        return [_reference(store, value, view)]
    if fmt == Format.OBJECT_LIST:
        return [_reference(store, v, view) for v in value]
    if fmt == Format.DEVICE:
        assert isinstance(value, Device)
        return [value.text(lambda g: _reference(store, g, view), detailed=view.better,
                           where=view.disk.name if view.disk else None)]
    return [str(value)]


def _reference(store: BcdStore, text: str, view: View) -> str:
    return identifier(store, text, view) if objects.is_guid(text) else text


# --- JSON ---------------------------------------------------------------------------------------

def to_json(store: BcdStore, chosen: list[BcdObject], disk: DiskLayout | None = None) -> dict:
    """Every chosen object and element: code, name, format, raw hex, decoded value and text."""
    view = View(better=True, verbose=True, disk=disk)
    return {
        "default": store.default_guid(),
        "objects": [_object_json(store, obj, view) for obj in chosen],
        "notices": list(store.notices),
    }


def _object_json(store: BcdStore, obj: BcdObject, view: View) -> dict:
    return {
        "guid": obj.guid,
        "alias": "{default}" if obj.guid == store.default_guid() else objects.alias_of(obj.guid),
        "type": f"{obj.type:#010x}",
        "type_name": objects.type_description(obj.type),
        "title": objects.section_title(obj.guid, obj.type),
        "description": obj.description,
        "elements": [element_json(store, obj, obj.elements[c], view) for c in sorted(obj.elements)],
    }


def element_json(store: BcdStore, obj: BcdObject, elem: Element, view: View) -> dict:
    """One element as JSON."""
    fmt = element_format(elem.code)
    data = {"code": f"{elem.code:#010x}", "name": display_name(elem.code, obj.type),
            "format": FORMAT_NAMES.get(fmt, str(fmt)), "reg_type": elem.reg_type,
            "raw": elem.raw.hex(), "hidden": is_hidden(elem.code)}
    try:
        value = elem.value()
    except BcdToolError as exc:
        data.update(value=None, error=exc.message)
        return data
    data["value"] = value.to_json() if isinstance(value, Device) else value
    data["text"] = "\n".join(value_lines(store, obj, elem, view))
    return data


# --- diff ---------------------------------------------------------------------------------------

def describe_change(store: BcdStore, change: Change) -> str:
    """One line for a staged change: object, element, old -> new."""
    view = View(better=True)
    who = identifier(store, change.object, view)
    if change.code is None:
        return f"{change.action} {who} ({objects.type_description(change.object_type)})"
    obj = BcdObject(change.object, change.object, change.object_type)
    old = _text(store, obj, change.old, view)
    new = _text(store, obj, change.new, view)
    return f"{who} {change.element_name}: {old} -> {new}"


def change_json(store: BcdStore, change: Change) -> dict:
    """A staged change as JSON."""
    obj = BcdObject(change.object, change.object, change.object_type)
    view = View(better=True)
    return {"object": change.object, "action": change.action,
            "code": None if change.code is None else f"{change.code:#010x}",
            "name": change.element_name,
            "old": None if change.old is None else change.old.raw.hex(),
            "new": None if change.new is None else change.new.raw.hex(),
            "old_text": _text(store, obj, change.old, view) if change.old else None,
            "new_text": _text(store, obj, change.new, view) if change.new else None}


def _text(store: BcdStore, obj: BcdObject, elem: Element | None, view: View) -> str:
    if elem is None:
        return "(absent)"
    return " ".join(value_lines(store, obj, elem, view))
