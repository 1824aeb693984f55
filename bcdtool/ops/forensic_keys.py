"""Recipes layer: `forensic` findings about the store's keys themselves, where a setting can hide
from a strict reader (bcdedit /enum, `BcdStore`, most registry tools).

- `bcd.hidden-key`: an object key whose name is not a braced GUID (a lookalike letter, a NUL, a
  zero-width or control character), an element key whose name is not eight hex digits, or a
  second key whose name differs from another's only in case (the registry keeps names unique
  case-insensitively; which copy the boot code finds is not defined).  The elements of such a
  key are read too, and one holding a suspicious setting raises the finding to that setting's
  severity.
- `bcd.malformed-element`: an element stored in a registry type bcdedit never writes for its
  format, or with bytes its format does not have.  The rules read such an element leniently
  (`forensic_model.lenient_value`), so `testsigning` stored as a REG_DWORD 1 is still found.
- `bcd.timestamp-anomaly`: keys whose last-write time is zero, earlier than any BCD store, past
  year 9999, or later than the time of the run (a timestamp tool, or a clock set to hide when).
"""

from __future__ import annotations

from collections.abc import Iterator

from bcdtool.bcd import objects
from bcdtool.bcd.elements import Format, display_name, element_format
from bcdtool.bcd.store import Element
from bcdtool.errors import BcdToolError, NotFoundError
from bcdtool.ops.forensic_model import (RULES, Evidence, ForensicFinding, StoreView,
                                        filetime_iso, lenient_value, severity_rank)
from bcdtool.ops.forensic_rules import suspicious_value
from bcdtool.regf.hive import Key
from bcdtool.wintext import datetime_from_iso, datetime_to_filetime, upcase

#: The registry type bcdedit writes for each element format (REG_BINARY for the rest).
REG_SZ, REG_BINARY, REG_MULTI_SZ = 1, 3, 7
_REG_TYPES = {Format.STRING: REG_SZ, Format.OBJECT: REG_SZ, Format.OBJECT_LIST: REG_MULTI_SZ}
#: 2000-01-01 as a FILETIME: older than any BCD store (Microsoft's own media templates date from
#: 2005).
_FIRST_BCD = 125911584000000000
#: Why a second key of the same name (ignoring case) hides what it holds.
_SECOND = ("{what} key {name} has the name of {first} (ignoring case): the registry holds one "
           "such name, strict readers keep the first copy, and which copy the boot code reads "
           "is not defined")
#: Keys listed as evidence of one timestamp finding (the message gives the total).
MAX_KEYS_SHOWN = 32


def key_findings(view: StoreView, generated_at: str | None = None) -> list[ForensicFinding]:
    """The `bcd.hidden-key`, `bcd.malformed-element` and `bcd.timestamp-anomaly` findings of
    the store in `view` (`generated_at`: the time of this run, ISO 8601, for "in the future";
    None: not checked, as when a report's time is pinned to compare reports)."""
    out = list(_hidden_objects(view))
    out.extend(_malformed(view))
    out.extend(_timestamps(view, generated_at))
    return out


def expected_reg_type(code: int) -> int:
    """The registry type bcdedit stores element `code` in."""
    return _REG_TYPES.get(element_format(code), REG_BINARY)


def _objects_key(view: StoreView) -> Key | None:
    try:
        return view.hive.root.subkey("Objects")
    except (NotFoundError, BcdToolError):
        return None


def _hidden_objects(view: StoreView) -> Iterator[ForensicFinding]:
    objects_key = _objects_key(view)
    if objects_key is None:
        return
    seen: dict[str, str] = {}
    for key in _subkeys(objects_key):
        first = seen.get(upcase(key.name))
        seen.setdefault(upcase(key.name), key.name)
        if not objects.is_guid(key.name):
            why = f"object key {ascii(key.name)} is not a GUID: bcdedit and the boot code " \
                  "cannot name it, and it looks like an object to a person"
        elif first is not None:
            why = _SECOND.format(what="object", name=ascii(key.name), first=ascii(first))
        else:
            yield from _hidden_elements(view, key)
            continue
        yield _hidden(key, why, _settings(key, _object_type(key)))


def _hidden_elements(view: StoreView, object_key: Key) -> Iterator[ForensicFinding]:
    try:
        elements_key = object_key.subkey("Elements")
    except (NotFoundError, BcdToolError):
        return
    kind = _object_type(object_key)
    seen: dict[str, str] = {}
    for key in _subkeys(elements_key):
        first = seen.get(upcase(key.name))
        seen.setdefault(upcase(key.name), key.name)
        if len(key.name) != 8 or not all(c in "0123456789abcdefABCDEF" for c in key.name):
            why = f"element key {ascii(key.name)} is not eight hex digits: strict readers " \
                  "skip it"
        elif first is not None:
            why = _SECOND.format(what="element", name=ascii(key.name), first=ascii(first))
        else:
            continue
        code = _lenient_code(key.name)
        found = _element_settings(key, code, kind) if code is not None else []
        yield _hidden(key, why, found)


