"""`bcdtool windows info|crashdump enable|sac enable` as a user runs them."""

from __future__ import annotations

import io
import json


from fixtures.windows_hives import software_hive, system_hive
from tests.ops.ops_helpers import build_windows_disk, windows_file
from tests.helpers.common import run_process as bcdtool, sha


def test_info_crashdump_sac(tmp_path):
    from Registry import Registry

    raw = tmp_path / "disk.img"
    disk = build_windows_disk("bios", raw, system=system_hive(current=2, sacsvr_start=4),
                              software=software_hive(edition="server"))
    info = json.loads(bcdtool("windows", "info", raw, "--json").stdout)
    assert info["edition"]["is_server"] is True
    assert info["control_sets"]["current"] == "ControlSet002"
    assert [s["start"] for s in info["services"] if s["name"] == "sacsvr"] == [4]
    text = bcdtool("windows", "info", raw).stdout
    assert "Server: SAC available" in text

    digest = sha(raw)
    dry = bcdtool("windows", "crashdump", "enable", raw, "--dry-run", "--ram", "16G")
    assert dry.returncode == 0 and "dry run" in dry.stdout and sha(raw) == digest
    copy = tmp_path / "SYSTEM.orig"
    original_system = windows_file(raw, disk, "Windows/System32/config/SYSTEM", tmp_path)
    run = bcdtool("windows", "crashdump", "enable", raw, "--json", "--backup", copy)
    assert run.returncode == 0, run.stderr
    assert copy.read_bytes() == original_system
    doc = json.loads(run.stdout)
    assert doc["journal"] and len(doc["changes"]) == 3
    taken = bcdtool("windows", "sac", "enable", raw, "--backup", copy)
    assert taken.returncode == 25 and "holds something else" in taken.stderr
    sac = json.loads(bcdtool("windows", "sac", "enable", raw, "--json").stdout)
    assert [(c["old"], c["new"]) for c in sac["changes"]] == [(4, 3)]
    reg = Registry.Registry(io.BytesIO(windows_file(raw, disk, "Windows/System32/config/SYSTEM",
                                                    tmp_path)))
    assert reg.open(r"ControlSet002\Control\CrashControl").value("NMICrashDump").value() == 1
    assert reg.open(r"ControlSet002\Services\sacsvr").value("Start").value() == 3
    again = bcdtool("windows", "sac", "enable", raw)
    assert again.returncode == 0 and "nothing to change" in again.stdout
    audit = (tmp_path / "state/bcdtool/audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["operation"] for line in audit] == [
        "windows crashdump enable", "windows sac enable"]


def test_client_has_no_sac_helper(tmp_path):
    raw = tmp_path / "disk.img"
    build_windows_disk("bios", raw, system=system_hive(edition="client"),
                       software=software_hive(edition="client"))
    digest = sha(raw)
    run = bcdtool("windows", "sac", "enable", raw)
    assert run.returncode == 15 and "Windows Server only" in run.stderr
    assert "client: no SAC" in bcdtool("windows", "info", raw).stdout
    bad = bcdtool("windows", "crashdump", "enable", raw, "--ram", "lots")
    assert bad.returncode == 24
    assert sha(raw) == digest
