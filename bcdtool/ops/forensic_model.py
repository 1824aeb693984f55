"""Recipes layer: the vocabulary of `forensic` findings — rule ids, evidence, and a view of a store.

`RULES` is the one table of finding ids (severity, MITRE ATT&CK technique, meaning; the README's
table is checked against it).  `StoreView` reads a store for the rules: decoded values, the
objects in a stable order, and evidence naming the object (alias and GUID), the element (name
and code), its value and the last-write time of its key, to 100 ns.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from bcdtool.bcd import elements, objects
from bcdtool.bcd.device import PartitionDevice
from bcdtool.bcd.elements import display_name
from bcdtool.bcd.enum import View, value_lines
from bcdtool.bcd.store import BcdObject, BcdStore, Element
from bcdtool.errors import BcdToolError, NotFoundError
from bcdtool.regf.hive import Hive
from bcdtool.wintext import filetime_to_datetime

_EPOCH_1601 = _dt.datetime(1601, 1, 1, tzinfo=_dt.timezone.utc)

SEVERITIES = ("info", "low", "medium", "high")


@dataclass(frozen=True)
class Rule:
    """A finding id with its fixed severity ceiling, ATT&CK technique and meaning."""

    id: str
    severity: str
    attack: str | None
    meaning: str


_R = [
    Rule("bcd.recovery-disabled", "high", "T1490",
         "recoveryenabled No: Windows RE does not start after failed boots (ransomware inhibits "
         "recovery this way)"),
    Rule("bcd.boot-status-ignore-failures", "high", "T1490",
         "bootstatuspolicy ignores failures: the recovery menu never appears after a crash"),
    Rule("bcd.test-signing", "high", "T1553.006",
         "testsigning Yes: the kernel loads test-signed drivers"),
    Rule("bcd.integrity-checks-disabled", "high", "T1553.006",
         "nointegritychecks Yes: boot applications and drivers load without signature checks"),
    Rule("bcd.loadoptions-integrity", "high", "T1553.006",
         "loadoptions carries DISABLE_INTEGRITY_CHECKS (or DDISABLE_..., TESTSIGNING, "
         "NOINTEGRITYCHECKS): code-signing checks switched off through the kernel command line"),
    Rule("bcd.loadoptions", "low", None,
         "loadoptions set: extra kernel command-line options"),
    Rule("bcd.flight-signing", "low", "T1553.006",
         "flightsigning Yes: Windows Insider (flight) signatures are trusted"),
    Rule("bcd.elam-disabled", "high", "T1562.001",
         "disableelamdrivers Yes: early-launch anti-malware drivers are not loaded"),
    Rule("bcd.hypervisor-off", "medium", "T1562.001",
         "hypervisorlaunchtype Off: the hypervisor, and with it VBS/HVCI/Credential Guard, does "
         "not start (medium when the store shows the system used the hypervisor, else low)"),
    Rule("bcd.vsm-off", "high", "T1562.001",
         "vsmlaunchtype Off: Virtual Secure Mode (Credential Guard, HVCI) is not started"),
    Rule("bcd.hvci-off", "high", "T1562.001",
         "hypervisorenforcedcodeintegrity Disable: memory integrity (HVCI) is off"),
    Rule("bcd.integrity-services-off", "medium", "T1562.001",
         "integrityservices Disable: the system-integrity policy is off"),
    Rule("bcd.dep-off", "medium", "T1562.001",
         "nx AlwaysOff: data execution prevention is off for every process"),
    Rule("bcd.kernel-debug", "high", None,
         "debug Yes: the kernel debugger is enabled (kernel patch protection is off, the "
         "debugger owns the machine)"),
    Rule("bcd.boot-debug", "medium", None,
         "bootdebug Yes: the boot manager or loader waits for a boot debugger"),
    Rule("bcd.hypervisor-debug", "medium", None,
         "hypervisordebug Yes: the hypervisor debugger is enabled"),
    Rule("bcd.debugger-transport", "medium", None,
         "debugtype (or hypervisordebugtype) NET/USB/1394 or a network debug host: a debugger "
         "transport reachable from another machine is configured (medium for NET, else low)"),
    Rule("bcd.safeboot", "medium", "T1562.009",
         "safeboot set on a loader: Windows boots into safe mode, where most security software "
         "does not run"),
    Rule("bcd.safeboot-alternate-shell", "high", "T1562.009",
         "safebootalternateshell Yes: safe mode starts the AlternateShell program instead of "
         "Explorer (a persistence and ransomware technique)"),
    Rule("bcd.startup-application", "high", "T1542",
         "a startup/soft-reboot application object (type 0x10400009, pxesoftreboot): the "
         "bitpixie BitLocker bypass chain-loads a PXE image this way"),
    Rule("bcd.sequence-hijack", "high", "T1542",
         "recoverysequence or bootsequence names an object that is not a Windows loader: a "
         "failed or next boot runs something else (info when the object does not exist)"),
    Rule("bcd.winpe-installed-loader", "high", "T1542",
         "winpe Yes on a loader that boots an installed Windows from a partition: WinPE mode "
         "skips the installed system's protections (bitpixie-style)"),
    Rule("bcd.unusual-path", "medium", "T1542",
         "a boot application's path lies outside \\Windows\\system32\\(boot\\)winload.*/"
         "winresume.* and \\EFI\\Microsoft\\Boot\\ (boot-level persistence)"),
    Rule("bcd.unusual-device", "medium", "T1542",
         "the device of {bootmgr}, a loader, resume object or {memdiag} is of a kind Windows' "
         "tools never write, or does not decode"),
    Rule("bcd.ramdisk-on-installed", "medium", "T1542",
         "a ramdisk loader that is not Windows RE on an installed system"),
    Rule("bcd.pxe-entry", "medium", "T1542",
         "network (PXE/TFTP) boot settings in the store (firmware PXE entries mirrored from "
         "NVRAM are info)"),
    Rule("bcd.custom-object", "medium", "T1542",
         "an application object of a type bcdboot never writes (boot sector, startup, generic "
         "boot application, unknown)"),
    Rule("bcd.kernel-override", "high", "T1542",
         "kernel, hal or dbgtransport set where a Windows loader reads it: the loader starts a "
         "kernel, HAL or debugger transport other than Windows' own (a bootkit's replacement)"),
    Rule("bcd.inheritance-tampered", "medium", "T1542",
         "an inherit list names an object that is not one of Windows' settings objects (its "
         "settings apply to every object inheriting it, out of sight of bcdedit /enum of the "
         "loader); low when the named object does not exist"),
    Rule("bcd.tpm-entropy-off", "low", "T1562.001",
         "tpmbootentropy ForceDisable: the loader does not take boot entropy from the TPM"),
    Rule("bcd.bitlocker-recovery-text", "low", "T1486",
         "fverecoverymessage or fverecoveryurl on the boot manager: a custom BitLocker recovery "
         "screen (Group Policy sets one in some enterprises; ransomware that encrypts with "
         "BitLocker leaves its note there)"),
    Rule("bcd.custom-element", "info", None,
         "an element bcdedit has no name for (custom:XXXXXXXX)"),
    Rule("bcd.baseline-difference", "info", None,
         "a setting of {bootmgr}, the default loader, its resume object, {memdiag} or a settings "
         "object that differs from what bcdboot writes for this firmware (bcdtool new-store's "
         "template)"),
    Rule("bcd.earlier-setting", "medium", None,
         "with --history: a log entry shows a suspicious setting (any finding above) that the "
         "live store no longer has: undone, or cleaned up after use (low when the setting's own "
         "finding is low)"),
    Rule("bcd.deleted-setting", "medium", None,
         "with --deleted: a key recovered from free space held a suspicious setting (testsigning, "
         "nointegritychecks, recoveryenabled No, DISABLE_INTEGRITY_CHECKS, a startup object...): "
         "removed after use (low when the setting's own finding is low)"),
    Rule("bcd.store-dirty", "info", None,
         "the primary file is dirty: its transaction logs hold the latest changes"),
    Rule("bcd.hidden-key", "medium", "T1564",
         "an object key whose name is not a GUID (a lookalike letter, a NUL, a zero-width or "
         "control character), an element key that is not eight hex digits, or a key whose name "
         "differs from another's only in case: strict readers skip it (high when it holds a "
         "setting whose own finding is high)"),
    Rule("bcd.malformed-element", "medium", "T1564",
         "an element stored in a registry type bcdedit never writes for it, or with bytes its "
         "format does not have (a boolean of 4 bytes, a REG_DWORD): strict readers show no "
         "value; bcdtool's rules read it leniently"),
    Rule("bcd.timestamp-anomaly", "low", "T1070.006",
         "keys whose last-write time is zero, before 2000 (older than any BCD store), past year "
         "9999, or after the time of the run (not judged when --generated-at pins the report's "
         "time): times set by a tool, not by Windows"),
]
RULES: dict[str, Rule] = {r.id: r for r in _R}

# Element codes the rules read, by bcdedit name and scope (the element table is the one place
# codes are written; class-2 codes are ambiguous, so each rule reads them on the right type).
_e = elements.element
PATH = _e("path")
DEVICE = _e("device")
DESCRIPTION = _e("description")
LOCALE = _e("locale")
LOADOPTIONS = _e("loadoptions")
RECOVERYSEQUENCE = _e("recoverysequence")
RECOVERYENABLED = _e("recoveryenabled")
BOOTDEBUG = _e("bootdebug")
DEBUGTYPE = _e("debugtype")
HOSTIP = _e("hostip")
NETKEY = _e("key")
NOINTEGRITYCHECKS = _e("nointegritychecks")
TESTSIGNING = _e("testsigning")
INTEGRITYSERVICES = _e("integrityservices")
FLIGHTSIGNING = _e("flightsigning")
BOOTSEQUENCE = _e("bootsequence", elements.BOOTMGR)
DEFAULT = _e("default", elements.BOOTMGR)
RESUMEOBJECT = _e("resumeobject", elements.BOOTMGR)
RESUMEOBJECT_LOADER = _e("resumeobject", elements.OSLOADER)
DISPLAYORDER = _e("displayorder", elements.BOOTMGR)
TOOLSDISPLAYORDER = _e("toolsdisplayorder", elements.BOOTMGR)
OSDEVICE = _e("osdevice", elements.OSLOADER)
NX = _e("nx", elements.OSLOADER)
WINPE = _e("winpe", elements.OSLOADER)
SAFEBOOT = _e("safeboot", elements.OSLOADER)
ALTERNATESHELL = _e("safebootalternateshell", elements.OSLOADER)
DEBUG = _e("debug", elements.OSLOADER)
BOOTSTATUSPOLICY = _e("bootstatuspolicy", elements.OSLOADER)
DISABLEELAM = _e("disableelamdrivers", elements.OSLOADER)
HYPERVISORLAUNCHTYPE = _e("hypervisorlaunchtype", elements.OSLOADER)
HYPERVISORDEBUG = _e("hypervisordebug", elements.OSLOADER)
HYPERVISORDEBUGTYPE = _e("hypervisordebugtype", elements.OSLOADER)
VSMLAUNCHTYPE = _e("vsmlaunchtype", elements.OSLOADER)
HVCI = _e("hypervisorenforcedcodeintegrity", elements.OSLOADER)
KERNEL_OVERRIDES = tuple(_e(name, elements.OSLOADER) for name in ("kernel", "hal",
                                                                    "dbgtransport"))
TPMBOOTENTROPY = _e("tpmbootentropy", elements.OSLOADER)
FVE_RECOVERY_TEXT = tuple(_e(name, elements.BOOTMGR) for name in ("fverecoverymessage",
                                                                  "fverecoveryurl"))
INHERIT = _e("inherit")
PXESOFTREBOOT = _e("pxesoftreboot", elements.STARTUP)
PXE_DEVICE_ELEMENTS = tuple(_e(name, elements.DEVICE) for name in (
    "ramdisktftpclientport", "ramdisktftpblocksize", "ramdisktftpwindowsize", "ramdiskmcenabled",
    "ramdiskmctftpfallback", "ramdisktftpvarwindow"))

@dataclass(frozen=True)
class Evidence:
    """One element (or object) a finding rests on."""

    guid: str
    alias: str | None
    description: str | None
    object_type: int
    element: str | None = None
    code: int | None = None
    value: str | None = None
    raw: str | None = None
    key: str | None = None
    last_write: str | None = None
    last_write_filetime: int | None = None

    def to_json(self) -> dict:
        """The JSON object of this evidence."""
        return {"object": self.guid, "alias": self.alias, "description": self.description,
                "object_type": f"{self.object_type:#010x}", "element": self.element,
                "code": None if self.code is None else f"{self.code:#010x}",
                "value": self.value, "raw": self.raw, "key": self.key,
                "last_write": self.last_write, "last_write_filetime": self.last_write_filetime}

    def label(self) -> str:
        """`{alias} {guid}`, or the GUID and the object's description."""
        if self.alias:
            return f"{self.alias} {self.guid}"
        return f"{self.guid} ({self.description})" if self.description else self.guid


