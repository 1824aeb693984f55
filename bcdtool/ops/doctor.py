"""Recipes layer: `doctor` — will this disk boot, and will its serial console work?

One finding per known failure mode, in the shape `linux check` uses (bcdtool.report): for Windows,
whether the store describes this disk (ops/bootcheck.py: every device of the boot objects names a
partition of this disk holding the files it loads, every reference names an object that exists,
the store is the one firmware reads), the BCD settings of the serial-console recipe judged by
their effective values, the edition (SAC exists on Server only), the SAC driver and helper
service, crash dump on NMI, dirty stores, several stores, BitLocker and hibernation.  A disk
without a BCD store is handed to the Linux checks.  Everything is read-only.
"""

from __future__ import annotations

import shlex

from bcdtool.bcd import objects
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import BcdToolError, InvalidArgumentError, NotFoundError
from bcdtool.fs.base import read_extents
from bcdtool.limits import MAX_BCD_BYTES, MAX_BCD_HIVE_BYTES
from bcdtool.linux.root import open_guest
from bcdtool.linux.rules import evaluate
from bcdtool.linux.sources import default_device, read_guest
from bcdtool.locate.discover import BIOS_STORE, UEFI_STORE
from bcdtool.ops import bootcheck
from bcdtool.ops import serial_checks as sc
from bcdtool.ops.bootdisk import BootDisk
from bcdtool.ops.forensic_rules import doctor_finding
from bcdtool.ops.store import open_store
from bcdtool.ops.windows_facts import gather
from bcdtool.regf.hive import Hive, stored_length
from bcdtool.report import Evidence, Finding, Report
from bcdtool.windows import facts as wfacts


def diagnose(spec: str, *, baud: int = 115200, partition: int | None = None,
             path: str | None = None, other_disks: tuple[str, ...] = ()) -> Report:
    """Every finding about the serial console of `spec` (Windows or Linux); `other_disks`: the
    machine's other disks, where the store's devices may point (read-only)."""
    try:
        handle, store = open_store(spec, read_only=True, partition=partition, path=path)
    except NotFoundError as exc:
        return _not_windows(spec, exc, partition)
    with handle:
        report = Report(extra={"system": "windows", "store": handle.location})
        where = _where(handle.location)
        report.findings.append(Finding("bcd-store", "ok", f"BCD store: {handle.description}",
                                       (Evidence(where),)))
        target = shlex.quote(spec) + (f" --partition {partition}" if partition else "") \
            + (f" --path {shlex.quote(path)}" if path else "")
        report.findings.extend(disk_findings(spec, target, store, handle.location, where,
                                             other_disks))
        report.findings.extend(_store_findings(target, store, where, baud))
        security = doctor_finding(target, store)
        if security is not None:
            report.findings.append(security)
    report.findings.extend(windows_findings(spec, handle.location, partition=None,
                                            other_disks=other_disks))
    return report


def disk_findings(spec: str, target: str, store, location: dict, where: str,
                  other_disks: tuple[str, ...] = ()) -> list[Finding]:
    """Does the store describe the disk it is on (and the `other_disks` of the machine)?  One
    finding per boot element (bootcheck), and whether it is the store firmware reads; a store
    outside a disk cannot be checked."""
    if location.get("kind") not in ("image", "device"):
        if other_disks:
            raise InvalidArgumentError("--other-disk checks where a disk's store points: give "
                                       "the disk or image holding the store as TARGET, not "
                                       f"the {location.get('kind')}", path=spec)
        return [Finding("boot-disk", "unknown", f"the target is a {location.get('kind')}, not a "
                        "disk: device elements are not checked against partitions (run doctor "
                        "on the disk or image)", (Evidence(where),))]
    try:
        disk = BootDisk(spec, other_disks)
    except BcdToolError as exc:
        if exc.path in other_disks:
            raise                   # an --other-disk the user must correct
        return [Finding("boot-disk", "unknown", f"the disk could not be read: {exc}",
                        (Evidence(where),))]
    with disk:
        if disk.layout is None:
            return [Finding("boot-disk", "unknown", "the disk has no MBR or GPT partition "
                            "table: device elements are not checked", (Evidence(where),))]
        part = location.get("partition") or None
        out = [Finding(v.id, v.status, v.message,
                       tuple(Evidence(where, note=n) for n in v.notes) or (Evidence(where),),
                       v.fix.replace("TARGET", target) if v.fix else None)
               for v in bootcheck.check(store, disk, part, target)]
        out.extend(_firmware_store(disk, location, where, target))
        out.extend(Finding("boot-disk.note", "warning", note, (Evidence(spec),))
                   for note in disk.notes)
    return out


