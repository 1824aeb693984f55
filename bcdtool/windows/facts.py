"""Windows layer: offline facts read from the SYSTEM and SOFTWARE hives of an installed Windows.

Offline there is no CurrentControlSet: `SYSTEM\\Select` says which ControlSetNNN boots
(`Current`) and which is the fallback (`Default`, `LastKnownGood`).  SAC (the Special
Administration Console) exists on Server editions only; `sacdrv` is its driver and `sacsvr`
("Special Administration Console Helper", manual start by default) opens its `cmd` channels.
Everything here reads a `Hive` and knows nothing of BCD or of disks.
"""

from __future__ import annotations

from typing import NamedTuple

from bcdtool.errors import NotFoundError
from bcdtool.regf.hive import Hive

SYSTEM_PATH = "Windows/System32/config/SYSTEM"
SOFTWARE_PATH = "Windows/System32/config/SOFTWARE"
CURRENT_VERSION = r"Microsoft\Windows NT\CurrentVersion"
#: Service start types (Services\NAME\Start).
START_NAMES = {0: "boot", 1: "system", 2: "automatic", 3: "manual", 4: "disabled"}
DISABLED = 4
#: sacsvr's default start type ("Manual", per its service documentation).
SACSVR_DEFAULT_START = 3


def _value(hive: Hive, path: str, name: str):
    try:
        return hive.key(path).value(name).data
    except NotFoundError:
        return None


class ControlSets(NamedTuple):
    """The control sets `SYSTEM\\Select` names (key names such as ControlSet001)."""

    current: str
    default: str | None = None
    last_known_good: str | None = None

    @property
    def active(self) -> list[str]:
        """The sets a boot may use: Current, then Default when it differs."""
        return [self.current] + ([self.default] if self.default and
                                 self.default != self.current else [])


def control_sets(system: Hive) -> ControlSets:
    """The control sets named by `SYSTEM\\Select`.

    Raises:
        NotFoundError: when Select or its Current value is missing or names no existing set.
    """
    def name(value_name: str) -> str | None:
        number = _value(system, "Select", value_name)
        if not isinstance(number, int) or not 0 < number < 1000:
            return None
        candidate = f"ControlSet{number:03d}"
        try:
            system.key(candidate)
        except NotFoundError:
            return None
        return candidate

    current = name("Current")
    if current is None:
        raise NotFoundError("SYSTEM\\Select has no usable Current value: cannot tell which "
                            "control set Windows boots", path=system.name or None)
    return ControlSets(current, name("Default"), name("LastKnownGood"))


class Edition(NamedTuple):
    """What SOFTWARE (and SYSTEM's ProductOptions) say about the installed Windows."""

    product_name: str | None
    edition_id: str | None
    installation_type: str | None
    build: str | None
    product_type: str | None        # WinNT (client), ServerNT, LanmanNT (domain controller)

    @property
    def is_server(self) -> bool | None:
        """True for Server editions (SAC exists), False for clients, None when unknown."""
        if self.product_type:
            return self.product_type.lower() in ("servernt", "lanmannt")
        hints = [t for t in (self.installation_type, self.edition_id, self.product_name) if t]
        if not hints:
            return None
        return any("server" in t.lower() for t in hints)

    def to_json(self) -> dict:
        """The JSON object of this edition."""
        return {**self._asdict(), "is_server": self.is_server}


def edition(software: Hive | None, system: Hive | None = None) -> Edition:
    """Product name, edition, installation type and build (any may be None)."""
    def text(name: str) -> str | None:
        value = _value(software, CURRENT_VERSION, name) if software is not None else None
        return value if isinstance(value, str) else None

    product_type = None
    if system is not None:
        try:
            cs = control_sets(system).current
            value = _value(system, cs + r"\Control\ProductOptions", "ProductType")
            product_type = value if isinstance(value, str) else None
        except NotFoundError:
            pass
    return Edition(text("ProductName"), text("EditionID"), text("InstallationType"),
                   text("CurrentBuild") or text("CurrentBuildNumber"), product_type)


class Service(NamedTuple):
    """One service or driver in a control set."""

    name: str
    control_set: str
    present: bool
    start: int | None = None

    @property
    def disabled(self) -> bool:
        """True when present with Start = 4."""
        return self.present and self.start == DISABLED

    @property
    def key(self) -> str:
        """Its key path in the SYSTEM hive."""
        return f"{self.control_set}\\Services\\{self.name}"

    def to_json(self) -> dict:
        """The JSON object of this service."""
        return {"name": self.name, "control_set": self.control_set, "present": self.present,
                "start": self.start, "start_name": START_NAMES.get(self.start),
                "key": self.key}


def service(system: Hive, control_set: str, name: str) -> Service:
    """Whether service `name` exists in `control_set`, and its Start value."""
    try:
        key = system.key(f"{control_set}\\Services\\{name}")
    except NotFoundError:
        return Service(name, control_set, False)
    try:
        start = key.value("Start").data
    except NotFoundError:
        start = None
    return Service(name, control_set, True, start if isinstance(start, int) else None)


class CrashControl(NamedTuple):
    """`Control\\CrashControl` of one control set."""

    control_set: str
    crash_dump_enabled: int | None
    nmi_crash_dump: int | None
    dump_file: str | None

    @property
    def key(self) -> str:
        """Its key path in the SYSTEM hive."""
        return f"{self.control_set}\\Control\\CrashControl"

    @property
    def nmi_ready(self) -> bool:
        """True when an NMI (sent from the serial console or hypervisor) writes a dump."""
        return bool(self.crash_dump_enabled) and self.nmi_crash_dump == 1

    def to_json(self) -> dict:
        """The JSON object of these settings."""
        return {**self._asdict(), "key": self.key, "nmi_ready": self.nmi_ready}


def crash_control(system: Hive, control_set: str) -> CrashControl:
    """The crash-dump settings of `control_set` (None for each value that is absent)."""
    path = f"{control_set}\\Control\\CrashControl"

    def number(name: str) -> int | None:
        value = _value(system, path, name)
        return value if isinstance(value, int) else None

    dump = _value(system, path, "DumpFile")
    return CrashControl(control_set, number("CrashDumpEnabled"), number("NMICrashDump"),
                        dump if isinstance(dump, str) else None)


def fast_startup(system: Hive, control_set: str) -> bool | None:
    """Whether Fast Startup (HiberbootEnabled) is on; None when the value is absent."""
    value = _value(system, f"{control_set}\\Control\\Session Manager\\Power", "HiberbootEnabled")
    return bool(value) if isinstance(value, int) else None