@dataclass(frozen=True)
class ForensicFinding:
    """One suspicious setting: rule id, severity, what it means here, and its evidence."""

    id: str
    severity: str
    message: str
    evidence: tuple[Evidence, ...]

    @property
    def attack(self) -> str | None:
        """The MITRE ATT&CK technique of the rule, if one fits."""
        return RULES[self.id].attack

    def to_json(self) -> dict:
        """The JSON object of this finding."""
        return {"id": self.id, "severity": self.severity, "attack": self.attack,
                "message": self.message, "evidence": [e.to_json() for e in self.evidence]}


def severity_rank(severity: str) -> int:
    """0 for info up to 3 for high."""
    return SEVERITIES.index(severity)


class StoreView:
    """A BCD store with the hive keys behind it, for evidence (key paths and last-write times)."""

    def __init__(self, store: BcdStore, hive: Hive) -> None:
        self.store = store
        self.hive = hive
        self.default = store.default_guid()
        self.render = View(better=True)
        self._scope: frozenset[str] | None = None

    def alias(self, guid: str) -> str | None:
        """`{default}` for the default loader, else the well-known alias, else None."""
        return "{default}" if guid == self.default else objects.alias_of(guid)

    def value(self, obj: BcdObject, code: int):
        """The value of an element as the rules judge it (`lenient_value`), or None when
        absent or unreadable."""
        elem = obj.elements.get(code)
        return None if elem is None else lenient_value(elem)

    def text(self, obj: BcdObject, elem: Element) -> str:
        """The element's value as `enum` prints it."""
        return " ".join(value_lines(self.store, obj, elem, self.render))

    def evidence(self, obj: BcdObject, code: int | None = None) -> Evidence:
        """Evidence for element `code` of `obj` (or for the object itself)."""
        base = f"Objects\\{obj.key_name}"
        if code is None:
            stamp = self._filetime(base)
            return Evidence(obj.guid, self.alias(obj.guid), obj.description, obj.type,
                            key=base, last_write=filetime_iso(stamp or 0),
                            last_write_filetime=stamp)
        elem = obj.elements[code]
        key = f"{base}\\Elements\\{elem.key_name}"
        stamp = self._filetime(key)
        return Evidence(obj.guid, self.alias(obj.guid), obj.description, obj.type,
                        display_name(code, obj.type), code, self.text(obj, elem),
                        elem.raw.hex(), key, filetime_iso(stamp or 0), stamp)

    def _filetime(self, path: str) -> int | None:
        try:
            return self.hive.key(path).filetime
        except (NotFoundError, BcdToolError):
            return None

    def objects(self) -> list[BcdObject]:
        """Every object in a stable order (type, GUID)."""
        return self.store.objects()

    def loader_scope(self) -> frozenset[str]:
        """GUIDs of the objects whose elements a Windows loader reads: the loaders, every
        OS-loader settings object, and whatever they inherit, through `inherit` lists to any
        depth ({bootloadersettings} → {globalsettings} → {dbgsettings}..., or a custom object
        slipped into a list): a setting parked there is the loader's setting."""
        if self._scope is None:
            by_guid = {o.guid: o for o in self.objects()}
            todo = [o.guid for o in self.objects()
                    if o.type in (objects.OSLOADER, objects.INHERIT_OSLOADER)]
            seen: set[str] = set()
            while todo:
                guid = todo.pop()
                if guid in seen or guid not in by_guid:
                    continue
                seen.add(guid)
                targets = self.value(by_guid[guid], INHERIT)
                if isinstance(targets, list):
                    todo.extend(t.lower() for t in targets if isinstance(t, str))
            self._scope = frozenset(seen)
        return self._scope

    def loaders(self) -> list[BcdObject]:
        """The Windows loaders."""
        return [o for o in self.objects() if o.type == objects.OSLOADER]

    def installed(self) -> bool:
        """True when some loader boots Windows from a partition (an installed system)."""
        return any(isinstance(self.value(o, OSDEVICE), PartitionDevice) for o in self.loaders())

    def firmware(self) -> str | None:
        """"uefi" or "bios" from the boot manager's and loaders' paths, else None."""
        paths = [self.value(o, PATH) for o in self.objects()
                 if o.type in (objects.BOOTMGR, objects.OSLOADER)]
        text = " ".join(p.lower() for p in paths if isinstance(p, str))
        if ".efi" in text:
            return "uefi"
        if ".exe" in text:
            return "bios"
        return None


