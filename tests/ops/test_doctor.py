"""doctor: problems before `serial-console enable`, ok after, on real disks; the SAC verdict of
client and Server hives; the Linux hand-over."""

from __future__ import annotations

import pytest

from fixtures import images
from fixtures.windows_hives import software_hive, system_hive
from tests.ops.ops_helpers import LOADER, build_windows_disk, new_store
from tests.helpers.common import need_tools, sha

from bcdtool.errors import NotFoundError
from bcdtool.ops import serial_console as sc
from bcdtool.ops import windows as ops
from bcdtool.ops.doctor import diagnose


def _status(report) -> dict[str, str]:
    return {f.id: f.status for f in report.findings}


@pytest.mark.parametrize("firmware", ["uefi", "bios"])
def test_problems_before_ok_after(base_disks, tmp_path, firmware):
    need_tools("qemu-img")
    image = images.convert(base_disks[firmware].path, "vhd-fixed", tmp_path)
    before = diagnose(str(image))
    status = _status(before)
    assert not before.ok
    assert {k for k, v in status.items() if v == "problem"} == {
        "ems-loader", "ems-port", "bootems", "boot-menu"}
    assert status["windows-edition"] == "ok" and status["sac-sacsvr"] == "ok"
    assert status["crash-dump-nmi"] == "warning"
    fixes = {f.id: f.fix for f in before.findings}
    assert fixes["ems-loader"] == f"bcdtool serial-console enable {image}"
    digest = sha(image)
    diagnose(str(image))
    assert sha(image) == digest
    sc.enable(str(image))
    ops.crashdump_enable(str(image))
    after = diagnose(str(image))
    assert after.ok and all(f.status == "ok" for f in after.findings), after.render_text()
    doc = after.to_json()
    assert doc["ok"] is True and doc["store"]["partition"] == 1
    for finding in doc["findings"]:
        assert set(finding) >= {"id", "status", "evidence", "fix"}


@pytest.mark.parametrize("edition,verdict", [("client", "problem"), ("server", "ok")])
def test_sac_verdict_by_edition(tmp_path, edition, verdict):
    raw = tmp_path / "disk.img"
    build_windows_disk("bios", raw, system=system_hive(edition=edition),
                       software=software_hive(edition=edition))
    sc.enable(str(raw))
    report = diagnose(str(raw))
    status = _status(report)
    assert status["windows-edition"] == verdict
    assert report.ok is (verdict == "ok")
    assert ("sac-sacsvr" in status) is (edition == "server")     # no SAC services on clients


def test_disabled_sac_helper_and_its_fix(tmp_path):
    raw = tmp_path / "disk.img"
    build_windows_disk("bios", raw, system=system_hive(sacsvr_start=4, sacdrv_start=None))
    sc.enable(str(raw))
    report = diagnose(str(raw))
    by = {f.id: f for f in report.findings}
    assert by["sac-sacsvr"].status == "problem"
    assert by["sac-sacsvr"].fix == f"bcdtool windows sac enable {raw}"
    assert by["sac-sacdrv"].status == "problem" and "missing" in by["sac-sacdrv"].message
    ops.sac_enable(str(raw))
    assert _status(diagnose(str(raw)))["sac-sacsvr"] == "ok"


def test_kernel_debug_and_store_file(tmp_path):
    from bcdtool.bcd.store import BcdStore
    from bcdtool.regf.hive import Hive

    store = BcdStore(Hive.from_bytes(new_store("uefi")))
    store.set_element(LOADER, 0x260000A0, True)
    path = tmp_path / "BCD"
    path.write_bytes(store.to_bytes(same_size=True))
    status = _status(diagnose(str(path)))
    assert status["kernel-debug"] == "problem"
    assert status["windows-edition"] == "unknown"        # a lone store says nothing of Windows
    sc.enable(str(path))
    report = diagnose(str(path))
    assert report.ok and _status(report)["kernel-debug"] == "ok"


def test_wrong_baud_is_a_problem(tmp_path):
    path = tmp_path / "BCD"
    path.write_bytes(new_store("bios"))
    sc.enable(str(path), sc.SerialOptions(baud=9600))
    assert _status(diagnose(str(path)))["ems-port"] == "problem"
    assert _status(diagnose(str(path), baud=9600))["ems-port"] == "ok"


def test_several_stores_named(tmp_path):
    raw = tmp_path / "disk.img"
    need_tools("sfdisk", "mkfs.fat", "mcopy", "mkntfs", "ntfscp")
    files = images.windows_hive_files(system_hive(), software_hive())
    files["Boot/BCD"] = new_store("bios")
    images.build_esp_disk(raw, new_store("uefi"), windows_files=files)
    by = {f.id: f for f in diagnose(str(raw)).findings}
    assert by["multiple-stores"].status == "warning"
    assert "EFI/Microsoft/Boot/BCD on partition 1" in by["multiple-stores"].message
    assert len(by["multiple-stores"].evidence) == 2


def test_linux_root_goes_to_linux_checks(tmp_path):
    from fixtures import linux_roots

    root = linux_roots.build("debian-12", "broken", tmp_path / "root")
    report = diagnose(str(root))
    assert report.extra["system"] == "linux" and not report.ok
    fixed = linux_roots.build("debian-12", "correct", tmp_path / "good")
    assert diagnose(str(fixed)).ok


def test_neither_windows_nor_linux(tmp_path):
    with pytest.raises(NotFoundError):
        diagnose(str(tmp_path))


def test_dirty_store_is_reported_then_written_clean(tmp_path):
    from bcdtool.bcd.store import BcdStore
    from bcdtool.regf.hive import Hive
    from tests.ops.ops_helpers import dirty_with_log, registry

    clean = new_store("uefi")
    store = BcdStore(Hive.from_bytes(clean))
    store.set_element(LOADER, 0x12000004, "from the log")
    primary, log = dirty_with_log(clean, store.to_bytes(same_size=True))
    path = tmp_path / "BCD"
    path.write_bytes(primary)
    (tmp_path / "BCD.LOG1").write_bytes(log)
    by = {f.id: f for f in diagnose(str(path)).findings}
    assert by["store-dirty"].status == "warning"
    sc.enable(str(path))
    reg = registry(path.read_bytes())
    description = reg.open(f"Objects\\{LOADER}\\Elements\\12000004").value("Element").value()
    assert description == "from the log"           # the logged change survived the write
    after = diagnose(str(path))
    assert "store-dirty" not in {f.id for f in after.findings} and after.ok


def test_linux_disk_image_goes_to_linux_checks(tmp_path):
    import subprocess

    from fixtures import linux_roots

    need_tools("mkfs.ext4", "sfdisk")
    root = linux_roots.build("ubuntu-24.04", "broken", tmp_path / "root")
    fs = tmp_path / "fs.img"
    with open(fs, "wb") as handle:
        handle.truncate(24 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(root), str(fs)], check=True)
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as handle:
        handle.truncate((4 << 20) + fs.stat().st_size + (1 << 20))
        handle.seek(4 << 20)
        handle.write(fs.read_bytes())
    script = (f"label: gpt\nstart=2048, size=4096, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n"
              f"start=8192, size={fs.stat().st_size // 512}, "
              "type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n")
    subprocess.run(["sfdisk", "-q", str(disk)], input=script.encode(), check=True)
    report = diagnose(str(disk))
    assert report.extra["system"] == "linux" and not report.ok
    assert any(f.id.startswith("kernel.") for f in report.findings)
