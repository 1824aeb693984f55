"""Recipes layer: `forensic` findings — BCD settings that weaken boot security, with evidence.

Each rule looks at the elements as stored (not only effective values: a setting parked on an
inherit object or on a loader that is not the default is still evidence) and yields one finding
per suspicious setting, with a stable id from `forensic_model.RULES`.  A Microsoft-written
installed or media store raises nothing above "info"; bcdboot's own layout (`bcdtool new-store`)
is the baseline settings are compared with.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator

from bcdtool.bcd import objects
from bcdtool.bcd.device import (BootDevice, FileDevice, LocateDevice, PartitionDevice,
                                RamdiskDevice, VhdDevice)
from bcdtool.bcd.elements import display_name
from bcdtool.bcd.store import BcdObject, BcdStore, Element
from bcdtool.bcd.template import StoreLayout, build_store
from bcdtool.errors import BcdToolError
from bcdtool.ops.forensic_model import (
    ALTERNATESHELL, BOOTDEBUG, BOOTSEQUENCE, BOOTSTATUSPOLICY, DEBUG, DEBUGTYPE, DEFAULT,
    DESCRIPTION, DEVICE, DISABLEELAM, DISPLAYORDER, FLIGHTSIGNING, FVE_RECOVERY_TEXT, HOSTIP, HVCI,
    HYPERVISORDEBUG, HYPERVISORDEBUGTYPE, HYPERVISORLAUNCHTYPE, INHERIT, INTEGRITYSERVICES,
    KERNEL_OVERRIDES, LOADOPTIONS, LOCALE, NETKEY, NOINTEGRITYCHECKS, NX, OSDEVICE, PATH,
    PXE_DEVICE_ELEMENTS, PXESOFTREBOOT, RECOVERYENABLED, RECOVERYSEQUENCE, RESUMEOBJECT,
    RESUMEOBJECT_LOADER, RULES, SAFEBOOT, TESTSIGNING, TOOLSDISPLAYORDER, TPMBOOTENTROPY,
    VSMLAUNCHTYPE, WINPE, Evidence, ForensicFinding, StoreView, severity_rank)
from bcdtool.regf.hive import Hive
from bcdtool.report import Evidence as ReportEvidence
from bcdtool.report import Finding

_INTEGRITY_OPTIONS = re.compile(r"DISABLE_INTEGRITY_CHECKS|TESTSIGNING|NOINTEGRITYCHECKS",
                                re.IGNORECASE)
_USUAL_PATH = re.compile(
    r"^\\windows\\system32\\(boot\\)?(winload|winresume)\.(exe|efi)$"
    r"|^\\efi\\microsoft\\boot\\[^\\]+\.efi$"
    # removable media and firmware fallback copies of bootmgfw.efi
    r"|^\\efi\\boot\\boot(x64|ia32|aa64|arm)\.efi$"
    r"|^\\boot\\memtest\.exe$|^\\bootmgr$", re.IGNORECASE)
_WINRE_IMAGE = re.compile(r"\\winre\.wim$", re.IGNORECASE)
_USUAL_TYPES = {objects.FWBOOTMGR, objects.BOOTMGR, objects.FIRMWARE_APP, objects.OSLOADER,
                objects.RESUME, objects.MEMDIAG, objects.NTLDR}
#: Device kinds Windows' own tools write (anything else decodes as RawDevice or not at all).
_KNOWN_DEVICES = (BootDevice, PartitionDevice, FileDevice, RamdiskDevice, LocateDevice, VhdDevice)
_APP_TYPES_WITH_PATH = {objects.BOOTMGR, objects.OSLOADER, objects.RESUME, objects.MEMDIAG}


def findings(view: StoreView, *, earlier: dict | None = None, dirty_note: str | None = None,
             extra: Iterable[ForensicFinding] = ()) -> list[ForensicFinding]:
    """Every finding about the store in `view`, sorted by severity (highest first), id, object.

    `earlier` maps (guid, code) to values the element had before (from log history), so
    `hypervisorlaunchtype Off` can say whether the system used the hypervisor; `extra` are
    findings made elsewhere (earlier states from the logs), sorted in with the rest.
    """
    out: list[ForensicFinding] = []
    for rule in (_boolean_rules, _policy_rules, _debug_rules, _safeboot_rules,
                 _application_rules, _custom_rules, _override_rules, _inheritance_rules):
        out.extend(rule(view))
    out.extend(_hypervisor_rules(view, earlier or {}))
    flagged = {(e.guid, e.code) for f in out for e in f.evidence}
    out.extend(f for f in _baseline_rules(view)
               if (f.evidence[0].guid, f.evidence[0].code) not in flagged)
    out.extend(extra)
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


#: Boolean elements whose value alone is suspicious: (code, bad value, finding id, meaning).
BOOLEAN_SETTINGS = (
    (TESTSIGNING, True, "bcd.test-signing", "test-signed drivers load"),
    (NOINTEGRITYCHECKS, True, "bcd.integrity-checks-disabled", "signature checks are off"),
    (FLIGHTSIGNING, True, "bcd.flight-signing", "flight-signed binaries are trusted"),
    (RECOVERYENABLED, False, "bcd.recovery-disabled", "automatic recovery is off"),
    (DISABLEELAM, True, "bcd.elam-disabled", "early-launch anti-malware is off"),
)


def _boolean_rules(view: StoreView) -> Iterator[ForensicFinding]:
    for obj in view.objects():
        for code, bad, fid, message in BOOLEAN_SETTINGS:
            if code == DISABLEELAM and obj.type >> 28 == 1 and obj.type != objects.OSLOADER:
                continue        # 0x260000e1 means disableelamdrivers only on loaders
            if code in obj.elements and view.value(obj, code) is bad:
                yield _one(view, fid, obj, code, message)


def suspicious_value(code: int, value) -> str | None:
    """The finding id a single element value deserves on its own (for values recovered from
    deleted keys, where the rest of the store is gone), or None."""
    for rule_code, bad, fid, _ in BOOLEAN_SETTINGS:
        if code == rule_code and value is bad:
            return fid
    if code == LOADOPTIONS and isinstance(value, str) and _INTEGRITY_OPTIONS.search(value):
        return "bcd.loadoptions-integrity"
    return None


def _policy_rules(view: StoreView) -> Iterator[ForensicFinding]:
    for obj in view.objects():
        loaderish = _loader_scope(view, obj)
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


def _loader_scope(view: StoreView, obj: BcdObject) -> bool:
    """True when a Windows loader reads `obj`'s elements (see StoreView.loader_scope)."""
    return obj.guid in view.loader_scope()


