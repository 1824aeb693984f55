"""Windows layer: registry edits of the SYSTEM hive, planned from what it holds (pure).

`crashdump` makes an NMI (sent from the serial console or the hypervisor) write a memory dump;
`sac` puts a disabled Special Administration Console Helper back to its default start type.
Each plan lists only what differs, in every active control set, so applying it twice changes
nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass

from bcdtool.errors import NotFoundError
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.hive import Hive
from bcdtool.regf.values import REG_DWORD, REG_EXPAND_SZ, encode_value, type_name
from bcdtool.windows.facts import (SACSVR_DEFAULT_START, control_sets, crash_control,
                                   service)

#: Kernel memory dump: small enough for most page files and enough to debug a hang.
KERNEL_DUMP = 2
DEFAULT_DUMP_FILE = r"%SystemRoot%\MEMORY.DMP"


@dataclass(frozen=True)
class HiveChange:
    """One value to set: key path, value name, registry type, old (None: absent) and new."""

    key: str
    name: str
    type: int
    old: object
    new: object

    def to_json(self) -> dict:
        """The JSON object of this change."""
        return {"key": self.key, "value": self.name, "type": type_name(self.type),
                "old": self.old, "new": self.new}

    def text(self) -> str:
        """One line: key\\value: old -> new."""
        old = "(absent)" if self.old is None else repr(self.old)
        return f"{self.key}\\{self.name}: {old} -> {self.new!r}"


def crashdump(system: Hive, dump_file: str | None = None) -> list[HiveChange]:
    """Changes for CrashDumpEnabled (kept when already on), NMICrashDump=1 and DumpFile."""
    changes = []
    for cs in control_sets(system).active:
        now = crash_control(system, cs)
        if not now.crash_dump_enabled:
            changes.append(HiveChange(now.key, "CrashDumpEnabled", REG_DWORD,
                                      now.crash_dump_enabled, KERNEL_DUMP))
        if now.nmi_crash_dump != 1:
            changes.append(HiveChange(now.key, "NMICrashDump", REG_DWORD, now.nmi_crash_dump, 1))
        wanted = dump_file or now.dump_file or DEFAULT_DUMP_FILE
        if now.dump_file != wanted:
            changes.append(HiveChange(now.key, "DumpFile", REG_EXPAND_SZ, now.dump_file, wanted))
    return changes


def sac(system: Hive) -> list[HiveChange]:
    """Changes putting a disabled `sacsvr` back to manual start (NotFoundError if it is absent)."""
    changes = []
    for cs in control_sets(system).active:
        svc = service(system, cs, "sacsvr")
        if not svc.present:
            raise NotFoundError(f"the sacsvr service is not installed in {cs} (SAC exists on "
                                "Windows Server only; on Server, add the Emergency Management "
                                "Services feature from Windows)", path=system.name or None)
        if svc.disabled:
            changes.append(HiveChange(svc.key, "Start", REG_DWORD, svc.start,
                                      SACSVR_DEFAULT_START))
    return changes


def apply(hive: Hive, changes: list[HiveChange]) -> HiveEditor:
    """An editor over `hive` with `changes` staged (keys created where missing)."""
    editor = HiveEditor(hive)
    for change in changes:
        editor.create_key(change.key)
        editor.set_value(change.key, change.name, change.type,
                         encode_value(change.type, change.new))
    return editor