def firmware_store(disk: BootDisk) -> tuple[int, str] | None:
    """(partition, path) of the store this disk's firmware reads: GPT — the EFI system
    partition's EFI/Microsoft/Boot/BCD; MBR — the active partition's Boot/BCD (or an MBR ESP's)."""
    if disk.table.scheme == "gpt":
        order = [(p.index, UEFI_STORE) for p in disk.partitions if p.is_esp]
    else:
        order = [(p.index, BIOS_STORE) for p in disk.partitions if p.active]
        order += [(p.index, UEFI_STORE) for p in disk.partitions if p.is_esp and not p.active]
    return order[0] if order else None


def _store_bytes(disk: BootDisk, index: int, rel: str) -> bytes | None:
    volume = disk.volume(index)
    try:
        ref = volume.find(rel) if volume is not None else None
        if ref is None or ref.size > MAX_BCD_BYTES:
            return None
        # the hive's own bytes (base block and declared bins), never the slack after them
        length = stored_length(read_extents(volume.dev, ref, 0, 512), ref.size)
        return None if length > MAX_BCD_HIVE_BYTES else read_extents(volume.dev, ref, 0, length)
    except BcdToolError:
        return None


def _store_content(data: bytes | None) -> dict | None:
    """What a store says — each object's type and element bytes — without the hive's own
    bookkeeping (timestamps, sequence numbers, cell layout), so equal stores compare equal."""
    if data is None:
        return None
    try:
        store = BcdStore(Hive.from_bytes(data))
    except BcdToolError:
        return None
    return {o.guid: (o.type, {code: e.raw for code, e in o.elements.items()})
            for o in store.objects()}


def _firmware_store(disk: BootDisk, location: dict, where: str, target: str) -> list[Finding]:
    """Is this the store firmware reads; with several stores, which one and do copies differ."""
    fw = firmware_store(disk)
    used = (location.get("partition"), str(location.get("path", "")).lower())
    gpt = disk.table.scheme == "gpt"
    kind = "EFI system partition" if gpt else "active partition"
    new_store = f"bcdtool new-store BCD --firmware {'uefi' if gpt else 'bios'} --disk {target}"
    if fw is None:
        out = [Finding("boot-store.firmware", "problem", f"the disk has no {kind}: firmware "
                       "finds no boot manager and no store", (Evidence(where),),
                       f"mark the system partition ({'ESP type' if gpt else 'active'}) with "
                       "sfdisk, then check again")]
    elif _store_bytes(disk, fw[0], fw[1]) is None:
        out = [Finding("boot-store.firmware", "problem", f"firmware reads {fw[1]} on "
                       f"{disk.describe(fw[0])} (the {kind}), and it is not there; the store "
                       "checked here is not the one that boots", (Evidence(where),),
                       f"{new_store}, then copy BCD to {fw[1]} on partition {fw[0]}")]
    elif (fw[0], fw[1].lower()) != used:
        out = [Finding("boot-store.firmware", "warning", f"this store is not the one firmware "
                       f"reads: that is {fw[1]} on {disk.describe(fw[0])}", (Evidence(where),),
                       f"bcdtool doctor {target} (without --partition/--path)")]
    else:
        out = [Finding("boot-store.firmware", "ok", f"the store is the one firmware reads "
                       f"({fw[1]} on the {kind}, {disk.describe(fw[0])})", (Evidence(where),))]
    copies = [(p.index, rel) for p in disk.partitions for rel in (UEFI_STORE, BIOS_STORE)
              if disk.has_file(p.index, rel)]
    if len(copies) > 1 and fw is not None:
        mine = _store_content(_store_bytes(disk, *fw))
        differ = [c for c in copies if c != fw
                  and (mine is None or _store_content(_store_bytes(disk, *c)) != mine)]
        evidence = tuple(Evidence(f"{disk.spec}:partition {i}:{rel}",
                                  note="differs" if (i, rel) in differ else "same objects")
                         for i, rel in copies if (i, rel) != fw)
        out.append(Finding(
            "boot-store.copies", "warning" if differ else "ok",
            f"{len(copies)} stores; firmware uses {fw[1]} on partition {fw[0]}; "
            + (f"{len(differ)} other cop{'y differs' if len(differ) == 1 else 'ies differ'} "
               "(edits there do not change how this disk boots)" if differ else
               "the other copies say the same"), evidence))
    return out


