"""The repairs on a real Windows 10 SYSTEM hive (device-property types 0xFFFF00xx, ~30k keys),
as a file and inside a disk image; what they write is read back by hivex."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from fixtures.windows_hives import software_hive
from tests.helpers.common import CORPUS, need_tool
from tests.ops.ops_helpers import build_windows_disk, windows_file

from bcdtool.ops import windows as ops
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.hive import Hive

HIVE = CORPUS / "hives" / "win10-SYSTEM"
CRASH = r"ControlSet001\Control\CrashControl"
SACSVR = r"ControlSet001\Services\sacsvr"


@pytest.fixture
def win10():
    if not HIVE.is_file():
        pytest.skip("../shared/corpus is absent")
    return HIVE.read_bytes()


def hivex_export(path, key: str) -> str:
    need_tool("hivexregedit")
    return subprocess.run(["hivexregedit", "--export", str(path), key], capture_output=True,
                          text=True, check=True, timeout=300).stdout


def as_server(system: bytes) -> bytes:
    """The hive with a disabled SAC helper service, as a Windows Server with EMS has it."""
    editor = HiveEditor.from_bytes(system)
    editor.create_key(SACSVR)
    editor.set_value(SACSVR, "Start", 4, (4).to_bytes(4, "little"))
    return editor.to_bytes()


def test_both_repairs_on_the_hive_file(win10, tmp_path):
    target = tmp_path / "SYSTEM"
    target.write_bytes(as_server(win10))
    done = ops.crashdump_enable(str(target))
    assert done.write["verified"] and done.changes
    sac = ops.sac_enable(str(target))
    assert [(c["key"], c["new"]) for c in sac.changes] == [(SACSVR, 3)]
    exported = hivex_export(target, CRASH)
    assert '"NMICrashDump"=dword:00000001' in exported
    assert '"Start"=dword:00000003' in hivex_export(target, SACSVR)
    # Everything else is as Windows wrote it, device-property values included.
    before, after = Hive.from_bytes(win10), Hive.open(target)
    key = r"ControlSet001\Control\DeviceClasses"
    assert [k.name for k in before.key(key).subkeys()] == [k.name for k in after.key(key).subkeys()]


def test_crashdump_inside_a_disk_image(win10, tmp_path):
    raw = tmp_path / "win10.img"
    disk = build_windows_disk("uefi", raw, system=win10, software=software_hive())
    dry = ops.crashdump_enable(str(raw), dry_run=True)
    done = ops.crashdump_enable(str(raw))
    assert dry.changes == done.changes and done.write["verified"]
    system = tmp_path / "SYSTEM"
    system.write_bytes(windows_file(raw, disk, "Windows/System32/config/SYSTEM", tmp_path))
    assert '"NMICrashDump"=dword:00000001' in hivex_export(system, CRASH)
    assert len(system.read_bytes()) == len(win10)
    shutil.rmtree(tmp_path / "state", ignore_errors=True)
