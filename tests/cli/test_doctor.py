"""`bcdtool doctor` as a user runs it: exit 3 with problems, 0 when all is well, JSON shape."""

from __future__ import annotations

import json


from tests.ops.ops_helpers import build_windows_disk
from tests.helpers.common import run_process as bcdtool, sha
from fixtures.windows_hives import system_hive


def test_doctor_before_and_after(tmp_path):
    raw = tmp_path / "disk.img"
    build_windows_disk("uefi", raw, system=system_hive(crash_dump_enabled=2, nmi_crash_dump=1))
    digest = sha(raw)
    before = bcdtool("doctor", raw)
    assert before.returncode == 3
    assert "[PROBLEM] ems-loader" in before.stdout and f"fix: bcdtool serial-console enable {raw}" \
        in before.stdout
    doc = json.loads(bcdtool("doctor", raw, "--json").stdout)
    assert doc["ok"] is False and sha(raw) == digest
    for finding in doc["findings"]:
        assert set(finding) >= {"id", "status", "evidence", "fix"}
        assert finding["status"] in ("ok", "problem", "warning", "unknown")
    assert bcdtool("serial-console", "enable", raw).returncode == 0
    after = bcdtool("doctor", raw, "--json")
    assert after.returncode == 0, after.stdout
    assert json.loads(after.stdout)["ok"] is True


def test_doctor_on_nothing(tmp_path):
    run = bcdtool("doctor", tmp_path)
    assert run.returncode == 15 and run.stderr.startswith("bcdtool: error:")
