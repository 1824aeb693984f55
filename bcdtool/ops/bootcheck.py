"""Recipes layer: does the BCD store describe this disk?

For `{bootmgr}`, every Windows loader of `displayorder` and `{default}`, and their resume and
recovery objects, each device element (`device`, `osdevice`, `filedevice`) is resolved on the
disk — a partition by MBR signature and offset or GPT disk and partition GUIDs, `boot` as the
partition the boot manager was loaded from, `locate` by searching the partitions, a ramdisk by its
parent and its `.wim`/`.sdi` files — and the files the boot code loads are looked up there
(`path`, `systemroot`).  References (`default`, `displayorder`, `resumeobject`,
`recoverysequence`) must name objects that exist.

Each check is a `Verdict`; a wrong partition that can be told (exactly one partition holds what
the element's object needs) carries the `Repoint` that `repair boot` applies.  Read-only.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, field, replace

from bcdtool.bcd import enum as render
from bcdtool.bcd import objects
from bcdtool.bcd.device import (BootDevice, Device, FileDevice, LocateDevice, PartitionDevice,
                                RamdiskDevice, RawDevice, VhdDevice)
from bcdtool.bcd.elements import BOOTMGR as BOOTMGR_SCOPE
from bcdtool.bcd.elements import DEVICE as DEVICE_SCOPE
from bcdtool.bcd.elements import OSLOADER, RESUME, E, display_name, element
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import BcdToolError
from bcdtool.ops.bootdisk import OTHER, SYSTEM_HIVE, BootDisk

DEVICE = element("device")
PATH = element("path")
RECOVERY = element("recoverysequence")
OSDEVICE = element("osdevice", OSLOADER)
SYSTEMROOT = element("systemroot", OSLOADER)
LOADER_RESUME = E.LOADER_RESUMEOBJECT
FILEDEVICE = element("filedevice", RESUME)
BOOTMGR_RESUME = element("resumeobject", BOOTMGR_SCOPE)
DEFAULT = E.DEFAULT
DISPLAYORDER = E.DISPLAYORDER
TOOLSDISPLAYORDER = E.TOOLSDISPLAYORDER
SDIDEVICE = element("ramdisksdidevice", DEVICE_SCOPE)
SDIPATH = element("ramdisksdipath", DEVICE_SCOPE)

BOOTMGR = objects.ALIASES["{bootmgr}"]
#: The boot manager a BIOS partition boot sector loads when {bootmgr} names no path.
BIOS_BOOTMGR = r"\bootmgr"
#: The boot manager UEFI firmware starts (its boot entry names it) when {bootmgr} has no path.
UEFI_BOOTMGR = r"\EFI\Microsoft\Boot\bootmgfw.efi"
DEFAULT_SYSTEMROOT = r"\Windows"
REPAIR = "bcdtool repair boot {target}"


@dataclass(frozen=True)
class Repoint:
    """One element `repair boot` sets: a device `new` naming partition `index` of this disk,
    or a `path` (the loader of the other firmware, found on partition `index`)."""

    guid: str
    label: str
    element: str
    code: int
    old: Device | str
    new: Device | str
    index: int
    #: The other disk (`--other-disk`) partition `index` is on; "" for the store's disk.
    disk: str = ""

    def shown(self, value: Device | str) -> str:
        """`old` or `new` as the diff lines show it."""
        return value if isinstance(value, str) else value.text(detailed=True)


@dataclass
class Verdict:
    """The result of one check, in doctor's terms (status, message, evidence notes)."""

    id: str
    status: str                    # ok, problem, warning, unknown
    message: str
    notes: list[str] = field(default_factory=list)
    fix: str | None = None
    repoint: Repoint | None = None
    #: For a wrong device that cannot be re-pointed: why (no or several candidate partitions);
    #: TARGET in it stands for the disk, as in `fix`.
    refusal: str | None = None


@dataclass
class _Target:
    """What one object needs on the disk: the file whose partition its devices should name."""

    guid: str
    label: str
    role: str                      # bootmgr, loader, resume, tool (toolsdisplayorder)
    wanted: str                    # the path that marks the right partition
    systemroot: bool               # `wanted` is a systemroot folder, not a file
    candidates: list[int]