def _hidden(key: Key, why: str, settings: list[tuple[str, str]]) -> ForensicFinding:
    severity = RULES["bcd.hidden-key"].severity
    held = ""
    if settings:
        worst = max((RULES[fid].severity for fid, _ in settings), key=severity_rank)
        severity = max(severity, worst, key=severity_rank)
        held = "; it holds " + ", ".join(f"{text} [{fid}]" for fid, text in settings)
    stamp = key.filetime
    ev = Evidence(_object_of(key), None, None, 0, key=key.path, last_write=filetime_iso(stamp),
                  last_write_filetime=stamp or None)
    return ForensicFinding("bcd.hidden-key", severity, why + held, (ev,))


def _settings(object_key: Key, kind: int) -> list[tuple[str, str]]:
    """(finding id, "name = value") of every suspicious setting under an object key."""
    try:
        elements_key = object_key.subkey("Elements")
    except (NotFoundError, BcdToolError):
        return []
    out = []
    for key in _subkeys(elements_key):
        code = _lenient_code(key.name)
        if code is not None:
            out.extend(_element_settings(key, code, kind))
    return out


def _element_settings(key: Key, code: int, kind: int) -> list[tuple[str, str]]:
    try:
        value = key.value("Element")
        element = Element(code, value.raw, value.type, key.name)
    except (NotFoundError, BcdToolError):
        return []
    decoded = lenient_value(element)
    fid = suspicious_value(code, decoded)
    return [(fid, f"{display_name(code, kind)} = {decoded!r}")] if fid else []


def _malformed(view: StoreView) -> Iterator[ForensicFinding]:
    for obj in view.objects():
        for code, elem in sorted(obj.elements.items()):
            want = expected_reg_type(code)
            strict = elem.readable_value()
            if elem.reg_type == want and strict is not None:
                continue
            why = f"stored as registry type {elem.reg_type}, where bcdedit writes {want}" \
                if elem.reg_type != want else "its bytes do not fit its format"
            lenient = lenient_value(elem)
            read = f"; read leniently it is {lenient!r}" if strict is None and \
                lenient is not None else ""
            ev = view.evidence(obj, code)
            yield ForensicFinding("bcd.malformed-element", RULES["bcd.malformed-element"].severity,
                                  f"{ev.label()}: {ev.element}: {why}{read}", (ev,))


def _timestamps(view: StoreView, generated_at: str | None) -> Iterator[ForensicFinding]:
    later = _filetime_of(generated_at)
    kinds: dict[str, list[Key]] = {"zero": [], "before 2000": [], "after this run's time": []}
    try:
        keys = sorted(view.hive.walk(), key=lambda k: k.path)
    except BcdToolError:
        keys = []
    for key in keys:
        stamp = key.filetime
        if stamp == 0:
            kinds["zero"].append(key)
        elif stamp < _FIRST_BCD:
            kinds["before 2000"].append(key)
        elif (later is not None and stamp > later) or filetime_iso(stamp) is None:
            kinds["after this run's time"].append(key)
    for what, found in kinds.items():
        if not found:
            continue
        shown = found[:MAX_KEYS_SHOWN]
        evidence = tuple(Evidence(_object_of(k), None, None, 0, key=k.path or "(root)",
                                  last_write=filetime_iso(k.filetime),
                                  last_write_filetime=k.filetime or None) for k in shown)
        more = f" (the first {len(shown)} listed)" if len(found) > len(shown) else ""
        yield ForensicFinding("bcd.timestamp-anomaly", RULES["bcd.timestamp-anomaly"].severity,
                              f"{len(found)} key(s) with a last-write time {what}{more}: "
                              "Windows stamps every key it writes with the current time; "
                              "the store's times were set by another tool", evidence)


def _filetime_of(iso: str | None) -> int | None:
    """An ISO 8601 UTC time as a FILETIME, or None when it does not parse."""
    when = datetime_from_iso(iso)
    return None if when is None else datetime_to_filetime(when)


def _object_of(key: Key) -> str:
    parts = (key.path or "").split("\\")
    return parts[1] if len(parts) > 1 and parts[0] == "Objects" else ""


def _object_type(object_key: Key) -> int:
    try:
        raw = object_key.subkey("Description").value("Type").raw
    except (NotFoundError, BcdToolError):
        return 0
    return int.from_bytes(raw[:4], "little") if len(raw) >= 4 else 0


def _lenient_code(name: str) -> int | None:
    """The element code a key name most likely means (Python's int() also reads full-width
    digits), or None."""
    try:
        code = int(name.strip(" \t\0\u200b\ufeff"), 16)
    except ValueError:
        return None
    return code if 0 <= code <= 0xFFFFFFFF else None


def _subkeys(key: Key) -> list[Key]:
    try:
        return key.subkeys()
    except BcdToolError:
        return []
