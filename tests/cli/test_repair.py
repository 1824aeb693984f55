"""`bcdtool repair boot` as a user runs it: the diff, --dry-run, --json, undo, refusals."""

from __future__ import annotations

import json


from tests.helpers.common import BCD_CORPUS, run_process as bcdtool, sha
from tests.ops.ops_helpers import build_windows_disk



def test_repair_boot_dry_run_json_then_undo(tmp_path):
    raw = tmp_path / "disk.img"
    # Windows 7's store: {bootmgr} on one disk signature, the loader on another, WinRE in
    # \Recovery\{guid} on the loader's partition
    recovery = "Recovery/26435aed-6432-11e6-84a6-f0fbf6f23a1f"
    build_windows_disk("bios", raw, bcd=(BCD_CORPUS / "win7-bios-installed-winre.bcd").read_bytes(),
                       windows_extra={f"{recovery}/Winre.wim": b"MSWIM", f"{recovery}/boot.sdi":
                                      b"$SDI"})
    digest = sha(raw)
    assert bcdtool("doctor", raw).returncode == 3
    dry = bcdtool("repair", "boot", raw, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    doc = json.loads(dry.stdout)
    assert doc["dry_run"] is True and doc["journal"] is None and doc["repoints"]
    assert {r["partition"] for r in doc["repoints"]} == {1, 2} and sha(raw) == digest
    run = bcdtool("repair", "boot", raw)
    assert run.returncode == 0, run.stderr
    assert "{bootmgr} device:" in run.stdout and "undo with: bcdtool undo" in run.stdout
    journal = run.stdout.rsplit("bcdtool undo ", 1)[1].strip()
    doctor = json.loads(bcdtool("doctor", raw, "--json").stdout)
    assert all(f["status"] == "ok" for f in doctor["findings"]
               if f["id"].startswith(("boot-device", "boot-file", "boot-ref"))), doctor
    again = bcdtool("repair", "boot", raw)
    assert again.returncode == 0 and "nothing to repair" in again.stdout
    assert bcdtool("undo", journal).returncode == 0
    assert sha(raw) == digest


def test_repair_boot_exits_3_when_something_is_left(tmp_path):
    """Without the WinRE image on the disk its entry cannot be re-pointed: the rest is repaired,
    the entry is named, and the exit code says problems remain."""
    raw = tmp_path / "disk.img"
    build_windows_disk("bios", raw, bcd=(BCD_CORPUS / "win7-bios-installed-winre.bcd").read_bytes())
    run = bcdtool("repair", "boot", raw)
    assert run.returncode == 3, run.stderr
    assert "not repaired: device of {26435aed-6432-11e6-84a6-f0fbf6f23a1f}: no partition" \
        in run.stderr and "written and verified" in run.stdout
    again = bcdtool("repair", "boot", raw)
    assert again.returncode == 3 and "nothing repaired" in again.stdout


def test_repair_boot_needs_a_disk(tmp_path):
    store = tmp_path / "BCD"
    store.write_bytes((BCD_CORPUS / "win81-bios-installed-sysreserved.bcd").read_bytes())
    run = bcdtool("repair", "boot", store)
    assert run.returncode == 17 and run.stderr.startswith("bcdtool: error: repair boot needs")
