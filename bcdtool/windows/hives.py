"""Windows layer: open the SYSTEM or SOFTWARE hive of the Windows on a TARGET (a disk, a
folder, or the hive file itself), for the facts, the boot checks and the repairs alike."""

from __future__ import annotations

from bcdtool.locate import open_hive
from bcdtool.locate.detect import HIVE, detect_kind
from bcdtool.windows.facts import SOFTWARE_PATH, SYSTEM_PATH


def open_windows_hive(spec: str, which: str, *, read_only: bool = True,
                      partition: int | None = None):
    """A target handle on the SYSTEM or SOFTWARE hive of the Windows volume of `spec` (a hive
    file given directly is taken as that hive)."""
    path = SYSTEM_PATH if which == "SYSTEM" else SOFTWARE_PATH
    if detect_kind(spec) == HIVE:
        return open_hive(spec, read_only=read_only, kind="hive")
    return open_hive(spec, partition=partition, path=path, read_only=read_only, kind="hive")
