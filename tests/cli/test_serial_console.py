"""`bcdtool serial-console enable|status` and `bcdtool new-store` as a user runs them."""

from __future__ import annotations

import json


from tests.ops.ops_helpers import (assert_recipe, build_windows_disk, new_store, registry,
                                   store_bytes)
from tests.helpers.common import run_process as bcdtool, sha


def test_enable_json_twice_then_status(tmp_path):
    path = tmp_path / "BCD"
    path.write_bytes(new_store("uefi"))
    status = bcdtool("serial-console", "status", path)
    assert status.returncode == 3 and "[BAD]" in status.stdout
    run = bcdtool("serial-console", "enable", path, "--json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["location"]["path"] == str(path) and doc["journal"].endswith("journal.json")
    assert {(c["element"], c["new"]) for c in doc["changes"]} >= {("ems", "Yes"),
                                                                  ("emsport", "1")}
    assert_recipe(path.read_bytes())
    digest = sha(path)
    again = json.loads(bcdtool("serial-console", "enable", path, "--json").stdout)
    assert again["changes"] == [] and again["journal"] is None and sha(path) == digest
    status = bcdtool("serial-console", "status", path, "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["ok"] is True
    audit = (tmp_path / "state/bcdtool/audit.jsonl").read_text().splitlines()
    assert len(audit) == 1 and json.loads(audit[0])["journal"] == doc["journal"]


def test_dry_run_and_options_on_an_image(tmp_path):
    raw = tmp_path / "disk.img"
    disk = build_windows_disk("bios", raw)
    digest = sha(raw)
    dry = bcdtool("serial-console", "enable", raw, "--dry-run", "--port", "2", "--baud", "57600")
    assert dry.returncode == 0 and "nothing written" in dry.stdout and sha(raw) == digest
    log = tmp_path / "audit.jsonl"
    original_store = store_bytes(raw, disk, tmp_path)
    copy = tmp_path / "BCD.orig"
    run = bcdtool("serial-console", "enable", raw, "--port", "2", "--baud", "57600",
                  "--timeout", "7", "--audit-log", log, "--backup-dir", tmp_path / "backups",
                  "--backup", copy)
    assert run.returncode == 0, run.stderr
    assert copy.read_bytes() == original_store
    assert "undo with: bcdtool undo" in run.stdout
    entry = json.loads(log.read_text())
    assert entry["sha256_before"] != entry["sha256_after"]
    assert entry["journal"].startswith(str(tmp_path / "backups"))
    status = bcdtool("serial-console", "status", raw, "--port", "2", "--baud", "57600",
                     "--timeout", "7")
    assert status.returncode == 0, status.stdout
    undo = bcdtool("undo", entry["journal"])
    assert undo.returncode == 0, undo.stderr
    assert sha(raw) == digest


def test_errors_are_one_line_with_exit_codes(tmp_path):
    path = tmp_path / "BCD"
    path.write_bytes(new_store("uefi"))
    digest = sha(path)
    ro = bcdtool("serial-console", "enable", path, "--read-only")
    assert ro.returncode == 16 and ro.stderr.startswith("bcdtool: error:")
    bad = bcdtool("serial-console", "enable", path, "--baud", "1234")
    assert bad.returncode == 24 and "Traceback" not in bad.stderr
    missing = bcdtool("serial-console", "status", tmp_path / "nothing")
    assert missing.returncode == 15
    assert sha(path) == digest


def test_new_store_from_disk_and_from_ids(tmp_path):
    raw = tmp_path / "disk.img"
    build_windows_disk("uefi", raw)
    out = tmp_path / "BCD"
    run = bcdtool("new-store", out, "--firmware", "uefi", "--disk", raw, "--json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["size"] == 32768 == out.stat().st_size
    assert "Windows/System32/config/SYSTEM" in doc["chosen"][1]
    reg = registry(out.read_bytes())
    assert len(list(reg.open("Objects").subkeys())) == 12
    exists = bcdtool("new-store", out, "--firmware", "uefi", "--disk", raw)
    assert exists.returncode == 20
    mbr = tmp_path / "BCD.bios"
    ids = bcdtool("new-store", mbr, "--firmware", "bios", "--system-partition",
                  "mbr:1b2c3d4e:1048576", "--windows-partition", "mbr:1b2c3d4e:0x1100000")
    assert ids.returncode == 0, ids.stderr
    none = bcdtool("new-store", tmp_path / "x", "--firmware", "bios")
    assert none.returncode == 24


def test_backup_copies_the_whole_file_slack_included(tmp_path):
    # Only the hive's declared bins are read to edit it, but `--backup` promises the original
    # file: the bytes after the bins (slack a real store may carry) must be in the copy too,
    # whether the store is named as a file or found in a folder.
    store = new_store("uefi") + bytes(range(256)) * 64
    for target, path in [(tmp_path / "BCD", tmp_path / "BCD"),
                         (tmp_path / "esp", tmp_path / "esp/EFI/Microsoft/Boot/BCD")]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(store)
        copy = tmp_path / f"{target.name}.orig"
        run = bcdtool("serial-console", "enable", target, "--backup", copy)
        assert run.returncode == 0, run.stderr
        assert copy.read_bytes() == store
        assert path.read_bytes() != store and len(path.read_bytes()) == len(store)
        again = bcdtool("serial-console", "enable", target, "--backup", copy)
        assert again.returncode == 0 and copy.read_bytes() == store   # nothing left to do
