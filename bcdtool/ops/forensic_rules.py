"""Recipes layer: `forensic` findings — BCD settings that weaken boot security, with evidence.

Each rule looks at the elements as stored (not only effective values: a setting parked on an
inherit object or on a loader that is not the default is still evidence) and yields one finding
per suspicious setting.  Every finding has a stable id (`RULES`, documented in the README), a
severity, the MITRE ATT&CK technique where one fits, and evidence naming the object (alias and
GUID), the element (name and code), its value and the last-write time of the element's key.
A Microsoft-written installed or media store raises nothing above "info".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from bcdtool.bcd import elements, objects
from bcdtool.bcd.device import PartitionDevice, RamdiskDevice
from bcdtool.bcd.elements import display_name
from bcdtool.bcd.enum import View, value_lines
from bcdtool.bcd.store import BcdObject, BcdStore, Element
from bcdtool.bcd.template import StoreLayout, build_store
from bcdtool.errors import BcdToolError, NotFoundError
from bcdtool.regf.hive import Hive
from bcdtool.report import Evidence as ReportEvidence
from bcdtool.report import Finding

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
         "nointegritychecks Yes: boot applications and drivers are loaded without signature checks"),
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
         "debugtype NET/USB/1394 or a network debug host: a debugger transport reachable from "
         "another machine is configured (medium for NET, else low)"),
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
    Rule("bcd.ramdisk-on-installed", "medium", "T1542",
         "a ramdisk loader that is not Windows RE on an installed system"),
    Rule("bcd.pxe-entry", "medium", "T1542",
         "network (PXE/TFTP) boot settings in the store (firmware PXE entries mirrored from "
         "NVRAM are info)"),
    Rule("bcd.custom-object", "medium", "T1542",
         "an application object of a type bcdboot never writes (boot sector, startup, generic "
         "boot application, unknown)"),
    Rule("bcd.custom-element", "info", None,
         "an element bcdedit has no name for (custom:XXXXXXXX)"),
    Rule("bcd.baseline-difference", "info", None,
         "a setting of {bootmgr} or the default loader that differs from what bcdboot writes for "
         "this firmware (bcdtool new-store's template)"),
    Rule("bcd.store-dirty", "info", None,
         "the primary file is dirty: its transaction logs hold the latest changes"),
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
VSMLAUNCHTYPE = _e("vsmlaunchtype", elements.OSLOADER)
HVCI = _e("hypervisorenforcedcodeintegrity", elements.OSLOADER)
PXESOFTREBOOT = _e("pxesoftreboot", elements.STARTUP)
PXE_DEVICE_ELEMENTS = tuple(_e(name, elements.DEVICE) for name in (
    "ramdisktftpclientport", "ramdisktftpblocksize", "ramdisktftpwindowsize", "ramdiskmcenabled",
    "ramdiskmctftpfallback", "ramdisktftpvarwindow"))

_INTEGRITY_OPTIONS = re.compile(r"DISABLE_INTEGRITY_CHECKS|TESTSIGNING|NOINTEGRITYCHECKS",
                                re.IGNORECASE)
_USUAL_PATH = re.compile(
    r"^\\windows\\system32\\(boot\\)?(winload|winresume)\.(exe|efi)$"
    r"|^\\efi\\microsoft\\boot\\[^\\]+\.efi$"
    r"|^\\boot\\memtest\.exe$|^\\bootmgr$", re.IGNORECASE)
_WINRE_IMAGE = re.compile(r"\\winre\.wim$", re.IGNORECASE)
_USUAL_TYPES = {objects.FWBOOTMGR, objects.BOOTMGR, objects.FIRMWARE_APP, objects.OSLOADER,
                objects.RESUME, objects.MEMDIAG, objects.NTLDR}
_APP_TYPES_WITH_PATH = {objects.BOOTMGR, objects.OSLOADER, objects.RESUME, objects.MEMDIAG}


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

    def to_json(self) -> dict:
        """The JSON object of this evidence."""
        return {"object": self.guid, "alias": self.alias, "description": self.description,
                "object_type": f"{self.object_type:#010x}", "element": self.element,
                "code": None if self.code is None else f"{self.code:#010x}",
                "value": self.value, "raw": self.raw, "key": self.key,
                "last_write": self.last_write}

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

    def alias(self, guid: str) -> str | None:
        """`{default}` for the default loader, else the well-known alias, else None."""
        return "{default}" if guid == self.default else objects.alias_of(guid)

    def value(self, obj: BcdObject, code: int):
        """The decoded value of an element, or None when absent or unreadable."""
        elem = obj.elements.get(code)
        if elem is None:
            return None
        try:
            return elem.value()
        except BcdToolError:
            return None

    def text(self, obj: BcdObject, elem: Element) -> str:
        """The element's value as `enum` prints it."""
        return " ".join(value_lines(self.store, obj, elem, self.render))

    def evidence(self, obj: BcdObject, code: int | None = None) -> Evidence:
        """Evidence for element `code` of `obj` (or for the object itself)."""
        base = f"Objects\\{obj.key_name}"
        if code is None:
            return Evidence(obj.guid, self.alias(obj.guid), obj.description, obj.type,
                            key=base, last_write=self._stamp(base))
        elem = obj.elements[code]
        key = f"{base}\\Elements\\{elem.key_name}"
        return Evidence(obj.guid, self.alias(obj.guid), obj.description, obj.type,
                        display_name(code, obj.type), code, self.text(obj, elem),
                        elem.raw.hex(), key, self._stamp(key))

    def _stamp(self, path: str) -> str | None:
        try:
            stamp = self.hive.key(path).timestamp
        except (NotFoundError, BcdToolError):
            return None
        return None if stamp is None else iso(stamp)

    def objects(self) -> list[BcdObject]:
        """Every object in a stable order (type, GUID)."""
        return self.store.objects()

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


