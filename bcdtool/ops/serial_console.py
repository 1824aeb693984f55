"""Recipes layer: the Windows serial console (EMS/SAC) in one verified step.

Microsoft's procedure is `bcdedit /ems {default} on`, `/emssettings EMSPORT:1 EMSBAUDRATE:115200`,
`/bootems {bootmgr} on`, `/set {bootmgr} displaybootmenu yes`, `/timeout 5`, and kernel debugging
off (the debugger owns the port, so typing at the SAC prompt does nothing).  Here each of those is
a `Check` — an element expected on an object, judged by its *effective* value through the
inherit chain — and `enable` stages only what is not already so, then commits through the target
layer (plan, backup journal, write, verify).  A second run finds nothing to change and writes
nothing.
"""

from __future__ import annotations

from bcdtool.bcd.settings import ensure_settings
from bcdtool.bcd.store import BcdStore
from bcdtool.ops.recipe import EditResult, WriteOptions, run_on_store
from bcdtool.ops.serial_checks import (BOOTMGR, DEFAULTS, EMS_LIBRARY, SerialOptions, checks,
                                       default_note, element_code, loaders)


def stage(store: BcdStore, opts: SerialOptions, notices: list[str]) -> None:
    """Stage every missing setting on `store` (nothing when all are already right)."""
    pending = [c for c in checks(store, opts) if not c.ok]
    if any(c.name in EMS_LIBRARY for c in pending):
        # bcdedit /emssettings writes {emssettings}; loaders and {bootmgr} inherit from it.
        edited = loaders(store, opts.loaders) + \
            ([BOOTMGR] if store.has(BOOTMGR) and opts.bootems else [])
        ems = ensure_settings(store, "{emssettings}", notices, reach=edited)
        for name, value in (("emsport", opts.port), ("emsbaudrate", opts.baud)):
            if store.get(ems).value_of(element_code(store, ems, name)) != value:
                store.set_element(ems, element_code(store, ems, name), value)
    for check in checks(store, opts):
        if check.ok:
            continue
        # Still wrong after {emssettings}: the object overrides it or cannot reach it.
        store.set_element(check.guid, element_code(store, check.guid, check.name), check.expected)
        if check.name in EMS_LIBRARY:
            notices.append(f"{check.label} does not take {check.name} from {{emssettings}}; "
                           "set it on the object itself")


def enable(spec: str, opts: SerialOptions = DEFAULTS, *, dry_run: bool = False,
           backup_dir=None, backup=None, read_only: bool = False, partition: int | None = None,
           path: str | None = None, audit_log=None, backend: str = "native") -> EditResult:
    """Turn the serial console on in the store of `spec` through the recipe runner (stage, then
    back up, write, verify, audit; `backup`: also copy the original store bytes there)."""
    def recipe(store: BcdStore, notices: list[str]) -> None:
        note = default_note(store, opts.loaders)
        if note:
            notices.append(note)
        stage(store, opts, notices)

    return run_on_store(spec, "serial-console enable", recipe,
                        WriteOptions(dry_run=dry_run, backup_dir=backup_dir, backup=backup,
                                     read_only=read_only, audit_log=audit_log),
                        partition=partition, path=path, backend=backend)
