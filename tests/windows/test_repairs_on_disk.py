"""`windows crashdump enable` and `windows sac enable` on real disk images: the SYSTEM hive is
read back with ntfscat and python-registry; dry runs, second runs and refusals write nothing,
undo restores."""

from __future__ import annotations

import io

import pytest

from fixtures import images
from fixtures.windows_hives import software_hive, system_hive
from tests.ops.ops_helpers import build_windows_disk, windows_file
from tests.helpers.common import sha

from bcdtool.errors import NotFoundError, ReadOnlyError
from bcdtool.ops import windows as ops
from bcdtool.ops.undo import undo
from bcdtool.ops.windows_facts import gather

SYSTEM = "Windows/System32/config/SYSTEM"


def _reg(data: bytes):
    from Registry import Registry

    return Registry.Registry(io.BytesIO(data))


def _disk(tmp_path, firmware="bios", windows_extra=None, **system):
    raw = tmp_path / f"{firmware}.img"
    disk = build_windows_disk(firmware, raw, system=system_hive(**system),
                              windows_extra=windows_extra)
    return raw, disk


@pytest.mark.parametrize("firmware", ["uefi", "bios"])
def test_crashdump_enable_verified_with_python_registry(tmp_path, firmware):
    raw, disk = _disk(tmp_path, firmware, current=2)
    original = sha(raw)
    dry = ops.crashdump_enable(str(raw), dry_run=True)
    assert len(dry.changes) == 3 and dry.journal is None
    assert sha(raw) == original

    done = ops.crashdump_enable(str(raw), dump_file=r"D:\dumps\MEMORY.DMP")
    assert done.journal and done.write["verified"] and done.location["path"] == SYSTEM
    key = _reg(windows_file(raw, disk, SYSTEM, tmp_path)).open(
        r"ControlSet002\Control\CrashControl")
    assert key.value("CrashDumpEnabled").value() == 2
    assert key.value("NMICrashDump").value() == 1
    assert key.value("DumpFile").value() == r"D:\dumps\MEMORY.DMP"
    assert any("cannot tell" in n for n in done.notices)

    written = sha(raw)
    again = ops.crashdump_enable(str(raw), dump_file=r"D:\dumps\MEMORY.DMP")
    assert again.changes == [] and again.journal is None and sha(raw) == written
    undo(done.journal)
    assert sha(raw) == original


def test_sac_enable_sets_a_disabled_helper_back_to_manual(tmp_path):
    raw, disk = _disk(tmp_path, sacsvr_start=4)
    done = ops.sac_enable(str(raw))
    assert [(c["key"], c["old"], c["new"]) for c in done.changes] == [
        (r"ControlSet001\Services\sacsvr", 4, 3)]
    reg = _reg(windows_file(raw, disk, SYSTEM, tmp_path))
    assert reg.open(r"ControlSet001\Services\sacsvr").value("Start").value() == 3
    assert reg.open(r"ControlSet002\Services\sacsvr").value("Start").value() == 4  # not active
    before = sha(raw)
    assert ops.sac_enable(str(raw)).changes == [] and sha(raw) == before


def test_refusals_leave_the_disk_unchanged(tmp_path):
    raw, _disk_ = _disk(tmp_path, edition="client", sacsvr_start=None)
    original = sha(raw)
    with pytest.raises(NotFoundError):
        ops.sac_enable(str(raw))
    with pytest.raises(ReadOnlyError):
        ops.crashdump_enable(str(raw), read_only=True)
    assert sha(raw) == original
    assert not list(tmp_path.glob("state/bcdtool/journal/*"))