def iso(stamp) -> str:
    """An aware datetime as ISO 8601 UTC with microseconds (`...Z`)."""
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def findings(view: StoreView, *, earlier: dict | None = None,
             dirty_note: str | None = None) -> list[ForensicFinding]:
    """Every finding about the store in `view`, sorted by severity (highest first), id, object.

    `earlier` maps (guid, code) to values the element had before (from log history), so
    `hypervisorlaunchtype Off` can say whether the system used the hypervisor.
    """
    out: list[ForensicFinding] = []
    for rule in (_boolean_rules, _policy_rules, _debug_rules, _safeboot_rules,
                 _application_rules, _custom_rules):
        out.extend(rule(view))
    out.extend(_hypervisor_rules(view, earlier or {}))
    flagged = {(e.guid, e.code) for f in out for e in f.evidence}
    out.extend(f for f in _baseline_rules(view)
               if (f.evidence[0].guid, f.evidence[0].code) not in flagged)
    if dirty_note:
        out.append(ForensicFinding("bcd.store-dirty", "info", dirty_note, ()))
    out.sort(key=lambda f: (-severity_rank(f.severity), f.id,
                            [(e.guid, e.code or 0) for e in f.evidence]))
    return out


def _one(view: StoreView, fid: str, obj: BcdObject, code: int, message: str,
         severity: str | None = None) -> ForensicFinding:
    ev = view.evidence(obj, code)
    return ForensicFinding(fid, severity or RULES[fid].severity,
                           f"{ev.label()}: {ev.element} = {ev.value}: {message}", (ev,))


def _boolean_rules(view: StoreView) -> Iterator[ForensicFinding]:
    table = [
        (TESTSIGNING, True, "bcd.test-signing", "test-signed drivers load"),
        (NOINTEGRITYCHECKS, True, "bcd.integrity-checks-disabled",
         "signature checks are off"),
        (FLIGHTSIGNING, True, "bcd.flight-signing", "flight-signed binaries are trusted"),
        (RECOVERYENABLED, False, "bcd.recovery-disabled", "automatic recovery is off"),
        (DISABLEELAM, True, "bcd.elam-disabled", "early-launch anti-malware is off"),
    ]
    for obj in view.objects():
        for code, bad, fid, message in table:
            if code == DISABLEELAM and obj.type >> 28 == 1 and obj.type != objects.OSLOADER:
                continue        # 0x260000e1 means disableelamdrivers only on loaders
            if code in obj.elements and view.value(obj, code) is bad:
                yield _one(view, fid, obj, code, message)