def lenient_value(elem: Element):
    """The element's decoded value; for a boolean or integer whose bytes do not fit its format
    (a REG_DWORD 1, a boolean of 8 bytes or holding 2) what its first bytes say, as code reading
    the first byte or word would take it: a setting stored oddly must not escape the rules."""
    value = elem.readable_value()
    if value is not None or not elem.raw:
        return value
    fmt = elements.element_format(elem.code)
    if fmt == elements.Format.BOOLEAN:
        return elem.raw[0] != 0
    if fmt == elements.Format.INTEGER:
        return int.from_bytes(elem.raw[:8], "little")
    return None


#: Characters that would change how a text report reads (C0/C1 controls, bidirectional
#: overrides, zero-width characters): shown escaped, so a crafted key name cannot rewrite lines.
_HIDING = dict.fromkeys([*range(0x20), *range(0x7F, 0xA0), 0x200B, 0x200C, 0x200D, 0x200E,
                         0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF])


def printable(text: str) -> str:
    """`text` with every character of `_HIDING` written as a Python escape (\\x00, \\u202e)."""
    if not any(ord(c) in _HIDING for c in text):
        return text
    return "".join(ascii(c)[1:-1] if ord(c) in _HIDING else c for c in text)


def filetime_iso(filetime: int) -> str | None:
    """A FILETIME as ISO 8601 UTC to the microsecond, rounded half-even exactly as python-registry
    reads FILETIMEs (so the two agree); None when zero or beyond year 9999.  Reports carry the
    raw FILETIME beside it for the last 100 ns."""
    if not filetime or filetime_to_datetime(filetime) is None:
        return None
    micro, ticks = divmod(filetime, 10)
    if ticks > 5 or (ticks == 5 and micro % 2):
        micro += 1
    stamp = _EPOCH_1601 + _dt.timedelta(microseconds=micro)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
