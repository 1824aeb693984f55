"""Operations layer: offline facts of the Windows on a TARGET (edition, control sets, crash-dump
settings, SAC services, volumes), read without the write path; the repairs are in
ops/windows.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from bcdtool.errors import BcdToolError, NotFoundError
from bcdtool.locate.detect import HIVE, detect_kind
from bcdtool.windows import facts, volumes
from bcdtool.windows.hives import open_windows_hive


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
                "control_sets": self.control_sets._asdict() if self.control_sets else None,
                "crash_control": [c.to_json() for c in self.crash],
                "services": [s.to_json() for s in self.services],
                "fast_startup": self.fast_startup, "system_dirty": self.system_dirty,
                "volumes": [v.to_json() for v in self.volumes], "notices": self.notes}


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