def _policy_rules(view: StoreView) -> Iterator[ForensicFinding]:
    for obj in view.objects():
        loaderish = _loader_scope(obj)
        options = view.value(obj, LOADOPTIONS)
        if isinstance(options, str) and options.strip():
            if _INTEGRITY_OPTIONS.search(options):
                yield _one(view, "bcd.loadoptions-integrity", obj, LOADOPTIONS,
                           "code-signing checks are disabled through the kernel command line")
            else:
                yield _one(view, "bcd.loadoptions", obj, LOADOPTIONS,
                           "extra kernel command-line options")
        if view.value(obj, INTEGRITYSERVICES) == 2:
            yield _one(view, "bcd.integrity-services-off", obj, INTEGRITYSERVICES,
                       "the system-integrity policy is off")
        if not loaderish:
            continue
        status = view.value(obj, BOOTSTATUSPOLICY)
        if status in (1, 3):
            yield _one(view, "bcd.boot-status-ignore-failures", obj, BOOTSTATUSPOLICY,
                       "failed boots no longer lead to the recovery menu",
                       "high" if status == 1 else "medium")
        if view.value(obj, NX) == 2:
            yield _one(view, "bcd.dep-off", obj, NX, "DEP is off")
        if view.value(obj, VSMLAUNCHTYPE) == 0 and VSMLAUNCHTYPE in obj.elements:
            yield _one(view, "bcd.vsm-off", obj, VSMLAUNCHTYPE, "VSM is not started")
        if view.value(obj, HVCI) == 0 and HVCI in obj.elements:
            yield _one(view, "bcd.hvci-off", obj, HVCI, "HVCI is off")


def _loader_scope(obj: BcdObject) -> bool:
    return obj.type in (objects.OSLOADER, objects.INHERIT_OSLOADER)


def _debug_rules(view: StoreView) -> Iterator[ForensicFinding]:
    for obj in view.objects():
        if view.value(obj, BOOTDEBUG) is True:
            yield _one(view, "bcd.boot-debug", obj, BOOTDEBUG, "a boot debugger is enabled")
        if _loader_scope(obj):
            if view.value(obj, DEBUG) is True:
                yield _one(view, "bcd.kernel-debug", obj, DEBUG, "the kernel debugger is on")
            if view.value(obj, HYPERVISORDEBUG) is True:
                yield _one(view, "bcd.hypervisor-debug", obj, HYPERVISORDEBUG,
                           "the hypervisor debugger is on")
        kind = view.value(obj, DEBUGTYPE)
        if kind in (1, 2, 3):
            yield _one(view, "bcd.debugger-transport", obj, DEBUGTYPE,
                       "a debugger transport other than serial/local is configured",
                       "medium" if kind == 3 else "low")
        elif HOSTIP in obj.elements or NETKEY in obj.elements:
            code = HOSTIP if HOSTIP in obj.elements else NETKEY
            yield _one(view, "bcd.debugger-transport", obj, code,
                       "a network debugger host or key is configured")


def _safeboot_rules(view: StoreView) -> Iterator[ForensicFinding]:
    for obj in view.objects():
        if not _loader_scope(obj):
            continue
        if SAFEBOOT in obj.elements:
            yield _one(view, "bcd.safeboot", obj, SAFEBOOT, "the next boots go to safe mode")
        if view.value(obj, ALTERNATESHELL) is True:
            yield _one(view, "bcd.safeboot-alternate-shell", obj, ALTERNATESHELL,
                       "safe mode runs the AlternateShell program")


def _application_rules(view: StoreView) -> Iterator[ForensicFinding]:
    installed = view.installed()
    by_guid = {o.guid: o for o in view.objects()}
    for obj in view.objects():
        if obj.type == objects.STARTUP:
            yield ForensicFinding("bcd.startup-application", "high",
                                  f"{view.evidence(obj).label()} is a "
                                  "startup application object: boot managers chain-load it "
                                  "(bitpixie's soft-reboot PXE chain)",
                                  tuple([view.evidence(obj)] + [view.evidence(obj, c) for c in
                                                                sorted(obj.elements)
                                                                if c in (PATH, PXESOFTREBOOT)]))
        elif obj.type >> 28 == 1 and obj.type not in _USUAL_TYPES:
            yield ForensicFinding("bcd.custom-object", "medium",
                                  f"{view.evidence(obj).label()} is a "
                                  f"{objects.type_description(obj.type)} object "
                                  f"({obj.type:#010x}), which bcdboot never writes",
                                  (view.evidence(obj),))
        yield from _sequence_rules(view, obj, by_guid)
        yield from _path_rules(view, obj, installed)
    for code_obj in view.objects():
        for code in PXE_DEVICE_ELEMENTS:
            if code in code_obj.elements:
                yield _one(view, "bcd.pxe-entry", code_obj, code, "network boot settings")
        if code_obj.type == objects.FIRMWARE_APP and "pxe" in (code_obj.description or "").lower():
            yield ForensicFinding("bcd.pxe-entry", "info",
                                  f"{view.evidence(code_obj).label()}: firmware PXE boot entry "
                                  f"{code_obj.description!r} (mirrored from NVRAM)",
                                  (view.evidence(code_obj),))


