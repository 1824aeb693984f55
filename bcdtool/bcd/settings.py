"""BCD layer: well-known settings objects ({emssettings}, {dbgsettings}, {globalsettings}, …) —
create a missing one as bcdboot would (type, inheritance) and make it reachable.

Reference: ../shared/reference/bcd.md §5.3 (default inheritance graph) and §9 (missing objects).
"""

from __future__ import annotations

from bcdtool.bcd import enum, objects
from bcdtool.bcd.elements import E
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import BcdToolError


def ensure_settings(store: BcdStore, alias: str, notices: list[str], *,
                    reach: list[str] | None = None) -> str:
    """The GUID of well-known settings object `alias`, creating it as bcdboot would (type and
    inheritance) and making it reachable from {bootmgr} and the OS loaders — or, with `reach`,
    from those objects only (a recipe changes no inherit list of an object it does not edit);
    says what it did."""
    guid = objects.ALIASES[alias]
    if store.has(guid):
        return guid
    object_type, parents = objects.SETTINGS_OBJECTS[alias]
    store.create_object(guid, object_type)
    inherit = [objects.ALIASES[p] for p in parents if store.has(objects.ALIASES[p])]
    if inherit:
        store.set_element(guid, E.INHERIT, inherit)
    notices.append(f"created {alias} {guid} (type {object_type:#010x}), which the store "
                       "lacked")
    _make_reachable(store, alias, guid, notices, reach)
    return guid


def _make_reachable(store: BcdStore, alias: str, guid: str, notices: list[str],
                    reach: list[str] | None) -> None:
    """Link a new settings object the way bcdboot does: {globalsettings} inherits the library
    settings objects, and {bootmgr} and OS loaders that cannot reach it inherit {globalsettings}."""
    glob = objects.ALIASES["{globalsettings}"]
    if alias in ("{emssettings}", "{dbgsettings}", "{badmemory}"):
        if store.has(glob):
            _append_inherit(store, glob, guid, notices)
        else:
            ensure_settings(store, "{globalsettings}", notices, reach=reach)
    if alias not in ("{emssettings}", "{dbgsettings}", "{badmemory}", "{globalsettings}"):
        return
    for obj in store.objects():
        wanted = obj.guid in reach if reach is not None else \
            obj.type in (objects.BOOTMGR, objects.OSLOADER)
        if wanted and not _reaches(store, obj.guid, guid):
            _append_inherit(store, obj.guid, glob, notices)


def _reaches(store: BcdStore, start: str, target: str) -> bool:
    seen: set[str] = set()
    stack = [start]
    while stack:
        current = stack.pop()
        if current == target:
            return True
        if current in seen or not store.has(current):
            continue
        seen.add(current)
        elem = store.get(current).elements.get(E.INHERIT)
        try:
            stack.extend(g.lower() for g in (elem.value() if elem else []))
        except BcdToolError:
            pass
    return False


def _append_inherit(store: BcdStore, guid: str, parent: str, notices: list[str]) -> None:
    elem = store.get(guid).elements.get(E.INHERIT)
    current = list(elem.value()) if elem else []
    if parent in (g.lower() for g in current):
        return
    store.set_element(guid, E.INHERIT, current + [parent])
    notices.append(f"added {enum.identifier(store, parent, enum.View())} to the inherit list "
                       f"of {enum.identifier(store, guid, enum.View(better=True))}")