def test_gather_facts_and_space_note(tmp_path):
    raw, _disk_ = _disk(tmp_path, "uefi", sacsvr_start=4, hiberboot=1)
    found = gather(str(raw))
    assert found.edition.is_server and found.control_sets.current == "ControlSet001"
    assert {(s.name, s.start) for s in found.services} == {("sacdrv", 1), ("sacsvr", 4)}
    assert found.fast_startup is True
    assert [(v.index, v.fs, v.stores, v.windows) for v in found.volumes] == [
        (1, "fat", ["EFI/Microsoft/Boot/BCD"], False), (2, "ntfs", [], True)]
    assert "warning" in ops.space_note(str(raw), 8 << 30)         # a 24 MiB Windows volume
    assert "enough" in ops.space_note(str(raw), 1 << 20)
    assert "cannot tell" in ops.space_note(str(raw), None)
    # a mounted Windows folder reports its free space
    root = tmp_path / "mnt"
    (root / "Windows/System32/config").mkdir(parents=True)
    (root / SYSTEM).write_bytes(system_hive())
    (root / "Windows/System32/config/SOFTWARE").write_bytes(software_hive())
    assert "warning" in ops.space_note(str(root), 1 << 60)
    assert "enough" in ops.space_note(str(root), 1)
    assert gather(str(root)).edition.is_server


def test_qcow2_image(tmp_path):
    raw, disk = _disk(tmp_path)
    image = images.convert(raw, "qcow2", tmp_path)
    ops.crashdump_enable(str(image))
    back = images.to_raw(image, tmp_path / "back.img")
    key = _reg(windows_file(back, disk, SYSTEM, tmp_path)).open(
        r"ControlSet001\Control\CrashControl")
    assert key.value("NMICrashDump").value() == 1


def test_hibernated_windows_volume_refused_and_reported(tmp_path):
    from bcdtool.errors import UnsafeVolumeError
    from bcdtool.ops.doctor import diagnose

    raw = tmp_path / "disk.img"
    build_windows_disk("bios", raw, windows_extra={"hiberfil.sys": b"HIBR" + bytes(8188)})
    original = sha(raw)
    with pytest.raises(UnsafeVolumeError):
        ops.crashdump_enable(str(raw))
    assert sha(raw) == original
    assert not list(tmp_path.glob("state/bcdtool/journal/*"))
    by = {f.id: f for f in diagnose(str(raw)).findings}
    assert by["hibernation"].status == "problem"
    assert "hiberfil.sys" in by["hibernation"].evidence[0].file


def test_free_space_agrees_with_ntfsinfo(tmp_path):
    import re
    import subprocess

    from tests.helpers.common import need_tools

    from bcdtool.windows import volumes

    need_tools("ntfsinfo")
    raw, disk = _disk(tmp_path, windows_extra={"pagefile.sys": bytes(3 << 20)})
    ours = [v.free_bytes for v in volumes.scan(str(raw), free_space=True) if v.windows]
    part = disk.partitions[-1]
    volume = images.extract(raw, tmp_path / "win.ntfs", part.start, part.length)
    text = subprocess.run(["ntfsinfo", "-m", str(volume)], capture_output=True, text=True).stdout
    free = int(re.search(r"Free Clusters:\s*(\d+)", text).group(1))
    size = int(re.search(r"Cluster Size:\s*(\d+)", text).group(1))
    assert ours == [free * size]


def test_dirty_system_hive_with_its_log(tmp_path):
    """Windows leaves SYSTEM dirty with its changes in SYSTEM.LOG1: the repair starts from the
    replayed state, and the logged change survives."""
    from tests.ops.ops_helpers import dirty_with_log

    from bcdtool.regf.editor import HiveEditor
    from bcdtool.regf.values import REG_DWORD

    clean = system_hive()
    editor = HiveEditor.from_bytes(clean)
    editor.set_value(r"ControlSet001\Control\CrashControl", "AutoReboot", REG_DWORD,
                     (0).to_bytes(4, "little"))
    primary, log = dirty_with_log(clean, editor.to_bytes(same_size=True))
    raw = tmp_path / "disk.img"
    disk = build_windows_disk("bios", raw, system=primary,
                              windows_extra={SYSTEM + ".LOG1": log})
    found = gather(str(raw))
    assert found.system_dirty
    ops.crashdump_enable(str(raw))
    key = _reg(windows_file(raw, disk, SYSTEM, tmp_path)).open(
        r"ControlSet001\Control\CrashControl")
    assert key.value("AutoReboot").value() == 0            # from the log
    assert key.value("NMICrashDump").value() == 1
    assert not gather(str(raw)).system_dirty
