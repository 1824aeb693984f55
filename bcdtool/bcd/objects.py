"""BCD layer: object type codes, `/enum` section titles, well-known GUIDs and their aliases.

Reference: ../shared/reference/bcd.md §5 (objects) and §8 (identifier resolution).
"""

from __future__ import annotations

import re
import uuid

from bcdtool.errors import InvalidIdentifierError

# Object types (Description\Type), §5.2.
FWBOOTMGR = 0x10100001
BOOTMGR = 0x10100002
FIRMWARE_APP = 0x101FFFFF
OSLOADER = 0x10200003
RESUME = 0x10200004
MEMDIAG = 0x10200005
NTLDR = 0x10300006
BOOTSECTOR = 0x10400008
STARTUP = 0x10400009
BOOTAPP = 0x1020000A
INHERIT_ANY = 0x20100000
INHERIT_OSLOADER = 0x20200003
INHERIT_RESUME = 0x20200004
INHERIT_DEVICE = 0x20300000
DEVICE_OPTIONS = 0x30000000

_TITLES = {
    FWBOOTMGR: "Firmware Boot Manager",
    BOOTMGR: "Windows Boot Manager",
    FIRMWARE_APP: "Firmware Application (101fffff)",
    OSLOADER: "Windows Boot Loader",
    RESUME: "Resume from Hibernate",
    MEMDIAG: "Windows Memory Tester",
    NTLDR: "Windows Legacy OS Loader",
    BOOTSECTOR: "Real-mode Boot Sector",
    DEVICE_OPTIONS: "Device options",
}

# Well-known GUIDs, §5.3.  Order matters only for aliases sharing a GUID: the first is printed.
ALIASES: dict[str, str] = {
    "{bootmgr}": "{9dea862c-5cdd-4e70-acc1-f32b344d4795}",
    "{fwbootmgr}": "{a5a30fa2-3d06-4e9f-b5f4-a01df9d1fcba}",
    "{memdiag}": "{b2721d73-1db4-4c62-bf78-c548a880142d}",
    "{ntldr}": "{466f5a88-0af2-4f76-9038-095b170dc21c}",
    "{legacy}": "{466f5a88-0af2-4f76-9038-095b170dc21c}",
    "{current}": "{fa926493-6f1c-4193-a414-58f0b2456d1e}",
    "{default}": "{1cae1eb7-a0df-4d4d-9851-4860e34ef535}",
    "{badmemory}": "{5189b25c-5558-4bf2-bca4-289b11bd29e2}",
    "{bootloadersettings}": "{6efb52bf-1766-41db-a6b3-0ee5eff72bd7}",
    "{dbgsettings}": "{4636856e-540f-4170-a130-a84776f4c654}",
    "{eventsettings}": "{4636856e-540f-4170-a130-a84776f4c654}",
    "{emssettings}": "{0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9}",
    "{globalsettings}": "{7ea2e1ac-2e61-4728-aaa3-896d9d0a9f0e}",
    "{hypervisorsettings}": "{7ff607e0-4395-11db-b0de-0800200c9a66}",
    "{kerneldbgsettings}": "{313e8eed-7098-4586-a9bf-309c61f8d449}",
    "{resumeloadersettings}": "{1afa9c49-16ab-4a5c-901b-212802da9460}",
    "{ramdiskoptions}": "{ae5534e0-a924-466c-b836-758539a3ee3a}",
}

_ALIAS_OF: dict[str, str] = {}
for _alias, _guid in ALIASES.items():
    _ALIAS_OF.setdefault(_guid, _alias)

# Section titles chosen by GUID for inherit and device objects (§5.2).
_TITLE_BY_GUID = {
    ALIASES["{emssettings}"]: "EMS Settings",
    ALIASES["{dbgsettings}"]: "Debugger Settings",
    ALIASES["{badmemory}"]: "RAM Defects",
    ALIASES["{globalsettings}"]: "Global Settings",
    ALIASES["{bootloadersettings}"]: "Boot Loader Settings",
    ALIASES["{hypervisorsettings}"]: "Hypervisor Settings",
    ALIASES["{resumeloadersettings}"]: "Resume Loader Settings",
    ALIASES["{kerneldbgsettings}"]: "Kernel Debugger Settings",
    ALIASES["{ramdiskoptions}"]: "Setup Ramdisk Options",
}

# Type and inheritance of the settings objects bcdboot creates (§5.3 "default inheritance graph"),
# used when a command needs one that the store lacks.
SETTINGS_OBJECTS: dict[str, tuple[int, tuple[str, ...]]] = {
    "{emssettings}": (INHERIT_ANY, ()),
    "{dbgsettings}": (INHERIT_ANY, ()),
    "{badmemory}": (INHERIT_ANY, ()),
    "{globalsettings}": (INHERIT_ANY, ("{dbgsettings}", "{emssettings}", "{badmemory}")),
    "{bootloadersettings}": (INHERIT_OSLOADER, ("{globalsettings}", "{hypervisorsettings}")),
    "{hypervisorsettings}": (INHERIT_OSLOADER, ()),
    "{resumeloadersettings}": (INHERIT_RESUME, ("{globalsettings}",)),
    "{ramdiskoptions}": (DEVICE_OPTIONS, ()),
}