def _sequence_rules(view: StoreView, obj: BcdObject, by_guid: dict) -> Iterator[ForensicFinding]:
    codes = [RECOVERYSEQUENCE] + ([BOOTSEQUENCE] if obj.type == objects.BOOTMGR else [])
    for code in codes:
        targets = view.value(obj, code)
        if not isinstance(targets, list):
            continue
        missing = [g for g in targets if g.lower() not in by_guid]
        foreign = [g for g in targets if g.lower() in by_guid
                   and by_guid[g.lower()].type != objects.OSLOADER]
        if foreign:
            shown = ", ".join(f"{g} ({_type_of(by_guid, g)})" for g in foreign)
            yield _one(view, "bcd.sequence-hijack", obj, code,
                       f"points to {shown} instead of a Windows loader")
        elif missing:
            yield _one(view, "bcd.sequence-hijack", obj, code,
                       f"points to {', '.join(missing)}, which does not exist (a dangling "
                       "reference, or an object deleted after use)", "info")


def _type_of(by_guid: dict, guid: str) -> str:
    obj = by_guid.get(guid.lower())
    return "missing" if obj is None else f"{objects.type_description(obj.type)} {obj.type:#010x}"


def _path_rules(view: StoreView, obj: BcdObject, installed: bool) -> Iterator[ForensicFinding]:
    if obj.type == objects.OSLOADER:
        osdevice = view.value(obj, OSDEVICE)
        if view.value(obj, WINPE) is True and isinstance(osdevice, PartitionDevice):
            yield _one(view, "bcd.winpe-installed-loader", obj, WINPE,
                       "WinPE mode on a loader that boots Windows from a partition")
        device = view.value(obj, DEVICE)
        if installed and isinstance(device, RamdiskDevice) and not \
                _WINRE_IMAGE.search(device.path or ""):
            yield _one(view, "bcd.ramdisk-on-installed", obj, DEVICE,
                       "a ramdisk image that is not Windows RE boots from this installed system")
    path = view.value(obj, PATH)
    if isinstance(path, str) and (obj.type in _APP_TYPES_WITH_PATH or
                                  obj.type >> 28 == 1 and obj.type not in _USUAL_TYPES):
        if not _USUAL_PATH.match(path.strip()):
            yield _one(view, "bcd.unusual-path", obj, PATH,
                       "the boot application is not where Microsoft puts it")


def _custom_rules(view: StoreView) -> Iterator[ForensicFinding]:
    for obj in view.objects():
        for code in sorted(obj.elements):
            name = display_name(code, obj.type)
            if name.startswith("custom:"):
                yield _one(view, "bcd.custom-element", obj, code,
                           "an element bcdedit has no name for")


def _hypervisor_rules(view: StoreView, earlier: dict) -> Iterator[ForensicFinding]:
    for obj in view.objects():
        if not _loader_scope(obj) or HYPERVISORLAUNCHTYPE not in obj.elements:
            continue
        if view.value(obj, HYPERVISORLAUNCHTYPE) != 0:
            continue
        used = any(v == 1 for v in earlier.get((obj.guid, HYPERVISORLAUNCHTYPE), ())) or \
            any(c in o.elements for o in view.loaders() for c in (VSMLAUNCHTYPE, HVCI))
        yield _one(view, "bcd.hypervisor-off", obj, HYPERVISORLAUNCHTYPE,
                   "the hypervisor does not start" + (
                       "; the store shows it was used (VBS settings or an earlier Auto)"
                       if used else ""), "medium" if used else "low")


#: Elements compared with bcdboot's template: settings, not identities (devices, descriptions,
#: locales and references to machine-specific objects differ on every machine).
_BASELINE_SKIP = {DEVICE, OSDEVICE, DESCRIPTION, LOCALE, DEFAULT, RESUMEOBJECT, DISPLAYORDER,
                  TOOLSDISPLAYORDER, RECOVERYSEQUENCE}
