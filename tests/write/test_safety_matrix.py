"""The write path's safety rules, run against every sink kind: a hive file, a store in a folder,
a store inside a disk image (FAT32 ESP and NTFS System Reserved), and Linux guest files.

Classes of issue #11 covered here: (1) nothing outside the target is written, backed up or
followed; (2) one lock per store and image, no lost update; (3) no hang on FIFOs; (4) declared
sizes capped before reading; (7) undo trusts no journal field, an interrupted undo is reported
and resumable, journals and the audit log are private.  Libguestfs: tests/backend_guestfs.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from bcdtool.errors import (FormatError, InterruptedWriteError, LimitError, LockedError,
                            UnsafePathError, UntrustedJournalError, WriteError)
from bcdtool.locate import open_hive
from bcdtool.locate.commit import commit as commit_handle
from bcdtool.locate.commit import folder_sink
from bcdtool.ops.undo import undo
from tests.helpers.common import CORPUS, REPO, need_tools, run_process, sha
from tests.helpers.guards import hang_guard
from tests.locate.locate_helpers import (DISK_STORES, build_disk, read_store_independently,
                                         registry_elements, sac_edit)

INJECT = REPO / "tests" / "crash" / "inject"
KINDS = ["file", "folder", "fat", "ntfs"]
UEFI_STORE, UEFI_LOGS = DISK_STORES["uefi"]


@dataclass
class Target:
    """One target of a sink kind: what to open, where its store is, how to read it without
    bcdtool, and which file carries the store's lock."""

    kind: str
    spec: Path
    lock_path: Path
    disk: object = None
    store_file: Path | None = None

    def store(self, tmp: Path) -> bytes:
        if self.store_file is not None:
            return self.store_file.read_bytes()
        return read_store_independently(self.spec, self.disk, self.disk.bcd_path, tmp)

    def digest(self) -> str:
        if self.kind in ("fat", "ntfs"):
            return sha(self.spec.read_bytes())
        folder = self.store_file.parent
        return sha(b"".join(p.name.encode() + (p.read_bytes() if p.is_file() else b"")
                            for p in sorted(folder.iterdir())))


@pytest.fixture(scope="module")
def disks(tmp_path_factory):
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    need_tools("sgdisk", "sfdisk", "mkfs.fat", "mcopy", "mkntfs", "ntfscp")
    folder = tmp_path_factory.mktemp("matrix")
    return {fw: build_disk(fw, folder, CORPUS) for fw in ("uefi", "bios")}


def _store_folder(dest: Path) -> Path:
    dest.mkdir(parents=True)
    shutil.copy(CORPUS / "bcd" / UEFI_STORE, dest / "BCD")
    for suffix in UEFI_LOGS:
        shutil.copy(CORPUS / "bcd" / (UEFI_STORE + suffix), dest / ("BCD" + suffix))
    return dest / "BCD"


def make_target(kind: str, tmp: Path, disks) -> Target:
    if kind == "file":
        store = _store_folder(tmp / "hive")
        return Target(kind, store, store, store_file=store)
    if kind == "folder":
        store = _store_folder(tmp / "esp" / "EFI" / "Microsoft" / "Boot")
        return Target(kind, tmp / "esp", store, store_file=store)
    disk = disks["uefi" if kind == "fat" else "bios"]
    image = tmp / f"{kind}.img"
    shutil.copyfile(disk.path, image)
    return Target(kind, image, image, disk=disk)


@pytest.fixture(params=KINDS)
def target(request, tmp_path) -> Target:
    disks = request.getfixturevalue("disks") if request.param in ("fat", "ntfs") else None
    return make_target(request.param, tmp_path, disks)


