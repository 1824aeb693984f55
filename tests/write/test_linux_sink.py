"""The write path's safety rules on Linux guest files (a mounted root): `linux fix` goes through
the same transaction as hive stores (lock, journal, verify, restore, audit, undo)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from bcdtool.errors import (FormatError, LockedError, UnsafePathError, UntrustedJournalError,
                            WriteError)
from bcdtool.linux.fix import apply_plan, plan_fix
from bcdtool.ops.undo import undo
from fixtures import linux_roots
from tests.linux.linux_helpers import guest_of, snapshot


@pytest.fixture
def root(tmp_path) -> Path:
    return linux_roots.build("debian-12", "broken", tmp_path / "root")


def test_fix_journal_is_private_relative_and_undone(root, tmp_path):
    before = snapshot(root)
    guest = guest_of(root)
    journal = apply_plan(guest, plan_fix(guest, "ttyS0"), backup_dir=str(tmp_path / "j"))
    assert stat.S_IMODE(journal.dir.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in journal.dir.iterdir())
    assert all(not e.file.startswith("/") and ".." not in e.file.split("/")
               for e in journal.entries)
    undo(journal.path)
    assert snapshot(root) == before


def test_second_writer_on_the_same_root_fails(root, tmp_path):
    before = snapshot(root)
    guest = guest_of(root)
    fd = os.open(os.path.realpath(root), os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(LockedError):
            apply_plan(guest, plan_fix(guest, "ttyS0"), backup_dir=str(tmp_path / "j"))
    finally:
        os.close(fd)
    assert snapshot(root) == before


def test_folder_swapped_for_a_symlink_after_planning_is_not_followed(root, tmp_path):
    guest = guest_of(root)
    plan = plan_fix(guest, "ttyS0")
    assert any(c.path.startswith("/etc/default/") for c in plan.changes)
    outside = tmp_path / "outside-default"
    shutil.copytree(root / "etc" / "default", outside)
    before = snapshot(outside)
    shutil.rmtree(root / "etc" / "default")
    (root / "etc" / "default").symlink_to(outside)
    with pytest.raises((UnsafePathError, WriteError)):
        apply_plan(guest, plan, backup_dir=str(tmp_path / "j"))
    assert snapshot(outside) == before


def test_audit_log_fifo_is_refused_before_writing(root, tmp_path):
    before = snapshot(root)
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo)
    guest = guest_of(root)
    with pytest.raises(UnsafePathError, match="audit log"):
        apply_plan(guest, plan_fix(guest, "ttyS0"), backup_dir=str(tmp_path / "j"),
                   audit_log=str(fifo))
    assert snapshot(root) == before


@pytest.mark.parametrize("field,value", [("file", "../../outside/passwd"),
                                         ("file", "/etc/passwd"),
                                         ("existed", "yes")])
def test_hand_edited_linux_journal_is_refused(root, tmp_path, field, value):
    guest = guest_of(root)
    journal = apply_plan(guest, plan_fix(guest, "ttyS0"), backup_dir=str(tmp_path / "j"))
    after = snapshot(root)
    doc = json.loads(journal.path.read_text())
    doc["entries"][0][field] = value
    journal.path.write_text(json.dumps(doc))
    with pytest.raises(UntrustedJournalError):
        undo(journal.path, force=True)
    with pytest.raises(FormatError, match="journal"):
        undo(journal.path, force=True, trust=True)
    assert snapshot(root) == after