#: Fixed identities for the template store (only its settings are compared).
_TEMPLATE_LOADER = "{00000000-0000-0000-0000-00000000000a}"
_TEMPLATE_RESUME = "{00000000-0000-0000-0000-00000000000b}"


@functools.lru_cache(maxsize=2)
def baseline_store(firmware: str) -> BcdStore:
    """The store `bcdtool new-store` (bcdboot's layout) writes for `firmware`."""
    if firmware == "uefi":
        part = PartitionDevice(style="gpt", disk_guid=_TEMPLATE_LOADER,
                               partition_guid=_TEMPLATE_RESUME)
    else:
        part = PartitionDevice(style="mbr", disk_signature=1, partition_offset=1 << 20)
    image = build_store(StoreLayout(firmware, part, part, loader_guid=_TEMPLATE_LOADER,
                                    resume_guid=_TEMPLATE_RESUME))
    return BcdStore(Hive.from_bytes(image, name=f"bcdboot template ({firmware})"))


def _baseline_pairs(view: StoreView, template: BcdStore) -> list[tuple[BcdObject, BcdObject]]:
    """(live object, template object) pairs: {bootmgr}, settings objects, {memdiag}, the
    default loader and its resume object."""
    pairs = []
    for alias in ("{bootmgr}", "{memdiag}", *objects.SETTINGS_OBJECTS):
        guid = objects.ALIASES[alias]
        if view.store.has(guid) and template.has(guid):
            pairs.append((view.store.get(guid), template.get(guid)))
    if view.default and view.store.has(view.default):
        loader = view.store.get(view.default)
        pairs.append((loader, template.get(_TEMPLATE_LOADER)))
        resume = view.value(loader, RESUMEOBJECT_LOADER)
        if isinstance(resume, str) and view.store.has(resume.lower()):
            pairs.append((view.store.get(resume.lower()), template.get(_TEMPLATE_RESUME)))
    return pairs


def _baseline_rules(view: StoreView) -> Iterator[ForensicFinding]:
    firmware = view.firmware()
    if firmware is None or not view.installed():
        return
    template = baseline_store(firmware)
    for live, want in _baseline_pairs(view, template):
        for code in sorted(set(live.elements) | set(want.elements)):
            if code in _BASELINE_SKIP:
                continue
            have, expected = live.elements.get(code), want.elements.get(code)
            if have is None:
                ev = view.evidence(live)
                name = display_name(code, live.type)
                yield ForensicFinding(
                    "bcd.baseline-difference", "info",
                    f"{ev.label()}: {name} is absent; a new {firmware.upper()} store has "
                    f"{name} = {view.text(want, expected)}",
                    (Evidence(ev.guid, ev.alias, ev.description, ev.object_type, name, code,
                              "(absent)", None, ev.key, ev.last_write),))
                continue
            if expected is not None and _same(view, live, have, want, expected):
                continue
            note = "bcdboot does not write this element" if expected is None else \
                f"bcdboot writes {view.text(want, expected)}"
            yield _one(view, "bcd.baseline-difference", live, code,
                       f"differs from a new {firmware.upper()} store: {note}")


def _same(view: StoreView, live: BcdObject, have: Element, want: BcdObject,
          expected: Element) -> bool:
    """Equal values (paths compare case-insensitively, integers by value whatever their width)."""
    if have.raw == expected.raw:
        return True
    try:
        a, b = have.value(), expected.value()
    except BcdToolError:
        return False
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return a == b


def doctor_finding(target: str, store: BcdStore) -> Finding | None:
    """`doctor`'s pointer to `forensic` when the store has security-relevant settings."""
    found = [f for f in findings(StoreView(store, store.hive)) if severity_rank(f.severity) > 0]
    if not found:
        return None
    ids = ", ".join(sorted({f.id for f in found}))
    return Finding("security-settings", "warning",
                   f"{len(found)} security-relevant boot setting(s) ({ids}): this store may have "
                   "been tampered with; inspect it before trusting the system",
                   tuple(ReportEvidence(e.key or e.guid, note=f.message) for f in found
                         for e in f.evidence[:1]),
                   f"bcdtool forensic {target} --timeline --history --deleted")


