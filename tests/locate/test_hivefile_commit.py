"""Commits to plain hive files: journal first, stale logs neutralised, verified, undoable."""

from __future__ import annotations

import os

import pytest
from bcdtool.write import journal as journals
from bcdtool.errors import InterruptedWriteError, InvalidArgumentError, ReadOnlyError
from bcdtool.locate import open_hive
from bcdtool.locate.commit import commit as commit_handle
from tests.locate.locate_helpers import WriteWatch, registry_elements, sac_edit
from tests.helpers.common import run_cli, sha

NAME = "win11-uefi-installed-2025.bcd"


@pytest.fixture
def store(tmp_path, corpus):
    """A real store with the two logs Windows left beside it."""
    folder = tmp_path / "Boot"
    folder.mkdir()
    for suffix in ("", ".LOG", ".LOG1"):
        (folder / f"BCD{suffix}").write_bytes((corpus / "bcd" / (NAME + suffix)).read_bytes())
    return folder / "BCD"


def _digests(folder) -> dict[str, str]:
    return {p.name: sha(p.read_bytes()) for p in sorted(folder.iterdir())}


def test_commit_journals_neutralises_logs_and_undoes(store, tmp_path, capsys):
    before = _digests(store.parent)
    backups = tmp_path / "backups"
    with open_hive(store) as handle:
        new_image, elements = sac_edit(handle.hive)
        result = commit_handle(handle, new_image, backup_dir=backups, operation="sac")
        assert registry_elements(handle.hive.data, elements) == elements
    assert result.verified and result.journal.startswith(str(backups))
    data = store.read_bytes()
    assert sha(data) == result.sha256_after and len(data) == result.size
    assert registry_elements(data, elements) == elements
    for log in ("BCD.LOG", "BCD.LOG1"):
        assert (store.parent / log).read_bytes()[:512] == bytes(512)
    journal = journals.load(result.journal)
    assert journal.state == "done" and [e.kind for e in journal.entries] == [
        "range",
        "range",
        "file",
    ]

    code, _, err = run_cli(capsys, "undo", result.journal)
    assert code == 0, err
    assert _digests(store.parent) == before


def test_dry_run_and_read_only_write_nothing(store, state):
    before = _digests(store.parent)
    watch = WriteWatch(store.parent)
    try:
        with open_hive(store) as handle:
            new_image, _ = sac_edit(handle.hive)
            plan = commit_handle(handle, new_image, dry_run=True)
        with open_hive(store, read_only=True) as handle:
            with pytest.raises(ReadOnlyError):
                commit_handle(handle, new_image)
        assert watch.events() == []
    finally:
        watch.close()
    assert plan.dry_run and plan.journal is None and plan.plan
    assert _digests(store.parent) == before
    assert not state.exists()


def test_undo_refuses_to_clobber_later_changes(store, capsys):
    with open_hive(store) as handle:
        result = commit_handle(handle, sac_edit(handle.hive)[0])
    with open_hive(store) as handle:      # a second, later edit
        from bcdtool.regf.editor import HiveEditor
        editor = HiveEditor(handle.hive)
        editor.set_value("Description", "later", 4, bytes(4))
        commit_handle(handle, editor.to_bytes())
    later = sha(store.read_bytes())
    code, _, err = run_cli(capsys, "undo", result.journal)
    assert code != 0 and "--force" in err
    assert sha(store.read_bytes()) == later
    code, out, err = run_cli(capsys, "undo", "--force", "--json", result.journal)
    assert code == 0, err
    assert '"entries": 3' in out


def test_unfinished_journal_blocks_the_next_open(store):
    key = "file:" + os.path.realpath(store)
    journal = journals.Journal.start(str(store), "crashed", sink={}, target_key=key)
    journal.mark("writing")
    with pytest.raises(InterruptedWriteError) as info:
        open_hive(store)
    assert str(journal.path) in str(info.value)
    journal.mark("done")
    open_hive(store).close()


def test_hibernated_windows_folder_is_refused(tmp_path, corpus):
    from bcdtool.errors import UnsafeVolumeError

    root = tmp_path / "C"
    config = root / "Windows" / "System32" / "config"
    config.mkdir(parents=True)
    (config / "SYSTEM").write_bytes((corpus / "bcd" / NAME).read_bytes())
    (root / "hiberfil.sys").write_bytes(b"HIBR" + bytes(4092))
    before = _digests(config)
    with open_hive(root, kind="hive", path="Windows/System32/config/SYSTEM") as handle:
        with pytest.raises(UnsafeVolumeError, match="hibernated"):    # a dry run refuses too
            commit_handle(handle, sac_edit(handle.hive)[0], dry_run=True)
        with pytest.raises(UnsafeVolumeError, match="hibernated"):
            commit_handle(handle, sac_edit(handle.hive)[0])
    assert _digests(config) == before


def test_immutable_file_is_read_only_media(store):
    import subprocess

    if subprocess.run(["chattr", "+i", str(store)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported here")
    try:
        before = _digests(store.parent)
        with open_hive(store) as handle:
            with pytest.raises(ReadOnlyError):
                commit_handle(handle, sac_edit(handle.hive)[0])
        assert _digests(store.parent) == before
    finally:
        subprocess.run(["chattr", "-i", str(store)], check=True)


def test_kind_is_detected_by_magic_not_name(tmp_path, store_bytes):
    from bcdtool.locate import detect

    (tmp_path / "disk.img").write_bytes(store_bytes)
    (tmp_path / "BCD").write_bytes(b"\0" * 4096)
    assert detect.detect_kind(tmp_path / "disk.img") == detect.HIVE
    assert detect.detect_kind(tmp_path / "BCD") == detect.IMAGE
    assert detect.detect_kind(tmp_path) == detect.DIRECTORY
    with pytest.raises(InvalidArgumentError):
        open_hive(tmp_path / "disk.img", kind="sam")


def test_half_written_hive_without_logs_names_the_journal(store):
    import struct

    with open_hive(store) as handle:
        result = commit_handle(handle, sac_edit(handle.hive)[0])
    from bcdtool.regf.checksums import regf_checksum

    data = bytearray(store.read_bytes())    # a torn commit: base block with Sequence1 bumped only
    struct.pack_into("<I", data, 4, struct.unpack_from("<I", data, 4)[0] + 1)
    struct.pack_into("<I", data, 508, regf_checksum(bytes(data[:508])))
    store.write_bytes(bytes(data))
    with pytest.raises(InterruptedWriteError, match="half-written") as info:
        open_hive(store)
    assert result.journal in str(info.value)


def test_dirty_store_without_logs_or_journal_is_dirty_not_interrupted(store):
    """Windows left it dirty (no bcdtool journal names it): DirtyHiveError, not "half-written"."""
    import struct

    from bcdtool.errors import DirtyHiveError
    from bcdtool.regf.checksums import regf_checksum

    for log in store.parent.glob(store.name + ".LOG*"):
        log.unlink()
    data = bytearray(store.read_bytes())
    struct.pack_into("<I", data, 4, struct.unpack_from("<I", data, 4)[0] + 1)
    struct.pack_into("<I", data, 508, regf_checksum(bytes(data[:508])))
    store.write_bytes(bytes(data))
    with pytest.raises(DirtyHiveError, match="dirty"):
        open_hive(store)


def test_symlinked_store_is_written_through_the_link(store, tmp_path):
    link = tmp_path / "link-to-BCD"
    link.symlink_to(store)
    with open_hive(link) as handle:
        new_image, elements = sac_edit(handle.hive)
        commit_handle(handle, new_image)
    assert link.is_symlink()
    assert registry_elements(store.read_bytes(), elements) == elements