def _where(location: dict) -> str:
    part = location.get("partition")
    inside = f"partition {part}:" if part else ""
    return f"{location.get('target')}:{inside}{location.get('path')}"


def _fix(target: str, extra: str = "") -> str:
    return f"bcdtool serial-console enable {target}{extra}"


def _note(check: sc.Check) -> str:
    via = "" if check.source in (None, check.guid) else \
        f" (inherited from {objects.alias_of(check.source) or check.source})"
    return f"{check.label} {check.name} = {_show(check.effective)}{via}; expected " \
           f"{_show(check.expected)}"


def _show(value) -> str:
    if value is None:
        return "(absent)"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def _store_findings(spec: str, store, where: str, baud: int) -> list[Finding]:
    """Findings of the store itself; `spec` is the target as fix commands name it."""
    out: list[Finding] = []
    if getattr(store.hive, "recovered", False):
        out.append(Finding(
            "store-dirty", "warning", "the store is dirty: its transaction logs hold changes "
            "not yet in the file (tools that ignore the logs lose them; bcdtool replays them)",
            (Evidence(where, note="; ".join(store.hive.notices)),),
            "boot Windows once, or let bcdtool write the store (it writes the recovered state "
            "and neutralises the logs)"))
    try:
        loader_checks = sc.checks(store, sc.SerialOptions(baud=baud, loaders="default"))
    except BcdToolError as exc:
        return out + [Finding("default-loader", "problem", str(exc), (Evidence(where),),
                              f"bcdtool bcdedit --store {spec} /default {{id}}")]
    by = {(c.label, c.name): c for c in loader_checks}
    label = loader_checks[0].label       # {default}, or the loader the boot manager falls back to
    ems = by[(label, "ems")]
    out.append(_verdict(
        "ems-loader", ems.ok, "EMS is on for the default loader",
        "EMS is off on the default loader: the console shows only health information and "
        "pressing Enter does nothing", [ems], where, _fix(spec)))
    port, speed = by[(label, "emsport")], by[(label, "emsbaudrate")]
    port_ok = isinstance(port.effective, int) and 1 <= port.effective <= 4
    out.append(_verdict(
        "ems-port", port_ok and speed.ok, f"EMS uses COM{port.effective} at {speed.effective}",
        "no EMS port" if not port_ok else f"EMS speed {speed.effective} is not {baud}: the "
        "console shows garbage", [port, speed], where, _fix(spec, f" --baud {baud}")))
    debug = by.get((label, "debug"))
    if debug is not None:
        out.append(_verdict(
            "kernel-debug", debug.ok, "kernel debugging is off",
            "kernel debugging is on: the debugger owns the port and typing at the SAC prompt "
            "does nothing", [debug], where, _fix(spec)))
    if ("{bootmgr}", "bootems") in by:
        bootems = by[("{bootmgr}", "bootems")]
        out.append(_verdict(
            "bootems", bootems.ok, "the boot manager redirects to the serial console",
            "the boot manager does not use EMS: its menu and errors never reach the serial "
            "console", [bootems], where, _fix(spec)))
        menu, timeout = by[("{bootmgr}", "displaybootmenu")], by[("{bootmgr}", "timeout")]
        menu_ok = menu.effective is True and isinstance(timeout.effective, int) \
            and timeout.effective > 0
        out.append(_verdict(
            "boot-menu", menu_ok, f"the boot menu shows for {timeout.effective} s",
            "the boot menu is hidden or its timeout is 0: safe mode cannot be chosen over the "
            "serial console", [menu, timeout], where, _fix(spec)))
    return out