def check(store: BcdStore, disk: BootDisk, store_part: int | None,
          target: str) -> list[Verdict]:
    """Every verdict about the store's boot objects on `disk`; `store_part` is the partition the
    store (and so the boot manager) was read from; `target` is how fix commands name the disk."""
    fix = REPAIR.format(target=target) + "".join(
        f" --other-disk {shlex.quote(other.spec)}" for other in disk.others)
    out = _duplicate_keys(store) + _references(store, fix)
    uefi = reads_uefi(disk, store_part)
    for obj in _boot_objects(store, disk, store_part, uefi):
        out.extend(_object_verdicts(store, disk, store_part, obj, fix, uefi))
    return out


def reads_uefi(disk: BootDisk, store_part: int | None) -> bool:
    """True when UEFI firmware reads this store: a GPT disk (Windows boots GPT only through
    UEFI), or an MBR disk whose store lies on an EFI system partition (type 0xEF)."""
    part = disk.partition(store_part) if store_part else None
    if part is not None and disk.table.scheme == "mbr":
        return part.is_esp
    return disk.table.scheme == "gpt"


def _duplicate_keys(store: BcdStore) -> list[Verdict]:
    """Object or element keys that differ only in letter case: the registry treats them as one
    name, so the boot manager reads one of them, and bcdtool shows the first."""
    seconds = [n for n in store.notices if n.startswith(("ignored a second object key",
                                                         "ignored a second element key"))]
    if not seconds:
        return []
    return [Verdict("boot-store.duplicate-keys", "problem", "the store holds keys that differ "
                    "only in letter case (" + "; ".join(seconds) + "): Windows reads one of "
                    "them, not necessarily the one bcdtool shows", fix="keep a copy (bcdtool "
                    "bcdedit --store TARGET /export ./BCD-copy), then rebuild the store with "
                    "`bcdtool new-store BCD --disk TARGET` and copy it over")]


# --- which objects ------------------------------------------------------------------------------

def _label(store: BcdStore, guid: str) -> str:
    return render.identifier(store, guid, render.View())


def _value(store: BcdStore, guid: str, code: int):
    return store.get(guid).value_of(code) if store.has(guid) else None


def _ids(value) -> list[str]:
    if isinstance(value, str):
        value = [value]
    return [v.lower() for v in value or [] if isinstance(v, str) and objects.is_guid(v)]


def _is(store: BcdStore, guid: str, object_type: int) -> bool:
    return store.has(guid) and store.get(guid).type == object_type


def windows_loaders(store: BcdStore) -> list[str]:
    """The Windows loaders the boot manager offers: `displayorder` then `{default}`."""
    found: list[str] = []
    for guid in _ids(_value(store, BOOTMGR, DISPLAYORDER)) + _ids(store.default_guid()):
        if guid not in found and _is(store, guid, objects.OSLOADER):
            found.append(guid)
    return found


def tools(store: BcdStore) -> list[str]:
    """The boot applications of {bootmgr}'s toolsdisplayorder that exist ({memdiag}, ...)."""
    return [g for g in _ids(_value(store, BOOTMGR, TOOLSDISPLAYORDER))
            if store.has(g) and store.get(g).type >> 28 == 1
            and store.get(g).type not in (objects.OSLOADER, objects.BOOTMGR)]


def _boot_objects(store: BcdStore, disk: BootDisk, store_part: int | None,
                  uefi: bool) -> list[_Target]:
    out: list[_Target] = []
    if store.has(BOOTMGR):
        wanted = _value(store, BOOTMGR, PATH) or (UEFI_BOOTMGR if uefi else BIOS_BOOTMGR)
        # firmware starts the boot manager of the disk it reads the store from, and the boot
        # manager loads its tools from there too: other disks are no candidates for these
        found = [i for i in disk.holding(wanted) if i < OTHER]
        if store_part in found:
            found = [store_part]      # the boot manager beside the store is the one that runs
        out.append(_Target(BOOTMGR, "{bootmgr}", "bootmgr", wanted, False, found))
    seen = {BOOTMGR}
    for guid in tools(store):
        # {memdiag} and other tools of the boot menu: found by their own `path`
        seen.add(guid)
        wanted = _value(store, guid, PATH)
        wanted = for_firmware(wanted, uefi) if isinstance(wanted, str) else None
        found = [i for i in disk.holding(wanted) if i < OTHER] if wanted else []
        if store_part in found:
            found = [store_part]
        out.append(_Target(guid, _label(store, guid), "tool", wanted if isinstance(wanted, str)
                           else "", False, found))
    for loader in windows_loaders(store):
        chain = [loader] + [g for g in _ids(_value(store, loader, RECOVERY))
                            if _is(store, g, objects.OSLOADER)]
        for guid in chain:
            if guid in seen:
                continue
            seen.add(guid)
            root = _value(store, guid, SYSTEMROOT) or DEFAULT_SYSTEMROOT
            target = _Target(guid, _label(store, guid), "loader", root, True,
                             disk.holding(root, systemroot=True))
            out.append(target)
            resume = _ids(_value(store, guid, LOADER_RESUME))
            if resume and _is(store, resume[0], objects.RESUME) and resume[0] not in seen:
                seen.add(resume[0])
                out.append(replace(target, guid=resume[0], label=_label(store, resume[0]),
                                   role="resume"))
    return out


