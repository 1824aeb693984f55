"""A hive file committed through the one write transaction: stale logs, independent readers,
metadata kept, refusals, verification failures restored (formerly regf.commit.write_hive_file)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bcdtool.errors import VerifyError, WriteError
from bcdtool.locate import open_hive
from bcdtool.locate.commit import commit as commit_handle
from bcdtool.regf import logs
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.hive import Hive
from tests.helpers.common import corpus_files
from tests.write.write_helpers import (copy_with_logs, edited, hivexsh_lsval,
                                       python_registry_value, seqs, sz)

STORE = "win11-uefi-installed-2025.bcd"  # a clean store with stale .LOG and .LOG1 beside it


def commit(path: Path, key: str, name: str, text: str, **kwargs):
    """Open the hive file, edit one value, commit through the transaction."""
    with open_hive(path) as handle:
        original = handle.hive.original
        return commit_handle(handle, edited(handle.hive, key, name, text), **kwargs), original


def folder_state(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino)
            for p in folder.iterdir()}


def test_hive_file_with_stale_logs_is_edited_in_place(corpus, tmp_path):
    path = copy_with_logs(corpus, "bcd", STORE, tmp_path)
    path.chmod(0o640)
    inode = path.stat().st_ino
    log_sizes = {p.name: p.stat().st_size for p in logs.find_log_files(path)}
    assert len(log_sizes) == 2
    result, original = commit(path, "Description", "Note", "bcdtool")
    data = path.read_bytes()
    old1, old2 = seqs(original)
    assert seqs(data) == (max(old1, old2) + 1,) * 2 and not logs.is_dirty(data)
    assert any("stale transaction logs" in note for note in result.notices)
    for log_path in logs.find_log_files(path):
        raw = log_path.read_bytes()
        assert raw[:512] == bytes(512) and len(raw) == log_sizes[log_path.name]
    assert python_registry_value(data, "Description", "Note") == sz("bcdtool")
    assert "Note" in hivexsh_lsval(path, "Description")
    assert Hive.open(path).key("Description").value("Note").data == "bcdtool"
    # In place: same inode, same mode, nothing else created beside it.
    assert path.stat().st_ino == inode and (path.stat().st_mode & 0o7777) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, *log_sizes])
    assert result.pages_written >= 1 and result.verified


def test_dry_run_writes_nothing(corpus, tmp_path, state):
    path = copy_with_logs(corpus, "bcd", STORE, tmp_path)
    before = folder_state(tmp_path)
    result, _ = commit(path, "Description", "Note", "dry", dry_run=True)
    assert result.dry_run and result.bytes_written == 0 and result.journal is None
    assert folder_state(tmp_path) == before and not (state / "bcdtool" / "journal").exists()


def test_dirty_hive_recovered_then_committed(corpus, tmp_path):
    path = copy_with_logs(corpus, "hives", "yarp-NewDirtyHive", tmp_path)
    result, _ = commit(path, "", "After", "recovery")
    data = path.read_bytes()
    assert seqs(data) == (7, 7)  # recovered 6/6, then one write
    for log in ("yarp-NewDirtyHive.LOG1", "yarp-NewDirtyHive.LOG2"):
        assert (tmp_path / log).read_bytes()[:512] == bytes(512)
    reopened = Hive.open(path)
    assert not reopened.recovered
    windows = Hive.from_bytes((corpus / "hives" / "yarp-NewDirtyHive-recovered-by-win10")
                              .read_bytes())
    assert {k.path for k in reopened.walk()} == {k.path for k in windows.walk()}
    assert reopened.root.value("After").data == "recovery"


def test_write_refused_when_the_file_changed_since_it_was_read(corpus, tmp_path):
    path = copy_with_logs(corpus, "bcd", STORE, tmp_path)
    with open_hive(path) as handle:
        image = edited(handle.hive, "Description", "Note", "x")
        other = bytearray(handle.hive.original)
        other[-1] ^= 1
        path.write_bytes(bytes(other))            # another writer got there first
        before = folder_state(tmp_path)
        with pytest.raises(WriteError, match="changed since it was read"):
            commit_handle(handle, image)
    assert folder_state(tmp_path) == before


def test_an_image_that_does_not_verify_is_never_written(corpus, tmp_path):
    """regf.verify runs on the plan before the transaction: an image holding more than the
    editor's record (here an extra value) is refused with nothing opened for writing."""
    path = copy_with_logs(corpus, "bcd", "empty-createstore.bcd", tmp_path)
    with open_hive(path) as handle:
        original = handle.hive.original
        planned = HiveEditor(handle.hive)
        planned.set_value("Objects", "Planned", 4, b"\1\0\0\0")
        other = HiveEditor(handle.hive)
        other.set_value("Objects", "Planned", 4, b"\1\0\0\0")
        other.set_value("Objects", "Extra", 4, b"\2\0\0\0")
        os.utime(path, ns=(0, 0))
        with pytest.raises(VerifyError, match="nothing was written"):
            commit_handle(handle, other.to_bytes(), planned=planned.planned)
        with pytest.raises(VerifyError, match="nothing was written"):
            commit_handle(handle, other.to_bytes(), planned=planned.planned, dry_run=True)
    assert path.stat().st_mtime_ns == 0
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty-createstore.bcd"]


def test_symlink_named_as_the_target_is_written_through_and_keeps_owner(corpus, tmp_path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    real = copy_with_logs(corpus, "bcd", STORE, real_dir)
    link = tmp_path / "BCD-link"
    link.symlink_to(real)
    if os.geteuid() == 0:
        os.chown(real, 65534, 65534)
    real.chmod(0o600)
    commit(link, "Description", "Via", "link")
    assert link.is_symlink()
    assert python_registry_value(real.read_bytes(), "Description", "Via") == sz("link")
    assert real.stat().st_mode & 0o7777 == 0o600
    if os.geteuid() == 0:
        assert (real.stat().st_uid, real.stat().st_gid) == (65534, 65534)
    for log_path in logs.find_log_files(real):   # the logs beside the real file
        assert log_path.read_bytes()[:512] == bytes(512)


def bcd_stores() -> list[Path]:
    return [p for p in corpus_files("bcd") if ".LOG" not in p.name.upper()]


@pytest.mark.parametrize("store", bcd_stores(), ids=lambda p: p.name)
def test_every_corpus_store_commits_cleanly(store, tmp_path):
    path = copy_with_logs(store.parent.parent, store.parent.name, store.name, tmp_path)
    text = f"edited {store.name}"
    _, original = commit(path, "Description", "BcdToolNote", text)
    data = path.read_bytes()
    old = max(seqs(original))
    assert seqs(data) == (old + 1, old + 1) and not logs.is_dirty(data)
    assert python_registry_value(data, "Description", "BcdToolNote") == sz(text)
    assert "BcdToolNote" in hivexsh_lsval(path, "Description")
    for log_path in logs.find_log_files(path):
        assert log_path.read_bytes()[:512] == bytes(512)