def _debug_rules(view: StoreView) -> Iterator[ForensicFinding]:
    for obj in view.objects():
        if view.value(obj, BOOTDEBUG) is True:
            yield _one(view, "bcd.boot-debug", obj, BOOTDEBUG, "a boot debugger is enabled")
        if _loader_scope(view, obj):
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
        if _loader_scope(view, obj) and view.value(obj, HYPERVISORDEBUGTYPE) in (1, 3):
            kind = view.value(obj, HYPERVISORDEBUGTYPE)
            yield _one(view, "bcd.debugger-transport", obj, HYPERVISORDEBUGTYPE,
                       "a hypervisor debugger transport other than serial is configured",
                       "medium" if kind == 3 else "low")


def _safeboot_rules(view: StoreView) -> Iterator[ForensicFinding]:
    for obj in view.objects():
        if not _loader_scope(view, obj):
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
    if obj.type in _APP_TYPES_WITH_PATH:
        for code in (DEVICE, OSDEVICE) if obj.type == objects.OSLOADER else (DEVICE,):
            if code in obj.elements and not isinstance(view.value(obj, code), _KNOWN_DEVICES):
                yield _one(view, "bcd.unusual-device", obj, code,
                           "a device bcdedit's own device types do not describe")
    path = view.value(obj, PATH)
    if isinstance(path, str) and (obj.type in _APP_TYPES_WITH_PATH or
                                  obj.type >> 28 == 1 and obj.type not in _USUAL_TYPES):
        if not _USUAL_PATH.match(path):       # exactly: a trailing blank is another file
            yield _one(view, "bcd.unusual-path", obj, PATH,
                       "the boot application is not where Microsoft puts it")


def _custom_rules(view: StoreView) -> Iterator[ForensicFinding]:
    for obj in view.objects():
        for code in sorted(obj.elements):
            name = display_name(code, obj.type)
            if name.startswith("custom:"):
                yield _one(view, "bcd.custom-element", obj, code,
                           "an element bcdedit has no name for")


def _override_rules(view: StoreView) -> Iterator[ForensicFinding]:
    for obj in view.objects():
        if _loader_scope(view, obj):
            for code in KERNEL_OVERRIDES:
                value = view.value(obj, code)
                if code in obj.elements and (not isinstance(value, str) or value.strip()):
                    yield _one(view, "bcd.kernel-override", obj, code,
                               "the loader starts this instead of Windows' own file")
            if view.value(obj, TPMBOOTENTROPY) == 1:
                yield _one(view, "bcd.tpm-entropy-off", obj, TPMBOOTENTROPY,
                           "no boot entropy from the TPM")
        if obj.type == objects.BOOTMGR:
            for code in FVE_RECOVERY_TEXT:
                if code in obj.elements:
                    yield _one(view, "bcd.bitlocker-recovery-text", obj, code,
                               "a custom BitLocker recovery screen text")


#: The settings objects Windows' inherit lists name (bcdboot's graph, and the kernel debugger's).
_WINDOWS_SETTINGS = frozenset(objects.ALIASES[a] for a in (*objects.SETTINGS_OBJECTS,
                                                           "{kerneldbgsettings}"))


def _inheritance_rules(view: StoreView) -> Iterator[ForensicFinding]:
    by_guid = {o.guid: o for o in view.objects()}
    for obj in view.objects():
        targets = view.value(obj, INHERIT)
        if not isinstance(targets, list):
            continue
        for target in (t.lower() for t in targets if isinstance(t, str)):
            named = by_guid.get(target)
            if named is None:
                yield _one(view, "bcd.inheritance-tampered", obj, INHERIT,
                           f"inherits from {target}, which does not exist", "low")
            elif target not in _WINDOWS_SETTINGS or named.type >> 28 != 2:
                yield _one(view, "bcd.inheritance-tampered", obj, INHERIT,
                           f"inherits the settings of {target} ({_type_of(by_guid, target)}), "
                           "which is not one of Windows' settings objects")


def _hypervisor_rules(view: StoreView, earlier: dict) -> Iterator[ForensicFinding]:
    for obj in view.objects():
        if not _loader_scope(view, obj) or HYPERVISORLAUNCHTYPE not in obj.elements:
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
                              "(absent)", None, ev.key, ev.last_write, ev.last_write_filetime),))
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