def _verdict(fid: str, ok: bool, good: str, bad: str, checks: list[sc.Check], where: str,
             fix: str) -> Finding:
    evidence = tuple(Evidence(where, note=_note(c)) for c in checks)
    return Finding(fid, "ok" if ok else "problem", good if ok else bad, evidence,
                   None if ok else fix)


def windows_findings(spec: str, store_location: dict | None, *,
                     partition: int | None = None,
                     other_disks: tuple[str, ...] = ()) -> list[Finding]:
    """Findings from the installed Windows and the disk's volumes; when `spec` holds no Windows
    (a disk with only the store), from the first of `other_disks` that does."""
    found = gather(spec, partition=partition)
    for other in other_disks:
        if found.system_location or found.software_location:
            break
        elsewhere = gather(other)
        if elsewhere.system_location or elsewhere.software_location:
            spec, found, store_location = other, elsewhere, None
    target = shlex.quote(spec)
    out: list[Finding] = []
    system_file = _where(found.system_location) if found.system_location else "SYSTEM"
    software_file = _where(found.software_location) if found.software_location else "SOFTWARE"
    ed = found.edition
    if ed is None or found.software_location is None or ed.is_server is None:
        # Without SOFTWARE the edition is unknown: SYSTEM's ProductType alone is not trusted to
        # call an installation a client (and the message would name no product).
        seen = f" (SYSTEM says ProductType={ed.product_type!r})" if ed and ed.product_type \
            else ""
        out.append(Finding("windows-edition", "unknown", "the Windows edition could not be read "
                           f"(no SOFTWARE hive on this target){seen}",
                           tuple(Evidence(spec, note=n) for n in found.notes)))
    else:
        note = f"ProductName={ed.product_name!r} EditionID={ed.edition_id!r} " \
               f"InstallationType={ed.installation_type!r} ProductType={ed.product_type!r}"
        out.append(Finding(
            "windows-edition", "ok" if ed.is_server else "problem",
            f"{ed.product_name}: a Server edition, SAC is available" if ed.is_server else
            f"{ed.product_name} is a client edition: SAC exists on Windows Server only, so EMS "
            "settings alone give no SAC prompt (the console shows boot output only)",
            (Evidence(software_file, note=note),),
            None if ed.is_server else "use a Server edition for SAC; on a client, use the "
            "hypervisor's console or a network login"))
    if ed is not None and ed.is_server is not False:
        out.extend(_service_findings(target, found, system_file))
    for crash in found.crash:
        out.append(Finding(
            "crash-dump-nmi", "ok" if crash.nmi_ready else "warning",
            "an NMI writes a crash dump" if crash.nmi_ready else
            "an NMI from the serial console or hypervisor will not write a crash dump",
            (Evidence(system_file, note=f"{crash.key}: CrashDumpEnabled="
                      f"{crash.crash_dump_enabled} NMICrashDump={crash.nmi_crash_dump}"),),
            None if crash.nmi_ready else f"bcdtool windows crashdump enable {target}"))
    out.extend(_volume_findings(spec, found, store_location))
    return out