# --- references ---------------------------------------------------------------------------------

def _references(store: BcdStore, fix: str) -> list[Verdict]:
    out: list[Verdict] = []
    if not store.has(BOOTMGR):
        return [Verdict("boot-ref.bootmgr", "problem", "the store has no {bootmgr}: the boot "
                        "manager finds no configuration (boot error 0xc000000f)",
                        fix="bcdtool bcdedit --store TARGET /create {bootmgr}, or make a new "
                        "store with `bcdtool new-store`")]
    default = store.default_guid()
    set_fix = "bcdtool bcdedit --store TARGET /default {id} (a Windows Boot Loader)"
    if default is None:
        loaders = windows_loaders(store)
        out.append(Verdict("boot-ref.default", "problem", "{bootmgr} has no default entry"
                           + (f"; the boot manager falls back to the first of displayorder, "
                              f"{_label(store, loaders[0])}" if loaders else ""),
                           fix=set_fix))
    elif not store.has(default):
        out.append(Verdict("boot-ref.default", "problem", f"{{bootmgr}} default names {default}, "
                           "which is not in the store", fix=set_fix))
    elif store.get(default).type != objects.OSLOADER:
        kind = objects.type_description(store.get(default).type)
        out.append(Verdict("boot-ref.default", "warning", f"the default entry {default} is a "
                           f"{kind} ({store.get(default).type:08x}), not a Windows Boot Loader",
                           fix=set_fix))
    else:
        out.append(Verdict("boot-ref.default", "ok", f"the default entry {default} is a "
                           "Windows Boot Loader"))
    order = _ids(_value(store, BOOTMGR, DISPLAYORDER))
    missing = [g for g in order if not store.has(g)]
    out.append(Verdict(
        "boot-ref.displayorder", "problem" if missing else "ok",
        f"displayorder names {len(missing)} object(s) not in the store: {', '.join(missing)}"
        if missing else f"every entry of displayorder ({len(order)}) exists",
        fix="bcdtool bcdedit --store TARGET /displayorder {id} /remove" if missing else None))
    twice = sorted({g for g in order if order.count(g) > 1})
    if twice:
        out.append(Verdict("boot-ref.displayorder.duplicates", "warning", "displayorder names "
                           f"{', '.join(twice)} more than once: the menu shows the entry twice",
                           fix="bcdtool bcdedit --store TARGET /displayorder {id} /addlast "
                           "(moves the entry, keeping it once)"))
    tool_ids = _ids(_value(store, BOOTMGR, TOOLSDISPLAYORDER))
    gone_tools = [g for g in tool_ids if not store.has(g)]
    if tool_ids:
        out.append(Verdict(
            "boot-ref.toolsdisplayorder", "warning" if gone_tools else "ok",
            f"toolsdisplayorder names {', '.join(gone_tools)}, which is not in the store: the "
            "tools menu entry does nothing" if gone_tools else
            f"every entry of toolsdisplayorder ({len(tool_ids)}) exists",
            fix=f"bcdtool bcdedit --store TARGET /toolsdisplayorder {gone_tools[0]} /remove"
            if gone_tools else None))
    refs = [(BOOTMGR, BOOTMGR_RESUME, "resumeobject")]
    for loader in windows_loaders(store):
        refs += [(loader, LOADER_RESUME, "resumeobject"), (loader, RECOVERY, "recoverysequence")]
    for owner, code, name in refs:
        named = _ids(_value(store, owner, code))
        if not named:
            continue
        label = _label(store, owner)
        gone = [g for g in named if not store.has(g)]
        wanted = objects.RESUME if name == "resumeobject" else objects.OSLOADER
        odd = [g for g in named if store.has(g) and store.get(g).type != wanted]
        if odd and not gone:
            # it exists but is no resume application (recovery: no loader): resuming from
            # hibernation (or starting Windows RE) fails, Windows itself still boots
            kind = _a(objects.type_description(store.get(odd[0]).type))
            want = _a(objects.type_description(wanted))
            out.append(Verdict(
                f"boot-ref.{label}.{name}", "warning", f"{name} of {label} names {odd[0]}, "
                f"{kind} ({store.get(odd[0]).type:08x}), not {want}",
                fix=f"bcdtool bcdedit --store TARGET /set {label} {name} {{id}} ({want}), or "
                f"/deletevalue {label} {name}"))
            continue
        out.append(Verdict(
            f"boot-ref.{label}.{name}", "problem" if gone else "ok",
            f"{name} of {label} names {', '.join(gone)}, which is not in the store" if gone else
            f"{name} of {label} exists",
            fix=f"bcdtool bcdedit --store TARGET /deletevalue {label} {name}" if gone else None))
    return out


