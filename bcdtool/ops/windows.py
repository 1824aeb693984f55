"""Recipes layer: offline Windows facts of a TARGET, and the SYSTEM-hive repairs (crash dump on
NMI, SAC helper) through the same plan → backup → write → verify path as BCD edits."""

from __future__ import annotations

from dataclasses import dataclass, field

from bcdtool.errors import BcdToolError, NotFoundError
from bcdtool.locate import open_hive
from bcdtool.locate.detect import HIVE, detect_kind
from bcdtool.ops.recipe import EditResult, WriteOptions, run_on_hive
from bcdtool.windows import edits, facts, volumes


@dataclass
class WindowsFacts:
    """What could be read about the Windows installation on a target (None: not found)."""

    system_location: dict | None = None
    software_location: dict | None = None
    edition: facts.Edition | None = None
    control_sets: facts.ControlSets | None = None
    crash: list[facts.CrashControl] = field(default_factory=list)
    services: list[facts.Service] = field(default_factory=list)
    fast_startup: bool | None = None
    system_dirty: bool = False          # SYSTEM was dirty; its logs were replayed in memory
    volumes: list[volumes.VolumeInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """The JSON object of these facts."""
        return {"system": self.system_location, "software": self.software_location,
                "edition": self.edition.to_json() if self.edition else None,
                "control_sets": self.control_sets.__dict__ if self.control_sets else None,
                "crash_control": [c.to_json() for c in self.crash],
                "services": [s.to_json() for s in self.services],
                "fast_startup": self.fast_startup, "system_dirty": self.system_dirty,
                "volumes": [v.to_json() for v in self.volumes], "notes": self.notes}


def open_windows_hive(spec: str, which: str, *, read_only: bool = True,
                      partition: int | None = None):
    """A target handle on the SYSTEM or SOFTWARE hive of the Windows volume of `spec` (a hive
    file given directly is taken as that hive)."""
    path = facts.SYSTEM_PATH if which == "SYSTEM" else facts.SOFTWARE_PATH
    if detect_kind(spec) == HIVE:
        return open_hive(spec, read_only=read_only, kind="hive")
    return open_hive(spec, partition=partition, path=path, read_only=read_only, kind="hive")


def gather(spec: str, *, partition: int | None = None) -> WindowsFacts:
    """Everything readable about the Windows on `spec`; what cannot be read becomes a note."""
    out = WindowsFacts()
    try:
        out.volumes = volumes.scan(spec)
    except BcdToolError as exc:
        out.notes.append(f"volumes not scanned: {exc}")
    if detect_kind(spec) == HIVE:
        _hive_file(spec, out)
        return out
    system = software = None
    try:
        with open_windows_hive(spec, "SYSTEM", partition=partition) as handle:
            system = handle.hive
            out.system_location = handle.location
            out.system_dirty = bool(getattr(system, "recovered", False))
    except BcdToolError as exc:
        out.notes.append(f"no SYSTEM hive: {exc}")
    try:
        with open_windows_hive(spec, "SOFTWARE", partition=partition) as handle:
            software = handle.hive
            out.software_location = handle.location
    except BcdToolError as exc:
        out.notes.append(f"no SOFTWARE hive: {exc}")
    if system is None and software is None:
        return out
    out.edition = facts.edition(software, system)
    if system is not None:
        _system_facts(system, out)
    return out


def _hive_file(spec: str, out: WindowsFacts) -> None:
    """A lone hive file: facts only when it is a SYSTEM hive (it has `Select`)."""
    try:
        with open_windows_hive(spec, "SYSTEM") as handle:
            handle.hive.key("Select")
            system, out.system_location = handle.hive, handle.location
    except BcdToolError:
        out.notes.append("the target is a single hive file, not a Windows volume: no SYSTEM or "
                         "SOFTWARE hive to read")
        return
    out.edition = facts.edition(None, system)
    _system_facts(system, out)


def _system_facts(system, out: WindowsFacts) -> None:
    try:
        out.control_sets = facts.control_sets(system)
    except NotFoundError as exc:
        out.notes.append(str(exc))
        return
    for cs in out.control_sets.active:
        out.crash.append(facts.crash_control(system, cs))
        out.services.extend(facts.service(system, cs, name) for name in ("sacdrv", "sacsvr"))
    out.fast_startup = facts.fast_startup(system, out.control_sets.current)


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
