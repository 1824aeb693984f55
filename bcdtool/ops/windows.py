"""Recipes layer: the SYSTEM-hive repairs of a TARGET's Windows (crash dump on NMI, SAC helper)
through the same plan → backup → write → verify path as BCD edits; reading the facts is in
ops/windows_facts.py (no write path)."""

from __future__ import annotations

from bcdtool.errors import BcdToolError
from bcdtool.ops.recipe import EditResult, WriteOptions, run_on_hive
from bcdtool.windows import edits, volumes
from bcdtool.windows.hives import open_windows_hive


def _edit_system(spec: str, operation: str, planner, opts: WriteOptions, *,
                 partition: int | None) -> EditResult:
    """Run a SYSTEM-hive recipe: `planner(hive)` lists the changes, staged by windows.edits."""
    def recipe(hive, notices):
        changes = planner(hive)
        return edits.apply(hive, changes), [c.to_json() for c in changes]

    return run_on_hive(lambda read_only: open_windows_hive(spec, "SYSTEM", read_only=read_only,
                                                           partition=partition),
                       operation, recipe, opts)


def crashdump_enable(spec: str, *, dump_file: str | None = None, ram_bytes: int | None = None,
                     dry_run: bool = False, backup_dir=None, backup=None,
                     read_only: bool = False, partition: int | None = None,
                     audit_log=None) -> EditResult:
    """CrashDumpEnabled, NMICrashDump=1 and DumpFile in every active control set."""
    result = _edit_system(spec, "windows crashdump enable",
                          lambda hive: edits.crashdump(hive, dump_file),
                          WriteOptions(dry_run=dry_run, backup_dir=backup_dir, backup=backup,
                                       read_only=read_only, audit_log=audit_log),
                          partition=partition)
    result.notices.append(space_note(spec, ram_bytes))
    return result


def sac_enable(spec: str, *, dry_run: bool = False, backup_dir=None, backup=None,
               read_only: bool = False, partition: int | None = None,
               audit_log=None) -> EditResult:
    """Put a disabled sacsvr back to manual start in every active control set."""
    return _edit_system(spec, "windows sac enable", edits.sac,
                        WriteOptions(dry_run=dry_run, backup_dir=backup_dir, backup=backup,
                                     read_only=read_only, audit_log=audit_log),
                        partition=partition)


def space_note(spec: str, ram_bytes: int | None) -> str:
    """Whether the Windows volume has room for a dump as large as the VM's RAM, or why that
    cannot be told (the free space costs a read of the volume's cluster bitmap)."""
    if ram_bytes is None:
        return ("cannot tell whether a complete dump fits: the VM's memory size is unknown "
                "(pass --ram); a complete dump needs free space about the size of RAM")
    try:
        windows = [v for v in volumes.scan(spec, free_space=True) if v.windows]
    except BcdToolError:
        windows = []
    free = windows[0].free_bytes if windows else None
    if free is None:
        return ("cannot tell whether a complete dump fits: the Windows volume's free space is "
                "unknown")
    if free < ram_bytes:
        return (f"warning: the Windows volume has {_size(free)} free, less than the VM's "
                f"{_size(ram_bytes)} of memory: a complete dump will not fit")
    return f"the Windows volume has {_size(free)} free, enough for a {_size(ram_bytes)} dump"


def _size(count: float) -> str:
    if count < 1024:
        return f"{int(count)} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        count /= 1024
        if count < 1024 or unit == "GiB":
            break
    return f"{count:.1f} {unit}"