@contextlib.contextmanager
def held_lock(path: Path):
    """Another writer's exclusive lock on `path` (its own open file description)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def journal_folders(state: Path) -> list[Path]:
    folder = state / "bcdtool" / "journal"
    return sorted(folder.iterdir()) if folder.exists() else []


def commit_sac(spec, **kwargs):
    with open_hive(spec) as handle:
        image, elements = sac_edit(handle.hive)
        return commit_handle(handle, image, **kwargs), elements


# -- every sink ------------------------------------------------------------------------------------

def test_commit_then_undo_with_private_journal_and_audit_log(target, state, tmp_path):
    before, store_before = target.digest(), target.store(tmp_path)
    result, elements = commit_sac(target.spec)
    assert result.verified and registry_elements(target.store(tmp_path), elements) == elements
    (folder,) = journal_folders(state)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    audit = state / "bcdtool" / "audit.jsonl"
    assert stat.S_IMODE(audit.stat().st_mode) == 0o600
    line = json.loads(audit.read_text().splitlines()[-1])
    assert line["journal"] == result.journal and line["verified"]
    undone = undo(result.journal)
    assert undone.sha256 == sha(store_before) and target.digest() == before


def test_second_writer_waits_then_fails_and_writes_nothing(target, state):
    before = target.digest()
    with open_hive(target.spec) as handle:
        image, _ = sac_edit(handle.hive)
        with held_lock(target.lock_path), pytest.raises(LockedError, match="another bcdtool"):
            commit_handle(handle, image)
    assert target.digest() == before and not journal_folders(state)


def test_a_stale_writer_never_overwrites_a_committed_change(target, tmp_path):
    first, second = open_hive(target.spec), open_hive(target.spec)
    with first, second:
        image, elements = sac_edit(first.hive)
        commit_handle(first, image)
        stale, _ = sac_edit(second.hive)
        with pytest.raises(WriteError, match="changed since it was read"):
            commit_handle(second, stale)
    assert registry_elements(target.store(tmp_path), elements) == elements


@pytest.mark.parametrize("what", ["fifo", "symlink"])
def test_audit_log_that_is_not_a_regular_file_is_refused_before_writing(target, state, tmp_path,
                                                                        what):
    log = tmp_path / "audit.jsonl"
    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    if what == "fifo":
        os.mkfifo(log)
    else:
        log.symlink_to(outside)
    before = target.digest()
    with hang_guard(), pytest.raises(UnsafePathError, match="audit log"):
        commit_sac(target.spec, audit_log=str(log))
    assert target.digest() == before and not journal_folders(state)
    assert outside.read_text() == "keep\n"


def _edit_journal(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    text = change(doc)
    path.write_text(text if isinstance(text, str) else json.dumps(doc))


def _escape_entry(doc):
    doc["entries"][-1]["file"] = "../../outside/BCD"


def _retarget_sink(doc):
    doc["sink"]["root" if "root" in doc["sink"] else "image"] = "/etc"


def _other_file(doc):
    doc["entries"][-1]["file"] = "EFI/Boot/bootx64.efi" if doc["sink"]["kind"] == "disk" \
        else "other-file"


def _wrong_types(doc):
    doc["entries"][0]["offset"] = "0"


def _deep(doc):
    return json.dumps(doc).replace('"extra": {', '"extra": {"x": ' + "[" * 5000 + "]" * 5000
                                   + ", ", 1)


@pytest.mark.parametrize("edit", [_escape_entry, _retarget_sink, _other_file, _wrong_types, _deep])
def test_hand_edited_journal_is_refused_and_touches_nothing(target, tmp_path, edit):
    result, _ = commit_sac(target.spec)
    after = target.digest()
    _edit_journal(Path(result.journal), edit)
    # The signature is checked first (after the size and nesting caps that make parsing safe).
    with pytest.raises(FormatError if edit is _deep else UntrustedJournalError, match="journal"):
        undo(result.journal, force=True)
    assert target.digest() == after
    with pytest.raises(FormatError, match="journal"):   # trusted anyway: every check still holds
        undo(result.journal, force=True, trust=True)
    assert target.digest() == after


def test_interrupted_undo_is_reported_then_finished(target, state, tmp_path):
    store_before = target.store(tmp_path)
    result, _ = commit_sac(target.spec)
    run = run_process("undo", result.journal, state=state, cwd=REPO,
                      env={"BCDTOOL_FAULT_AFTER_WRITES": "1",
                           "PYTHONPATH": os.pathsep.join([str(INJECT), str(REPO)])})
    assert run.returncode == 86, run.stderr          # killed after its first restoring write
    with pytest.raises(InterruptedWriteError, match="undo of this store was interrupted"):
        open_hive(target.spec)
    cli = run_process("bcdedit", "/store", target.spec, "/enum", state=state, cwd=REPO)
    assert cli.returncode == 27 and "bcdtool undo" in cli.stderr
    undone = undo(result.journal)
    assert undone.sha256 == sha(store_before) and target.store(tmp_path) == store_before
    open_hive(target.spec).close()


# -- files in folders: links, FIFOs and sizes ------------------------------------------------------

FOLDER_KINDS = ["file", "folder"]


@pytest.fixture(params=FOLDER_KINDS)
def folder_target(request, tmp_path) -> Target:
    return make_target(request.param, tmp_path, None)


def _outside(tmp_path: Path) -> tuple[Path, bytes]:
    secret = tmp_path / "outside" / "shadow"
    secret.parent.mkdir()
    data = b"root:$6$secret-hash:19000:0:99999:7:::\n" * 20
    secret.write_bytes(data)
    return secret, data


def test_symlinked_log_is_never_written_backed_up_or_followed(folder_target, state, tmp_path):
    secret, data = _outside(tmp_path)
    log = folder_target.store_file.with_name("BCD.LOG1")
    log.unlink()
    log.symlink_to(secret)
    before = folder_target.digest()
    with pytest.raises(UnsafePathError, match="BCD.LOG1.*symbolic link"):
        commit_sac(folder_target.spec)
    assert secret.read_bytes() == data and folder_target.digest() == before
    assert not journal_folders(state)


def test_folder_swapped_for_a_symlink_after_open_is_not_followed(tmp_path, state):
    target = make_target("folder", tmp_path, None)
    copy = tmp_path / "outside-copy"
    shutil.copytree(target.spec / "EFI" / "Microsoft", copy)
    outside_before = sha((copy / "Boot" / "BCD").read_bytes())
    with open_hive(target.spec) as handle:
        image, _ = sac_edit(handle.hive)
        shutil.rmtree(target.spec / "EFI" / "Microsoft")
        (target.spec / "EFI" / "Microsoft").symlink_to(copy)
        with pytest.raises(UnsafePathError, match="symbolic link"):
            commit_handle(handle, image)
    assert sha((copy / "Boot" / "BCD").read_bytes()) == outside_before


def test_undo_never_replaces_a_link_by_a_file(folder_target, tmp_path):
    secret, data = _outside(tmp_path)
    result, _ = commit_sac(folder_target.spec)
    folder_target.store_file.unlink()
    folder_target.store_file.symlink_to(secret)
    with pytest.raises((UnsafePathError, WriteError)):
        undo(result.journal, force=True)
    assert folder_target.store_file.is_symlink() and secret.read_bytes() == data


def _make_dirty(store: Path) -> None:
    """Sequence numbers apart (a dirty hive): its logs are needed, so they are read."""
    import struct

    from bcdtool.regf.checksums import regf_checksum

    data = bytearray(store.read_bytes())
    struct.pack_into("<I", data, 4, struct.unpack_from("<I", data, 8)[0] + 1)
    struct.pack_into("<I", data, 508, regf_checksum(bytes(data[:508])))
    store.write_bytes(bytes(data))


@pytest.mark.parametrize("dirty", [False, True], ids=["clean", "dirty"])
def test_fifo_log_never_hangs(folder_target, dirty):
    log = folder_target.store_file.with_name("BCD.LOG1")
    log.unlink()
    os.mkfifo(log)
    if dirty:
        _make_dirty(folder_target.store_file)
        with hang_guard(), pytest.raises(UnsafePathError):
            open_hive(folder_target.spec)
    else:
        with hang_guard(), pytest.raises(UnsafePathError, match="special file"):
            commit_sac(folder_target.spec)


@pytest.mark.parametrize("dirty", [False, True], ids=["clean", "dirty"])
def test_huge_sparse_log_is_not_read(folder_target, dirty):
    log = folder_target.store_file.with_name("BCD.LOG1")
    with open(log, "wb") as handle:          # 1 GiB declared, nothing allocated, zero head
        handle.truncate(1 << 30)
    if dirty:
        _make_dirty(folder_target.store_file)
        with pytest.raises(LimitError, match="cap"):
            open_hive(folder_target.spec)
    else:
        result, _ = commit_sac(folder_target.spec)   # a clean store never reads its logs
        assert result.verified and log.stat().st_size == 1 << 30


def test_store_over_the_cap_is_refused_before_reading(folder_target):
    with open(folder_target.store_file, "r+b") as handle:
        handle.truncate(65 * 1024 * 1024)
    with pytest.raises(LimitError, match="cap"):
        open_hive(folder_target.spec)


def test_folder_and_the_store_inside_share_one_lock(tmp_path, state):
    target = make_target("folder", tmp_path, None)
    with open_hive(target.spec) as via_folder, open_hive(target.store_file) as via_file:
        image, _ = sac_edit(via_folder.hive)
        with folder_sink(via_file.store).lock(), pytest.raises(LockedError):
            commit_handle(via_folder, image)
    assert not journal_folders(state)


@pytest.mark.parametrize("what", ["fifo", "symlink"])
def test_backup_copy_path_that_is_not_a_regular_file_is_refused(tmp_path, what):
    from bcdtool.ops.backup import save_original

    secret, data = _outside(tmp_path)
    path = tmp_path / "backup.bcd"
    if what == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(secret)
    with hang_guard(), pytest.raises(UnsafePathError, match="backup path"):
        save_original(path, [b"regf" + bytes(4092)])
    assert secret.read_bytes() == data
