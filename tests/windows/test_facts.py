"""Offline Windows facts from SYSTEM and SOFTWARE hives built with the hive engine; the hives are
first checked with python-registry, so the facts are not graded by our reader alone."""

from __future__ import annotations

import io

import pytest

from fixtures.windows_hives import software_hive, system_hive

from bcdtool.errors import NotFoundError
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.hive import Hive
from bcdtool.regf.values import REG_DWORD
from bcdtool.windows import edits, facts


def _reg(data: bytes):
    from Registry import Registry

    return Registry.Registry(io.BytesIO(data))


def test_fixture_hives_read_by_python_registry():
    system = _reg(system_hive(current=2, sacsvr_start=4))
    assert system.open("Select").value("Current").value() == 2
    assert system.open(r"ControlSet002\Services\sacsvr").value("Start").value() == 4
    software = _reg(software_hive(edition="client"))
    assert software.open(r"Microsoft\Windows NT\CurrentVersion").value("EditionID").value() \
        == "Professional"


def test_control_set_comes_from_select():
    hive = Hive.from_bytes(system_hive(current=2))
    sets = facts.control_sets(hive)
    assert (sets.current, sets.default, sets.last_known_good) == \
        ("ControlSet002", "ControlSet002", "ControlSet001")
    assert sets.active == ["ControlSet002"]


def test_select_missing_or_naming_a_missing_set():
    editor = HiveEditor.new(minor=5)
    editor.create_key("ControlSet001")
    with pytest.raises(NotFoundError):
        facts.control_sets(Hive.from_bytes(editor.to_bytes()))
    editor.create_key("Select")
    editor.set_value("Select", "Current", REG_DWORD, (7).to_bytes(4, "little"))
    with pytest.raises(NotFoundError):
        facts.control_sets(Hive.from_bytes(editor.to_bytes()))


@pytest.mark.parametrize("edition,server", [("server", True), ("client", False)])
def test_edition_verdict(edition, server):
    ed = facts.edition(Hive.from_bytes(software_hive(edition=edition)),
                       Hive.from_bytes(system_hive(edition=edition)))
    assert ed.is_server is server
    assert ed.build and ed.product_name


def test_edition_from_software_alone_and_unknown():
    assert facts.edition(Hive.from_bytes(software_hive(edition="server"))).is_server is True
    assert facts.edition(Hive.from_bytes(software_hive(edition="client"))).is_server is False
    assert facts.edition(None).is_server is None


def test_services_crash_control_fast_startup():
    hive = Hive.from_bytes(system_hive(sacsvr_start=4, sacdrv_start=None, crash_dump_enabled=7,
                                       nmi_crash_dump=1, hiberboot=1))
    cs = facts.control_sets(hive).current
    assert facts.service(hive, cs, "sacsvr").disabled
    assert not facts.service(hive, cs, "sacdrv").present
    crash = facts.crash_control(hive, cs)
    assert crash.nmi_ready and crash.crash_dump_enabled == 7
    assert facts.fast_startup(hive, cs) is True


def test_plans_touch_only_what_differs():
    hive = Hive.from_bytes(system_hive(current=2, crash_dump_enabled=7, sacsvr_start=3))
    changes = edits.crashdump(hive)
    assert [(c.key, c.name, c.new) for c in changes] == [
        (r"ControlSet002\Control\CrashControl", "NMICrashDump", 1),
        (r"ControlSet002\Control\CrashControl", "DumpFile", edits.DEFAULT_DUMP_FILE)]
    assert edits.sac(hive) == []
    image = edits.apply(hive, changes).to_bytes(same_size=True)
    reg = _reg(image)
    key = reg.open(r"ControlSet002\Control\CrashControl")
    assert key.value("NMICrashDump").value() == 1
    assert key.value("CrashDumpEnabled").value() == 7          # kept: already on
    assert edits.crashdump(Hive.from_bytes(image)) == []


def test_sac_plan_refuses_without_sacsvr():
    with pytest.raises(NotFoundError):
        edits.sac(Hive.from_bytes(system_hive(edition="client")))


def test_gather_on_lone_hive_files(tmp_path):
    from bcdtool.ops.windows_facts import gather
    from tests.ops.ops_helpers import new_store

    system = tmp_path / "SYSTEM"
    system.write_bytes(system_hive(edition="client"))
    found = gather(str(system))
    assert found.edition.is_server is False and found.control_sets.current == "ControlSet001"
    store = tmp_path / "BCD"
    store.write_bytes(new_store("uefi"))
    found = gather(str(store))
    assert found.edition is None and "single hive file" in found.notes[0]


def test_hostile_select_and_start_values():
    from bcdtool.regf.values import REG_SZ

    editor = HiveEditor.from_bytes(system_hive())
    editor.set_value("Select", "Current", REG_SZ, "1\0".encode("utf-16-le"))
    with pytest.raises(NotFoundError):
        facts.control_sets(Hive.from_bytes(editor.to_bytes()))
    editor = HiveEditor.from_bytes(system_hive())
    editor.set_value(r"ControlSet001\Services\sacsvr", "Start", REG_SZ, b"x\0")
    svc = facts.service(Hive.from_bytes(editor.to_bytes()), "ControlSet001", "sacsvr")
    assert svc.present and svc.start is None and not svc.disabled


def test_real_windows_xp_system_hive(corpus, tmp_path):
    """A SYSTEM hive written by Windows: facts agree with python-registry, and crash-dump
    enable on a copy of the file writes what python-registry then reads."""
    import shutil

    from bcdtool.ops.windows import crashdump_enable
    from bcdtool.ops.windows_facts import gather

    path = tmp_path / "SYSTEM"
    shutil.copy(corpus / "hives" / "winxp-sp3-SYSTEM", path)
    reg = _reg(path.read_bytes())
    current = reg.open("Select").value("Current").value()
    found = gather(str(path))
    assert found.control_sets.current == f"ControlSet{current:03d}"
    assert found.edition.is_server is False          # ProductType WinNT
    crash = reg.open(rf"ControlSet{current:03d}\Control\CrashControl")
    assert found.crash[0].crash_dump_enabled == crash.value("CrashDumpEnabled").value()
    assert {s.name: s.present for s in found.services} == {"sacdrv": False, "sacsvr": False}
    result = crashdump_enable(str(path))
    assert [c["value"] for c in result.changes] == ["NMICrashDump"]
    after = _reg(path.read_bytes()).open(rf"ControlSet{current:03d}\Control\CrashControl")
    assert after.value("NMICrashDump").value() == 1
    assert after.value("CrashDumpEnabled").value() == crash.value("CrashDumpEnabled").value()