def _service_findings(target: str, found, system_file: str) -> list[Finding]:
    out = []
    for svc in found.services:
        ok = svc.present and not svc.disabled
        what = {"sacdrv": "the SAC driver (sacdrv)",
                "sacsvr": "the Special Administration Console Helper (sacsvr)"}[svc.name]
        if svc.name == "sacsvr":
            consequence = "without it SAC cannot open cmd channels"
            fix = f"bcdtool windows sac enable {target}" if svc.present else \
                "add the Emergency Management Services feature from Windows"
        else:
            consequence = "without it there is no SAC at all"
            fix = ("restore the driver's Start value from a healthy Server of the same build"
                   if svc.present else
                   "add the Emergency Management Services feature from Windows")
        state = "not installed" if not svc.present else \
            f"Start={svc.start} ({wfacts.START_NAMES.get(svc.start, '?')})"
        out.append(Finding(
            f"sac-{svc.name}", "ok" if ok else "problem",
            f"{what} is installed and not disabled" if ok else
            f"{what} is {'disabled' if svc.present else 'missing'}: {consequence}",
            (Evidence(system_file, note=f"{svc.key}: {state}"),), None if ok else fix))
    return out


def _volume_findings(spec: str, found, store_location: dict | None) -> list[Finding]:
    out = []
    locked = [v for v in found.volumes if v.bitlocker]
    out.append(Finding(
        "bitlocker", "warning" if locked else "ok",
        "BitLocker-encrypted volume(s): bcdtool cannot read or write them, and changing BCD "
        "settings of a BitLocker system can ask for the recovery key at the next boot"
        if locked else "no BitLocker-encrypted volume",
        tuple(Evidence(f"{spec}:partition {v.index}", note="BitLocker") for v in locked),
        "have the BitLocker recovery key ready, or suspend BitLocker from Windows first"
        if locked else None))
    hibernated = [v for v in found.volumes if v.hibernated]
    fast = found.fast_startup
    if hibernated:
        status, message = "problem", ("Windows is hibernated: it will resume the saved session, "
                                      "and bcdtool refuses to write to the volume")
    elif fast:
        status, message = "warning", ("Fast Startup is on: a shutdown hibernates the kernel "
                                      "session, and offline edits of the Windows volume can be "
                                      "lost")
    else:
        status, message = "ok", "no hibernated volume, Fast Startup off or unknown"
    evidence = [Evidence(f"{spec}:partition {v.index}:hiberfil.sys", note="active hibernation "
                         "file") for v in hibernated]
    if fast:
        evidence.append(Evidence("SYSTEM", note="Control\\Session Manager\\Power "
                                 "HiberbootEnabled=1"))
    out.append(Finding("hibernation", status, message, tuple(evidence),
                       None if status == "ok" else "boot Windows and shut it down fully "
                       "(shutdown /s /t 0), and turn Fast Startup off (powercfg /h off)"))
    stores = [(v.index, rel) for v in found.volumes for rel in v.stores]
    if len(stores) > 1:
        chosen = f"{store_location.get('path')} on partition {store_location.get('partition')}" \
            if store_location else "unknown"
        out.append(Finding(
            "multiple-stores", "warning",
            f"{len(stores)} BCD stores on this disk; firmware uses {chosen}, and bcdtool edits "
            "that one (choose another with --partition/--path)",
            tuple(Evidence(f"{spec}:partition {i}:{rel}") for i, rel in stores)))
    elif stores:
        out.append(Finding("multiple-stores", "ok", "one BCD store on this disk",
                           (Evidence(f"{spec}:partition {stores[0][0]}:{stores[0][1]}"),)))
    return out


def _not_windows(spec: str, exc: NotFoundError, partition: int | None) -> Report:
    """No BCD store: check the target as a Linux guest when that layer is available."""
    try:
        guest = read_guest(open_guest(spec, partition=partition))
    except BcdToolError as linux_exc:
        raise NotFoundError(f"neither a Windows BCD store ({exc.message}) nor a Linux root "
                            f"({linux_exc}) was found", path=spec) from None
    report = evaluate(guest, default_device(guest))
    report.extra.update(system="linux")
    return report
