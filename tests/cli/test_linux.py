"""`bcdtool linux check|fix` from the command line: exit codes, JSON, dry run, journal, undo."""

from __future__ import annotations

import json
import re
from pathlib import Path


from bcdtool.errors import InvalidArgumentError, EXIT_PROBLEMS, GuestError, NotFoundError
from fixtures import linux_roots
from tests.linux.linux_helpers import snapshot
from tests.helpers.common import run_cli as run, run_process


def test_check_exit_codes_and_json(tmp_path, capsys):
    good = linux_roots.build("rhel-9", "correct", tmp_path / "good")
    bad = linux_roots.build("rhel-9", "broken", tmp_path / "bad")
    code, out, _ = run(capsys, "linux", "check", good)
    assert code == 0 and out.rstrip().endswith("result: ok")
    code, out, _ = run(capsys, "linux", "check", "--json", bad)
    assert code == EXIT_PROBLEMS
    doc = json.loads(out)
    assert doc["ok"] is False and doc["distro"]["id"] == "rhel"
    assert {"id", "status", "evidence", "fix"} <= set(doc["findings"][0])
    bad_ids = {f["id"] for f in doc["findings"] if f["status"] == "problem"}
    assert bad_ids == {"kernel.serial-console", "grub.terminal-serial"}
    ev = next(f for f in doc["findings"] if f["id"] == "kernel.serial-console")["evidence"]
    assert any(e["file"].startswith("/boot/loader/entries/") and e["line"] == 5 for e in ev)


def test_dry_run_prints_diff_and_writes_nothing(tmp_path, capsys, state):
    root = linux_roots.build("sles-15", "broken", tmp_path / "g")
    before = snapshot(root)
    code, out, err = run(capsys, "linux", "fix", "--dry-run", root)
    assert code == 0 and snapshot(root) == before and not state.exists()
    diffed = re.findall(r"^\+\+\+ b(\S+)", out, re.M)
    assert diffed == ["/etc/default/grub", "/boot/grub2/grub.cfg",
                      "/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"]
    assert "-GRUB_TERMINAL=\"gfxterm\"" in out and "+GRUB_TERMINAL=\"serial console\"" in out
    assert "terminal_output serial gfxterm" in out and "drops gfxterm" in err
    assert "removed `quiet`" in err and "nothing written" in err


def test_fix_fix_undo(tmp_path, capsys, state):
    root = linux_roots.build("azurelinux-3.0", "broken", tmp_path / "g")
    before = snapshot(root)
    code, out, err = run(capsys, "linux", "fix", root)
    assert code == 0, err
    journal = re.search(r"bcdtool undo (\S+)", err).group(1)
    assert Path(journal).is_file() and Path(journal).is_relative_to(state)
    code, _, _ = run(capsys, "linux", "check", root)
    assert code == 0
    code, out, err = run(capsys, "linux", "fix", root)
    assert code == 0 and out == "" and "nothing to change" in err
    code, out, err = run(capsys, "undo", journal)
    assert code == 0, err
    assert snapshot(root) == before


def test_device_and_baud_options(tmp_path, capsys, state):
    root = linux_roots.build("debian-12", "broken", tmp_path / "g")
    code, _, err = run(capsys, "linux", "fix", "--device", "ttyS1", "--baud", "57600",
                       "--backup-dir", tmp_path / "j", root)
    assert code == 0, err
    cfg = (root / "boot/grub/grub.cfg").read_text()
    assert "console=tty0 console=ttyS1,57600n8" in cfg and "serial --unit=1 --speed=57600" in cfg
    assert (root / "etc/systemd/system/getty.target.wants/serial-getty@ttyS1.service").is_symlink()
    code, _, _ = run(capsys, "linux", "check", "--device", "ttyS1", root)
    assert code == 0
    code, _, _ = run(capsys, "linux", "check", root)   # ttyS0 is not the console now
    assert code == EXIT_PROBLEMS
    # With --backup-dir the state folder holds nothing but the key journals are signed with.
    assert list((tmp_path / "j").iterdir())
    assert [p.name for p in state.rglob("*") if p.is_file()] == ["journal.key"]


def test_bad_arguments(tmp_path, capsys):
    code, _, err = run(capsys, "linux", "fix", "--baud", "12345", tmp_path)
    assert code == InvalidArgumentError.exit_code == 24 and "12345" in err
    code, _, err = run(capsys, "linux", "check", tmp_path / "missing")
    assert code == NotFoundError.exit_code and err.startswith("bcdtool: error:")
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "linux", "fix", tmp_path / "empty")
    assert code == GuestError.exit_code and "not a Linux root" in err


def test_entry_point_exit_code(tmp_path):
    root = linux_roots.build("centos-6", "broken", tmp_path / "g")
    proc = run_process("linux", "check", root)
    assert proc.returncode == EXIT_PROBLEMS and "login.securetty" in proc.stdout
