"""BCD layer: `BcdStore`, the objects and elements of a BCD hive, with staged edits and a diff.

Reference: ../shared/reference/bcd.md §1.3 (key layout), §7 (inheritance), §8 (identifiers).
The store reads every object once (stores hold tens of objects), keeps an in-memory model, and
mirrors each edit into a `HiveEditor`; `to_bytes()` gives the new hive image.  Nothing here knows
where the bytes live: callers open and commit through the target layer.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from bcdtool.bcd import codec, objects
from bcdtool.bcd.elements import E, ElementDef, display_name, resolve
from bcdtool.errors import (BcdError, BcdToolError, InvalidIdentifierError, LimitError,
                            LiveSystemError, NotFoundError)
from bcdtool.limits import MAX_BCD_ELEMENT_BYTES, MAX_BCD_ELEMENT_DATA, MAX_BCD_KEYS
from bcdtool.log import get_logger
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.planned import Planned
from bcdtool.regf.hive import Hive, Key
from bcdtool.regf.values import REG_DWORD

log = get_logger(__name__)

_ELEMENT_KEY = re.compile(r"^[0-9a-fA-F]{8}$")
#: bcdedit's messages for an entry or element that is not there.
REFERENCE_ERROR = ("An error occurred while attempting to reference the specified entry. "
                   "The system cannot find the file specified.")
ELEMENT_NOT_FOUND = "Element not found."


class Element(NamedTuple):
    """One element of an object: its code and the registry data exactly as stored."""

    code: int
    raw: bytes
    reg_type: int
    key_name: str

    def value(self) -> codec.Value:
        """The decoded value (FormatError when the bytes do not fit the format)."""
        return codec.decode(self.code, self.raw)

    def readable_value(self) -> codec.Value | None:
        """The decoded value, or None when the bytes do not fit the format (checks and reports
        judge what they can read; `/enum` shows the raw bytes)."""
        try:
            return self.value()
        except BcdToolError:
            return None


class BcdObject:
    """One object: GUID (lowercase), key name as stored, type and elements by code.

    A plain class, not a dataclass: every read-only command builds this module, and a
    dataclass compiles its generated methods at import (issue 12's start-up goal)."""

    __slots__ = ("guid", "key_name", "type", "elements")
    __hash__ = None  # mutable: equal by value, so not hashable

    def __init__(self, guid: str, key_name: str, type: int,
                 elements: dict[int, Element] | None = None) -> None:
        self.guid = guid
        self.key_name = key_name
        self.type = type
        self.elements: dict[int, Element] = {} if elements is None else elements

    def __eq__(self, other: object) -> bool:
        if type(other) is not BcdObject:
            return NotImplemented
        return (self.guid, self.key_name, self.type, self.elements) == \
            (other.guid, other.key_name, other.type, other.elements)

    def __repr__(self) -> str:
        return (f"BcdObject(guid={self.guid!r}, key_name={self.key_name!r}, type={self.type:#x}, "
                f"elements={len(self.elements)})")

    def value_of(self, code: int) -> codec.Value | None:
        """The decoded value of element `code`, or None when it is absent or unreadable
        (checks and reports judge what they can read; `/enum` shows the raw bytes)."""
        elem = self.elements.get(code)
        return elem.readable_value() if elem is not None else None

    @property
    def description(self) -> str | None:
        """The `description` element, when present and readable."""
        value = self.value_of(E.DESCRIPTION)
        return None if value is None else str(value)

    def copy(self) -> BcdObject:
        """An independent copy (elements are immutable)."""
        return BcdObject(self.guid, self.key_name, self.type, dict(self.elements))


class Change(NamedTuple):
    """One semantic difference: an object created or deleted, or an element set or deleted."""

    object: str
    object_type: int
    action: str                 # "create object", "delete object", "set", "delete"
    code: int | None = None
    old: Element | None = None
    new: Element | None = None

    @property
    def element_name(self) -> str | None:
        """bcdedit's name of the element, when the change is about one."""
        return None if self.code is None else display_name(self.code, self.object_type)


def _missing_next_step(text: str, guid: str) -> str:
    """What to do about an entry the store lacks: the `/create` line for a well-known entry
    bcdedit can create, else how to list the entries there are."""
    if guid == objects.ALIASES["{fwbootmgr}"]:
        return ("This store has no {fwbootmgr} (a BIOS store, or one Windows never synced with "
                "UEFI): the firmware's own boot order lives in its NVRAM, set on the machine "
                "itself (firmware setup, efibootmgr, or a VM's UEFI variables file)")
    alias = text if text in objects.ALIASES else objects.alias_of(guid)
    if alias in objects.CREATABLE:
        return f"This store has no {alias}: create it with bcdedit /create {alias}"
    return ("List the entries this store has with bcdedit /enum all (or bcdtool enum TARGET "
            "--all)")


class BcdStore:
    """The BCD objects of a hive, with staged edits through a `HiveEditor`."""

    def __init__(self, hive: Hive) -> None:
        self.hive = hive
        self.notices: list[str] = []
        try:
            hive.root.subkey("Description")
            objects_key = hive.root.subkey("Objects")
        except NotFoundError:
            raise BcdError("this hive is not a BCD store (its root has no Description and "
                           "Objects keys)", path=hive.name or None) from None
        self._objects: dict[str, BcdObject] = {}
        self._data = 0                              # element data bytes declared so far
        self._keys = objects_key.subkey_count      # counted before any key is decoded
        self._check_keys()
        keys = objects_key.subkeys()
        self._keys += len(keys) - objects_key.subkey_count          # an index that lies
        self._check_keys()
        for key in keys:
            obj = self._read_object(key)
            if obj is not None and obj.guid in self._objects:
                self.notices.append(f"ignored a second object key named {key.name}")
            elif obj is not None:
                self._objects[obj.guid] = obj
        self._original = {guid: obj.copy() for guid, obj in self._objects.items()}
        self._editor: HiveEditor | None = None

    # --- reading ----------------------------------------------------------------------------
    def _check_keys(self) -> None:
        if self._keys > MAX_BCD_KEYS:
            raise LimitError(f"the store declares more than {MAX_BCD_KEYS} objects and elements "
                             "(real stores have a few hundred); it is not read: restore it from "
                             "a backup or build a new one (`bcdtool new-store`)",
                             path=self.hive.name or None)

    def _read_object(self, key: Key) -> BcdObject | None:
        if not objects.is_guid(key.name):
            self.notices.append(f"ignored object key {key.name!r}: not a GUID")
            return None
        try:
            type_value = key.subkey("Description").value("Type")
        except NotFoundError:
            self.notices.append(f"ignored object {key.name}: it has no Description\\Type")
            return None
        raw_type = type_value.raw
        if len(raw_type) < 4:
            self.notices.append(f"ignored object {key.name}: its Type value is too short")
            return None
        if type_value.type != REG_DWORD and len(raw_type) != 4:
            # Windows writes a REG_DWORD (four bytes of another registry type read the same);
            # anything else is read from its first bytes, which is a guess: say so
            self.notices.append(f"object {key.name}: its Type value is {type_value.type_name}, "
                                "not REG_DWORD; its first 4 bytes were read as the type")
        obj = BcdObject(key.name.lower(), key.name, int.from_bytes(raw_type[:4], "little"))
        try:
            elements_key = key.subkey("Elements")
        except NotFoundError:
            self.notices.append(f"object {key.name} has no Elements key")
            return obj
        self._keys += elements_key.subkey_count
        self._check_keys()
        elements = elements_key.subkeys()
        self._keys += len(elements) - elements_key.subkey_count     # an index that lies
        self._check_keys()
        for elem_key in elements:
            if not _ELEMENT_KEY.match(elem_key.name):
                self.notices.append(f"ignored element key {key.name}\\{elem_key.name}")
                continue
            try:
                value = elem_key.value("Element")
            except NotFoundError:
                self.notices.append(f"element {key.name}\\{elem_key.name} has no Element value")
                continue
            self._data += value.size            # declared sizes, before the data is read
            if value.size > MAX_BCD_ELEMENT_BYTES or self._data > MAX_BCD_ELEMENT_DATA:
                over = (f"{value.size} bytes of data, more than the {MAX_BCD_ELEMENT_BYTES}-"
                        "byte cap for one BCD element" if value.size > MAX_BCD_ELEMENT_BYTES
                        else f"data that brings the store's elements to {self._data} bytes, "
                        f"more than the {MAX_BCD_ELEMENT_DATA}-byte cap for all of them")
                raise LimitError(f"element {key.name}\\{elem_key.name} declares {over} (real "
                                 "stores hold a few KiB); it is not read: restore the store "
                                 "from a backup or build a new one (`bcdtool new-store`)",
                                 path=self.hive.name or None)
            code = int(elem_key.name, 16)
            if code in obj.elements:
                self.notices.append(f"ignored a second element key {key.name}\\{elem_key.name}")
                continue
            obj.elements[code] = Element(code, value.raw, value.type, elem_key.name)
        return obj

    def objects(self) -> list[BcdObject]:
        """Every object, sorted by type then GUID (bcdedit's `/enum all` order)."""
        return sorted(self._objects.values(), key=lambda o: (o.type, o.guid))

    def get(self, guid: str) -> BcdObject:
        """The object with `guid` (a braced GUID); NotFoundError with bcdedit's message."""
        obj = self._objects.get(guid.lower())
        if obj is None:
            raise NotFoundError(REFERENCE_ERROR, path=guid)
        return obj

    def has(self, guid: str) -> bool:
        """True when an object with `guid` exists."""
        return guid.lower() in self._objects

    def default_guid(self) -> str | None:
        """The GUID `{default}` stands for: {bootmgr}'s `default` element, when readable."""
        bootmgr = self._objects.get(objects.ALIASES["{bootmgr}"])
        elem = bootmgr.elements.get(E.DEFAULT) if bootmgr else None
        if elem is None:
            return None
        try:
            value = elem.value()
        except BcdToolError:
            return None
        return value.lower() if isinstance(value, str) and objects.is_guid(value) else None

    def resolve(self, identifier: str, *, must_exist: bool = True) -> str:
        """The GUID of an identifier: a braced GUID, an alias, `{default}` or `{current}`.

        `{current}` has no meaning offline (no running system); it maps to the default loader
        and a notice says so.

        Raises:
            InvalidIdentifierError: for text that is no identifier.
            NotFoundError: when the object does not exist (and `must_exist`).
        """
        text = identifier.strip().lower()
        if text in ("{default}", "{current}"):
            guid = self.default_guid()
            if guid is None and text == "{current}":
                raise LiveSystemError(
                    "{current} is the entry of the Windows that is running; offline it means "
                    "{default}, and this store has no default entry: name the entry by its "
                    "GUID (bcdtool enum STORE --all) or set a default with /default {guid}",
                    path=identifier)
            if guid is None:
                raise NotFoundError(REFERENCE_ERROR + " ({bootmgr} has no default entry)",
                                    path=identifier)
            if text == "{current}":
                self._notice(f"{{current}} means the running system's entry; offline there is "
                             f"none, so {{current}} was taken as {{default}} {guid}")
        elif "{" + text + "}" in objects.ALIASES:
            # PowerShell reads an unquoted {default} as a script block and passes `default`
            raise InvalidIdentifierError(
                f"{objects.INVALID_IDENTIFIER} {identifier!r} lost its braces (PowerShell "
                f"passes an unquoted {{{text}}} as {text}): write '{{{text}}}' in quotes",
                path=identifier)
        elif objects.is_guid("{" + text + "}"):
            # bcdedit takes a GUID only in braces; without them it is no identifier
            raise InvalidIdentifierError(
                f"{objects.INVALID_IDENTIFIER} A GUID names an entry only in braces: write "
                f"'{{{text}}}' (quoted, so the shell keeps the braces)", path=identifier)
        else:
            guid = objects.alias_guid(text) or objects.normalize_guid(text)
        if must_exist and guid not in self._objects:
            raise NotFoundError(REFERENCE_ERROR + " " + _missing_next_step(text, guid),
                                path=identifier)
        return guid

    def element_def(self, guid: str, name: str) -> ElementDef:
        """The element called `name` (name, custom:XXXXXXXX or hex) on object `guid`."""
        return resolve(name, self.get(guid).type)

    def effective(self, guid: str, code: int) -> tuple[str, Element] | None:
        """The element `code` as the boot code sees it: own value first, then the `inherit`
        chain depth-first in list order (missing objects skipped, cycles cut); with its source."""
        visited: set[str] = set()
        stack = [guid.lower()]
        while stack:
            current = stack.pop()
            if current in visited:
                continue
            visited.add(current)
            obj = self._objects.get(current)
            if obj is None:
                continue
            if code in obj.elements:
                return current, obj.elements[code]
            parents = self._inherit_list(obj)
            stack.extend(reversed(parents))
        return None

    def _inherit_list(self, obj: BcdObject) -> list[str]:
        elem = obj.elements.get(E.INHERIT)
        if elem is None:
            return []
        try:
            return [g.lower() for g in elem.value() if objects.is_guid(g)]
        except BcdToolError:
            return []

    # --- editing ----------------------------------------------------------------------------
    @property
    def editor(self) -> HiveEditor:
        """The hive editor holding staged changes (created on the first edit)."""
        if self._editor is None:
            self._editor = HiveEditor(self.hive)
        return self._editor

    def set_element(self, guid: str, code: int, value: codec.Value) -> Element:
        """Set element `code` of object `guid` to `value` (encoded as bcdedit does)."""
        return self.set_raw(guid, code, codec.encode(code, value))

    def set_raw(self, guid: str, code: int, raw: bytes) -> Element:
        """Set element `code` of object `guid` to exactly `raw`."""
        obj = self.get(guid)
        old = obj.elements.get(code)
        key_name = old.key_name if old else f"{code:08x}"
        elem = Element(code, bytes(raw), codec.registry_type(code), key_name)
        path = self._element_path(obj, key_name)
        if old is None:
            self.editor.create_key(path)
        self.editor.set_value(path, "Element", elem.reg_type, elem.raw)
        obj.elements[code] = elem
        return elem

    def delete_element(self, guid: str, code: int) -> None:
        """Delete element `code` of object `guid`; NotFoundError ("Element not found.")."""
        obj = self.get(guid)
        old = obj.elements.get(code)
        if old is None:
            raise NotFoundError(ELEMENT_NOT_FOUND, path=f"{guid} {code:08x}")
        self.editor.delete_key(self._element_path(obj, old.key_name))
        del obj.elements[code]

    def create_object(self, guid: str, object_type: int) -> BcdObject:
        """Create an empty object `guid` of `object_type`; BcdError when it exists."""
        guid = objects.normalize_guid(guid)
        if guid in self._objects:
            raise BcdError("An object with the specified identifier already exists.", path=guid)
        base = f"Objects\\{guid}"
        self.editor.create_key(base + "\\Description")
        self.editor.set_value(base + "\\Description", "Type", REG_DWORD,
                              object_type.to_bytes(4, "little"))
        self.editor.create_key(base + "\\Elements")
        obj = BcdObject(guid, guid, object_type)
        self._objects[guid] = obj
        return obj

    def copy_object(self, source: str, guid: str) -> BcdObject:
        """Create `guid` as a copy of object `source` (type and every element, byte for byte)."""
        src = self.get(source)
        obj = self.create_object(guid, src.type)
        for code, elem in sorted(src.elements.items()):
            self.set_raw(obj.guid, code, elem.raw)
        return obj

    def delete_object(self, guid: str) -> None:
        """Delete object `guid` and its keys."""
        obj = self.get(guid)
        self.editor.delete_key(f"Objects\\{obj.key_name}")
        del self._objects[obj.guid]

    def remove_references(self, guid: str) -> list[tuple[str, int]]:
        """Drop `guid` from every object and object-list element; return what was touched."""
        touched = []
        target = guid.lower()
        for obj in list(self._objects.values()):
            for code, elem in sorted(obj.elements.items()):
                try:
                    value = elem.value()
                except BcdToolError:
                    continue
                if isinstance(value, str) and value.lower() == target:
                    self.delete_element(obj.guid, code)
                    touched.append((obj.guid, code))
                elif isinstance(value, list) and any(
                        isinstance(v, str) and v.lower() == target for v in value):
                    rest = [v for v in value if v.lower() != target]
                    if rest:
                        self.set_element(obj.guid, code, rest)
                    else:
                        self.delete_element(obj.guid, code)
                    touched.append((obj.guid, code))
        return touched

    def _element_path(self, obj: BcdObject, key_name: str) -> str:
        return f"Objects\\{obj.key_name}\\Elements\\{key_name}"

    def _notice(self, text: str) -> None:
        if text not in self.notices:
            self.notices.append(text)
            log.info(text)

    # --- results ----------------------------------------------------------------------------
    def diff(self) -> list[Change]:
        """Semantic differences between the store as read and its staged state."""
        changes: list[Change] = []
        for guid in sorted(set(self._original) | set(self._objects)):
            old, new = self._original.get(guid), self._objects.get(guid)
            if new is None:
                changes.append(Change(guid, old.type, "delete object"))
                continue
            if old is None:
                changes.append(Change(guid, new.type, "create object"))
                old = BcdObject(new.guid, new.key_name, new.type)
            for code in sorted(set(old.elements) | set(new.elements)):
                before, after = old.elements.get(code), new.elements.get(code)
                if after is None:
                    changes.append(Change(guid, new.type, "delete", code, before, None))
                elif before is None or (before.raw, before.reg_type) != (after.raw,
                                                                         after.reg_type):
                    changes.append(Change(guid, new.type, "set", code, before, after))
        return changes

    @property
    def planned(self) -> Planned | None:
        """The editor's record of the staged edits, for verifying the write (None: no edits)."""
        return None if self._editor is None else self._editor.planned

    def to_bytes(self, *, same_size: bool = False) -> bytes:
        """The hive image with the staged changes (the original image when there are none)."""
        if self._editor is None:
            return bytes(self.hive.data)
        return self._editor.to_bytes(same_size=same_size)