def _a(noun: str) -> str:
    """`an OS loader`, `a memory tester`."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


# --- devices and files --------------------------------------------------------------------------

def _object_verdicts(store: BcdStore, disk: BootDisk, store_part: int | None, target: _Target,
                     fix: str, uefi: bool) -> list[Verdict]:
    obj = store.get(target.guid)
    out: list[Verdict] = []
    codes = [DEVICE] + ([OSDEVICE] if target.role == "loader" else []) + \
        ([FILEDEVICE] if target.role == "resume" else [])
    resolved: dict[int, int | None] = {}
    for code in codes:
        name = display_name(code, obj.type)
        elem = obj.elements.get(code)
        vid = f"boot-device.{target.label}.{name}"
        if elem is None:
            if code == DEVICE or target.role == "loader":
                out.append(Verdict(vid, "problem", f"{target.label} has no {name}: the boot code "
                                   "does not know where to load from", fix=fix))
            continue
        try:
            device = elem.value()
        except BcdToolError as exc:
            out.append(Verdict(vid, "problem", f"{name} of {target.label} is unreadable: {exc}",
                               fix=fix))
            continue
        verdict, index = _device_verdict(store, disk, store_part, target, name, code, device,
                                         fix)
        resolved[code] = index
        out.append(verdict)
        out.extend(_ramdisk_files(store, disk, store_part, target, name, device, fix))
    out.extend(_file_verdicts(store, disk, target, resolved, fix, uefi))
    _inside_image(store, target, out)
    if target.role == "tool":
        for verdict in out:
            if verdict.status == "problem":
                # the tool fails when chosen from the menu; Windows itself still boots
                verdict.status = "warning"
                verdict.message += f" ({target.label} only: Windows itself boots)"
    return out


def _device_verdict(store: BcdStore, disk: BootDisk, store_part: int | None, target: _Target,
                    name: str, code: int, device: Device, fix: str) -> tuple[Verdict, int | None]:
    vid = f"boot-device.{target.label}.{name}"
    text = device.text(detailed=True, where=disk.layout.name if disk.layout else None)
    notes = [f"{name} = {text}"]
    if isinstance(device, RamdiskDevice):
        index, why = _parent_index(disk, store_part, device.parent)
        ok = index is not None and disk.has_file(index, device.path)
        if ok:
            return Verdict(vid, "ok", f"{name} of {target.label} is a ramdisk of {device.path} on "
                           f"{disk.describe(index)}", notes), index
        holders = disk.holding(device.path)
        message = f"{name} of {target.label}: the ramdisk image {device.path} is not on " + \
            (disk.describe(index) if index is not None else why)
        return _wrong(vid, message, notes, target, name, code, device, holders, disk, fix,
                      device.path), index
    if isinstance(device, RawDevice):
        return Verdict(vid, "unknown", f"{name} of {target.label} ({text}) is a form bcdtool "
                       "cannot decode, so it is not checked", notes), None
    if isinstance(device, (FileDevice, VhdDevice)):
        return _file_device_verdict(disk, store_part, target, vid, name, device, notes)
    if isinstance(device, LocateDevice):
        wanted = _locate_file(store, target.guid, device) or target.wanted
        folder = device.element_type == SYSTEMROOT and target.role == "loader"
        found = disk.holding(wanted, systemroot=folder) if wanted else []
        if not found and target.role == "resume" and code == FILEDEVICE:
            # the hibernation file exists only while Windows is hibernated
            return Verdict(vid, "ok", f"{name} of {target.label} locates {wanted}, which no "
                           "partition holds: Windows is not hibernated, there is nothing to "
                           "resume", notes), None
        if found:
            notes.append("locate searches every partition; found on " +
                         ", ".join(disk.describe(i) for i in found))
            return Verdict(vid, "ok", f"{name} of {target.label} locates {wanted} on "
                           f"{disk.describe(found[0])}", notes), found[0]
        return Verdict(vid, "problem", f"{name} of {target.label} locates "
                       f"{wanted or 'an unnamed file'}, and no partition of this disk holds it",
                       notes, fix), None
    index, why = _parent_index(disk, store_part, device)
    right = target.candidates
    if index is not None and not disk.readable(index):
        return Verdict(vid, "ok", f"{name} of {target.label} is {disk.describe(index)} (bcdtool "
                       "cannot look inside it to check its files)", notes), index
    if index is not None and (not right or index in right):
        return Verdict(vid, "ok", f"{name} of {target.label} is {disk.describe(index)}"
                       + (f", which holds {_what(target)}" if right else ""), notes), index
    where = why if index is None else f"{disk.describe(index)}, which does not hold " \
        f"{_what(target)}"
    return _wrong(vid, f"{name} of {target.label} names {where}", notes, target, name, code,
                  device, right, disk, fix, None), index


def _file_device_verdict(disk: BootDisk, store_part: int | None, target: _Target, vid: str,
                         name: str, device: FileDevice | VhdDevice,
                         notes: list[str]) -> tuple[Verdict, int | None]:
    """A file device or a native-VHD disk: the file must be on its parent partition (`[locate]`:
    on any partition); what the boot code loads from inside a VHD cannot be looked up here."""
    if isinstance(device.parent, LocateDevice):
        found = disk.holding(device.path)
        index = found[0] if found else None
        where = disk.describe(index) if found else "no partition of this disk"
    else:
        index, why = _parent_index(disk, store_part, device.parent)
        if index is None:
            return Verdict(vid, "problem", f"{name} of {target.label}: {device.path} is on "
                           f"{why}", notes, "point the entry at this disk's partition with "
                           "bcdtool bcdedit --store TARGET /set ... partition=#N"), None
        where = disk.describe(index)
    if index is not None and not disk.readable(index):
        return Verdict(vid, "unknown", f"{name} of {target.label}: {device.path} cannot be "
                       f"looked up on {where}", notes), index
    present = index is not None and disk.has_file(index, device.path)
    return Verdict(vid, "ok" if present else "problem",
                   f"{name} of {target.label}: {device.path} {'is' if present else 'is not'} "
                   f"on {where}", notes, None if present else "restore the file, or point the "
                   "entry at another one with bcdtool bcdedit"), index


def _what(target: _Target) -> str:
    return f"{target.wanted} (a Windows folder)" if target.systemroot else target.wanted


def _wrong(vid: str, message: str, notes: list[str], target: _Target, name: str, code: int,
           device: Device, candidates: list[int], disk: BootDisk, fix: str,
           file: str | None) -> Verdict:
    """A problem verdict naming the partition the element should be, with its repoint."""
    what = file or _what(target)
    if len(candidates) == 1:
        index = candidates[0]
        new = _pointed(device, disk, index)
        verdict = Verdict(vid, "problem", f"{message}; it should be {disk.describe(index)}, "
                          f"which holds {what} (boot error 0xc000000e)", notes, fix)
        if new is not None:
            verdict.repoint = Repoint(target.guid, target.label, name, code, device, new,
                                      index % OTHER,
                                      disk.others[index // OTHER - 1].spec if index >= OTHER
                                      else "")
        else:
            verdict.refusal = f"{name} of {target.label} is a {device.kind} device bcdtool " \
                "does not re-point"
        return verdict
    if candidates:
        choices = "; ".join(disk.describe(i) for i in candidates)
        refusal = f"{name} of {target.label}: several partitions hold {what}: {choices}"
        return Verdict(vid, "problem", f"{message}; several partitions hold {what} ({choices})",
                       notes, "bcdtool bcdedit --store TARGET /set "
                       f"{target.label} {name} partition=P (P: one of "
                       f"{', '.join(partition_word(disk, i) for i in candidates)})",
                       refusal=refusal)
    blind = disk.unreadable()
    unseen = f" (bcdtool cannot look inside {', '.join(blind)})" if blind else ""
    refusal = f"{name} of {target.label}: no partition of this disk holds {what}{unseen}"
    locked = [p.index for p in disk.partitions if disk.filesystem(p.index) == "bitlocker"]
    if len(locked) == 1:
        # most likely the encrypted Windows volume: bcdtool cannot look inside (and never
        # writes into it), so the user names it, or unlocks it for a check
        step = (f"if {what} is on the BitLocker-encrypted partition {locked[0]}, point the "
                f"entry there: bcdtool bcdedit --store TARGET /set {target.label} {name} "
                f"partition=#{locked[0]} (or unlock it with dislocker and mount it to check)")
        refusal += f"; {step}"
    elif what.lower().endswith(".wim"):
        # Windows RE (or setup) image gone: the entry cannot boot whatever it points at
        step = (f"restore {what} (Windows RE: Winre.wim is in the install media's install.wim "
                "under Windows\\System32\\Recovery; then `reagentc /enable` from Windows), or "
                f"remove the entry: bcdtool bcdedit --store TARGET /delete {target.label}")
    elif _other_disk(device, disk) is not None:
        # store on one disk, Windows on another (a second disk of that machine, or the disk
        # the store was copied from): give that disk too and it is checked there
        step = (f"if {what} is on another disk of that machine, this may be right: give that "
                f"disk too (bcdtool doctor TARGET --other-disk DISK2; it must be "
                f"{_other_disk(device, disk)}); otherwise restore the Windows files, or point "
                f"the entry at a partition of this disk: bcdtool bcdedit --store TARGET /set "
                f"{target.label} {name} partition=#N")
        refusal += (f" ({name} names {_other_disk(device, disk)}; if that disk holds it, "
                    "nothing needs repairing: give it with --other-disk DISK2 to check)")
    else:
        step = ("restore the Windows files, or point the entry at the right partition with "
                f"bcdtool bcdedit --store TARGET /set {target.label} {name} partition=#N")
    return Verdict(vid, "problem", f"{message}; no partition bcdtool can read holds {what}"
                   f"{unseen}", notes, step, refusal=refusal)


def _other_disk(device: Device, disk: BootDisk) -> str | None:
    """`GPT disk {...}` / `MBR signature ...` when `device` (or a ramdisk's parent) names a
    partition of a disk that is neither `disk` nor one of its other disks, else None."""
    if isinstance(device, RamdiskDevice):
        device = device.parent
    if not isinstance(device, PartitionDevice) or disk.layout is None:
        return None
    if any(_on(device, d) for d in [disk, *disk.others]):
        return None
    return f"MBR signature {device.disk_signature:08x}" if device.style == "mbr" else \
        f"GPT disk {device.disk_guid}"


def _on(device: PartitionDevice, disk: BootDisk) -> bool:
    """True when `device` names `disk` (whether or not a partition is where it says)."""
    mine = disk.layout
    return mine is not None and device.style == mine.style and (
        device.disk_signature == mine.disk_signature if device.style == "mbr"
        else device.disk_guid == mine.disk_guid)


def partition_word(disk: BootDisk, index: int) -> str:
    """How `bcdtool bcdedit --store DISK /set ... partition=WORD` names partition `index`:
    `#N` on the store's disk, the partition's identity on an other disk."""
    if index < OTHER:
        return f"#{index}"
    device = disk.device(index)
    if device.style == "gpt":
        return f"gpt:{device.disk_guid}:{device.partition_guid}"
    return f"mbr:{device.disk_signature:08x}:{device.partition_offset:#x}"


def _pointed(device: Device, disk: BootDisk, index: int) -> Device | None:
    """`device` re-pointed at partition `index` (a ramdisk keeps its image and options)."""
    if isinstance(device, (PartitionDevice, BootDevice)):
        return disk.device(index).replace(options=device.options, flags=device.flags)
    if isinstance(device, RamdiskDevice):
        return device.replace(parent=disk.device(index))
    return None


def _parent_index(disk: BootDisk, store_part: int | None,
                  device: Device | None) -> tuple[int | None, str]:
    """(partition of this disk, or None with the reason) for a boot or partition device."""
    if isinstance(device, BootDevice):
        if store_part is None:
            return None, "the boot device (unknown here: the store is not on a partition)"
        return store_part, ""
    if isinstance(device, PartitionDevice):
        index = disk.find(device)
        if index is not None:
            return index, ""
        ident = device.identity()
        layout = disk.layout
        where = next((d for d in [disk, *disk.others] if _on(device, d)), None)
        if where is not None:
            name = "this disk" if where is disk else where.spec
            return None, f"{ident}, on {name} but where no partition is (the partition " \
                "was moved or recreated)"
        mine = layout.identity() if layout else "no partition table"
        others = "".join(f" nor of {o.spec} ({o.layout.identity()})" for o in disk.others)
        return None, f"{ident}, which is not a partition of this disk ({mine}){others}"
    return None, f"a {device.kind if device else 'missing'} device"


def _locate_file(store: BcdStore, guid: str, device: LocateDevice) -> str | None:
    if device.element_type:
        value = _value(store, guid, device.element_type)
        if device.element_type == SYSTEMROOT and value:
            return value
        return value if isinstance(value, str) else None
    return device.path or None


def _ramdisk_files(store: BcdStore, disk: BootDisk, store_part: int | None, target: _Target,
                   name: str, device: Device, fix: str) -> list[Verdict]:
    """The `.sdi` named by a ramdisk's options object (only for the `device` element: the
    osdevice names the same ramdisk)."""
    if not isinstance(device, RamdiskDevice) or name != "device" or not device.options:
        return []
    vid = f"boot-file.{target.label}.ramdisksdipath"
    options = device.options.lower()
    if not store.has(options):
        return [Verdict(vid, "problem", f"the ramdisk options object {options} of "
                        f"{target.label} is not in the store", fix=fix)]
    sdi_path = _value(store, options, SDIPATH)
    sdi_dev = _value(store, options, SDIDEVICE)
    if not sdi_path or not isinstance(sdi_dev, Device):
        return [Verdict(vid, "unknown", f"the ramdisk options of {target.label} name no .sdi "
                        "file (WIM boot uses the image's own)")]
    index, why = _parent_index(disk, store_part, sdi_dev)
    if index is not None and disk.has_file(index, sdi_path):
        return [Verdict(vid, "ok", f"{sdi_path} of {target.label}'s ramdisk is on "
                        f"{disk.describe(index)}")]
    holders = disk.holding(sdi_path)
    where = disk.describe(index) if index is not None else why
    sdi_target = replace(target, guid=options, label=options, role="options")
    verdict = _wrong(vid, f"the ramdisk's {sdi_path} is not on {where}",
                     [f"ramdisksdidevice = {sdi_dev.text(detailed=True)}"], sdi_target,
                     "ramdisksdidevice", SDIDEVICE, sdi_dev, holders, disk, fix, sdi_path)
    return [verdict]


def for_firmware(path: str, uefi: bool) -> str:
    """`path` as the program for this firmware: `winload.exe` <-> `winload.efi` (other paths
    unchanged)."""
    if path.lower().endswith((".exe", ".efi")):
        return path[:-4] + (".efi" if uefi else ".exe")
    return path


def _firmware_verdict(disk: BootDisk, target: _Target, value: str, index: int | None,
                      inside: bool, uefi: bool) -> Verdict | None:
    """A `path` built for the other firmware (`winload.exe` in a store UEFI reads, `winload.efi`
    in a BIOS one: a disk converted with mbr2gpt, or a store copied between layouts).  When the
    program for this firmware is beside it, the verdict carries the `path` repair boot sets."""
    if target.role == "bootmgr" or not value.lower().endswith((".exe", ".efi")):
        return None
    wrong = ".exe" if uefi else ".efi"
    if not value.lower().endswith(wrong):
        return None
    right = for_firmware(value, uefi)
    if index is None and len(target.candidates) == 1:
        index = target.candidates[0]          # where repair boot re-points the device
    firmware, other = ("UEFI", "BIOS (PC/AT)") if uefi else ("BIOS (PC/AT)", "UEFI")
    vid = f"boot-firmware.{target.label}.path"
    message = (f"path of {target.label} is {value}, a {other} program, but {firmware} firmware "
               "reads this store: the boot manager cannot start it (boot error 0xc000000f)")
    present = index is not None and not inside and disk.has_file(index, right)
    if not present:
        return Verdict(vid, "problem", message, fix=f"bcdtool bcdedit --store TARGET /set "
                       f"{target.label} path {right} (when that file exists; else run `bcdboot "
                       f"C:\\Windows /f {'UEFI' if uefi else 'BIOS'}` from Windows RE)",
                       refusal=f"path of {target.label}: {right} " + (
                           "would be inside its ramdisk or VHD image, which bcdtool cannot "
                           "look into; set it yourself if the image holds it" if inside else
                           f"is not on {disk.describe(index)}" if index is not None else
                           "is on no partition the entry's device can be pointed at"))
    verdict = Verdict(vid, "problem", f"{message}; {right} is on {disk.describe(index)}",
                      fix=REPAIR.format(target="TARGET"))
    verdict.repoint = Repoint(target.guid, target.label, "path", PATH, value, right, index)
    return verdict


def _file_verdicts(store: BcdStore, disk: BootDisk, target: _Target,
                   resolved: dict[int, int | None], fix: str, uefi: bool) -> list[Verdict]:
    """`path` on the `device` partition and `systemroot` on the `osdevice` partition; a `path`
    for the other firmware."""
    out: list[Verdict] = []
    obj = store.get(target.guid)
    device_elem = obj.elements.get(DEVICE)
    inside = device_elem is not None and _in_image(device_elem)
    checks = [(PATH, DEVICE, "path")]
    if target.role == "loader":
        checks.append((SYSTEMROOT, OSDEVICE, "systemroot"))
    for code, where_code, name in checks:
        index = resolved.get(where_code)
        value = _value(store, target.guid, code)
        if code == PATH and value is None and target.role == "bootmgr":
            value = UEFI_BOOTMGR if uefi else BIOS_BOOTMGR
        if code == PATH and isinstance(value, str):
            mismatch = _firmware_verdict(disk, target, value, index, inside, uefi)
            if mismatch is not None:
                out.append(mismatch)
                continue
        if index is None or not isinstance(value, str) or inside:
            continue          # device problems are reported once; image files are inside
        vid = f"boot-file.{target.label}.{name}"
        if not disk.readable(index):
            out.append(Verdict(vid, "unknown", f"{name} of {target.label}: {value} cannot be "
                               f"looked up: bcdtool cannot read {disk.describe(index)}"))
            continue
        if name == "systemroot":
            present = disk.has_systemroot(index, value)
            shown = f"{value} ({value.rstrip(chr(92))}\\{SYSTEM_HIVE})"
        else:
            present = disk.has_file(index, value)
            shown = value
        if present:
            out.append(Verdict(vid, "ok", f"{name} of {target.label}: {shown} is on "
                               f"{disk.describe(index)}"))
            continue
        elsewhere = disk.holding(value, systemroot=name == "systemroot")
        hint = f"; it is on {', '.join(disk.describe(i) for i in elsewhere)}" if elsewhere \
            else ""
        out.append(Verdict(vid, "problem", f"{name} of {target.label}: {shown} is not on "
                           f"{disk.describe(index)}{hint} (boot error 0xc0000034 / "
                           "0xc000000f)", fix=fix if elsewhere else
                           f"restore {value} on {disk.describe(index)} (from the Windows "
                           "installation media, or `bcdboot` in Windows RE)"))
    return out


def _inside_image(store: BcdStore, target: _Target, out: list[Verdict]) -> None:
    """The loader inside a ramdisk (WinRE's Winre.wim, setup's boot.wim) or a native-boot VHD:
    reported on the device's verdict, not checked.  bcdtool reads no WIM or nested virtual disk,
    and checking one with another tool means copying the image out first (bcdtool writes nothing
    outside the target), so the note gives the commands."""
    elem = store.get(target.guid).elements.get(DEVICE)
    path = _value(store, target.guid, PATH)
    if elem is None or not _in_image(elem) or not isinstance(path, str):
        return
    device = elem.value()
    if isinstance(device, RamdiskDevice):
        install = "" if shutil.which("wimlib-imagex") else \
            " (wimlib-imagex is not installed here; Debian: apt-get install wimtools)"
        what = "WIM image"
        step = (f"to check it, copy {device.path} out of its partition (mcopy, or ntfscat for "
                f"NTFS) and list it: wimlib-imagex dir COPY 1 --path='{path}'{install}")
    else:
        what = "virtual disk"
        step = (f"to check it, copy {device.path} out of its partition and run bcdtool doctor "
                "on the copy")
    said = f"{path} inside the {what} is not looked into"
    for verdict in out:
        if verdict.id == f"boot-device.{target.label}.device":
            verdict.notes.append(f"path {path} is inside the {what} {device.path}, which "
                                 f"bcdtool does not look into; {step}")
            if verdict.status == "ok":
                verdict.message += f" ({said})"


def _in_image(elem) -> bool:
    """The device is a ramdisk or a VHD: `path` and `systemroot` are inside the image."""
    try:
        return isinstance(elem.value(), (RamdiskDevice, VhdDevice))
    except BcdToolError:
        return False