#: Well-known entries `bcdedit /create {alias}` makes without /application, /inherit or /device:
#: the ones whose type is fixed (the settings objects, and the boot applications below).
CREATABLE = frozenset({"{bootmgr}", "{fwbootmgr}", "{memdiag}", "{ntldr}", "{legacy}",
                       *SETTINGS_OBJECTS})

_GUID_RE = re.compile(r"^\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}$",
                      re.IGNORECASE)

#: bcdedit's message for an identifier it cannot parse.
INVALID_IDENTIFIER = "The specified entry identifier is not valid."


def is_guid(text: str) -> bool:
    """True if `text` is a braced GUID (`{8-4-4-4-12}`, any hex case)."""
    return bool(_GUID_RE.match(text))


def normalize_guid(text: str) -> str:
    """The lowercase braced form of a braced GUID.

    Raises:
        InvalidIdentifierError: when `text` is not a braced GUID.
    """
    if not is_guid(text):
        raise InvalidIdentifierError(INVALID_IDENTIFIER, path=text)
    return text.lower()


def alias_guid(text: str) -> str | None:
    """The GUID of a well-known alias (case-insensitive), else None."""
    return ALIASES.get(text.strip().lower())


def alias_of(guid: str) -> str | None:
    """The alias bcdedit prints for a well-known GUID, else None."""
    return _ALIAS_OF.get(guid.lower())


def guid_from_bytes_le(raw: bytes) -> str:
    """A braced lowercase GUID from its 16-byte Windows in-memory form."""
    return "{" + str(uuid.UUID(bytes_le=bytes(raw))) + "}"


def guid_to_bytes_le(guid: str) -> bytes:
    """The 16-byte Windows in-memory form of a braced GUID."""
    return uuid.UUID(normalize_guid(guid)[1:-1]).bytes_le


def new_guid() -> str:
    """A fresh random braced GUID for a new object."""
    return "{" + str(uuid.uuid4()) + "}"


def section_title(guid: str, object_type: int) -> str:
    """The English `/enum` section title of an object."""
    title = _TITLE_BY_GUID.get(guid.lower()) if object_type >> 28 in (2, 3) else None
    if title:
        return title
    if object_type in _TITLES:
        return _TITLES[object_type]
    if object_type >> 28 == 2:
        return f"Inherited Settings ({object_type:08x})"
    # Object types bcdedit has no title for in any published output (startup modules, generic
    # boot applications): name them by their type code like bcdedit's own fallbacks.
    return f"Object Type ({object_type:08x})"


def type_description(object_type: int) -> str:
    """A short description of an object type for JSON and listings."""
    top = object_type >> 28
    if top == 1:
        return {FWBOOTMGR: "firmware boot manager", BOOTMGR: "boot manager",
                FIRMWARE_APP: "firmware application", OSLOADER: "OS loader",
                RESUME: "resume application", MEMDIAG: "memory tester", NTLDR: "legacy loader",
                BOOTSECTOR: "boot sector", STARTUP: "startup module",
                BOOTAPP: "boot application"}.get(object_type, "application")
    if top == 2:
        return "inherit settings"
    if top == 3:
        return "device options"
    return "unknown"


# `/enum` selectors (§10.1): which object types each keyword prints.
def matches_selector(selector: str, object_type: int) -> bool:
    """True when an object of `object_type` belongs to the `/enum` type selector."""
    top = object_type >> 28
    if selector == "all":
        return True
    if selector == "bootmgr":
        return object_type == BOOTMGR
    if selector == "osloader":
        return object_type == OSLOADER
    if selector == "resume":
        return object_type == RESUME
    if selector == "inherit":
        return top == 2
    if selector == "firmware":
        return object_type in (FWBOOTMGR, BOOTMGR, FIRMWARE_APP)
    if selector == "bootapp":
        return top == 1 and (object_type >> 20) & 0xF == 2
    if selector == "device":
        # device options objects (ramdisk, SDI): not in the documented list of /enum types [L]
        return top == 3
    raise InvalidIdentifierError(INVALID_IDENTIFIER, path=selector)


#: Application types accepted by `/create /application <type>` (bcdedit's names).
APPLICATION_TYPES = {
    "bootsector": BOOTSECTOR, "osloader": OSLOADER, "resume": RESUME, "startup": STARTUP,
}
#: `/create /inherit <type>` names.
INHERIT_TYPES = {"bootmgr": 0x20200002, "osloader": INHERIT_OSLOADER, "resume": INHERIT_RESUME,
                 "memdiag": 0x20200005, "ntldr": 0x20200006, "fwbootmgr": 0x20200001}
