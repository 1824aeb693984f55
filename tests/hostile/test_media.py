"""Failing, full and read-only media under the one write path, on real mounts (issue #11's
ENOSPC/EROFS/EIO class, session 5): a FUSE file system that answers EIO to chosen writes or
fsyncs (tests/helpers/faultfs.py; device-mapper is not available in every container), and small
tmpfs mounts filled to the last block.  Every case checks the target's bytes on the medium
underneath (sha256, python-registry and hivexsh reading the store), the one-line error, its exit
code and the next step it names.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from Registry import Registry

from fixtures.images import fat_get, make_fat_volume
from tests.helpers.common import CORPUS
from tests.helpers.media import fill, tmpfs
from tests.hostile.hostile_helpers import run_cli

try:        # mfusepy (test extras) loads libfuse when imported: a machine without it skips
    from tests.helpers.faultfs import fail, mounted
except (ImportError, OSError) as missing:
    NO_FUSE: str | None = f"no FUSE binding: {missing}"
else:
    NO_FUSE = None

STORE = "win11-uefi-installed-2025.bcd"
SET = ["/set", "{bootmgr}", "timeout", "7"]
#: Exit codes (README): a failed write, the medium failing under it, a refusal of the path.
WRITE, MEDIA = 25, 39

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def readable(path: Path) -> None:
    """python-registry and hivexsh (two independent readers) open the hive."""
    assert [k.name() for k in Registry.Registry(str(path)).root().subkeys()]
    hivexsh = shutil.which("hivexsh")
    if hivexsh:
        done = subprocess.run([hivexsh, "-w", str(path)], input="ls\n", capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0 and "Objects" in done.stdout, done.stderr


def store_in(folder: Path, *, logs: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CORPUS / "bcd" / STORE, folder / "BCD")
    for log in ("LOG", "LOG1") if logs else ():
        shutil.copyfile(CORPUS / "bcd" / f"{STORE}.{log}", folder / f"BCD.{log}")
    return folder / "BCD"


def cli(state, *args):
    return run_cli(*map(str, args), state=state, timeout=300)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def journals(state: Path) -> list[Path]:
    return sorted((state / "bcdtool" / "journal").glob("*/journal.json"))


@pytest.fixture
def faulty(tmp_path):
    """(backing folder, FUSE mount of it, rules file): tests/helpers/faultfs.py."""
    if NO_FUSE:
        pytest.skip(NO_FUSE)
    backing, rules = tmp_path / "backing", tmp_path / "rules.json"
    backing.mkdir()
    try:
        with mounted(backing, tmp_path / "mnt", rules) as mnt:
            yield backing, mnt, rules
    except RuntimeError as exc:
        pytest.skip(f"FUSE cannot mount here: {exc}")


# -- EIO under the write -------------------------------------------------------------------------

def test_eio_on_the_store_write(tmp_path, state, faulty):
    """The disk refuses the store's first write with EIO: exit 39 (MediaError), one line naming
    ddrescue, the bytes on the medium are the original ones, and nothing is pending."""
    backing, mnt, rules = faulty
    store_in(backing, logs=False)
    before = sha(backing / "BCD")
    fail(rules, "write", "BCD")
    done = cli(state, "bcdedit", "/store", mnt / "BCD", *SET)
    line = one_line(done.stderr)
    assert done.returncode == MEDIA, done.stderr
    assert "ddrescue" in line and "Input/output error" in line
    assert "original bytes" in line
    assert sha(backing / "BCD") == before
    readable(backing / "BCD")
    fail(rules, "write", "BCD", "")
    assert cli(state, "bcdedit", "/store", mnt / "BCD", "/enum").returncode == 0  # not pending


def test_eio_on_fsync_is_recovered(tmp_path, state, faulty):
    """Every write lands but the store's fsync answers EIO (the data may not be on the disk):
    exit 39 naming ddrescue; either the restore read back the original bytes (and says so), or
    the message names the journal and, once the medium works again, `undo` puts the original
    bytes back (read by python-registry and hivexsh)."""
    backing, mnt, rules = faulty
    store_in(backing)
    before = sha(backing / "BCD")
    fail(rules, "fsync", "BCD")
    done = cli(state, "bcdedit", "/store", mnt / "BCD", *SET)
    line = one_line(done.stderr)
    assert done.returncode == MEDIA, done.stderr
    assert "ddrescue" in line and "fsync" in line
    fail(rules, "fsync", "BCD", "")
    if "restoring the original bytes failed" in line:
        [journal] = journals(state)
        assert str(journal) in line
        opened = cli(state, "bcdedit", "/store", mnt / "BCD", "/enum")
        assert opened.returncode == 27 and str(journal) in opened.stderr
        undone = cli(state, "undo", journal)
        assert undone.returncode == 0, undone.stderr
    else:
        assert "original bytes were restored" in line
        assert cli(state, "bcdedit", "/store", mnt / "BCD", "/enum").returncode == 0
    assert sha(backing / "BCD") == before
    readable(backing / "BCD")


@pytest.mark.parametrize("operation", ["write", "fsync"])
def test_eio_on_a_log_header(tmp_path, state, faulty, operation):
    """The store is written, then the disk fails under its log's header (write or fsync):
    exit 39; the store's bytes on the medium are the original ones afterwards, or `undo`
    restores them."""
    backing, mnt, rules = faulty
    store_in(backing)
    before = {name: sha(backing / name) for name in ("BCD", "BCD.LOG", "BCD.LOG1")}
    fail(rules, operation, "BCD.LOG1")
    done = cli(state, "bcdedit", "/store", mnt / "BCD", *SET)
    one_line(done.stderr)
    assert done.returncode == MEDIA, done.stderr
    fail(rules, operation, "BCD.LOG1", "")
    if sha(backing / "BCD") != before["BCD"] or "restoring" in done.stderr:
        [journal] = journals(state)
        assert cli(state, "undo", journal).returncode == 0
    assert {name: sha(backing / name) for name in before} == before
    readable(backing / "BCD")


@pytest.mark.parametrize("operation", ["write", "fsync"])
def test_eio_under_a_disk_image(tmp_path, state, faulty, operation):
    """The store inside a FAT disk image (the disk sink: the file's extents written in place):
    the image's medium fails a write or the fsync with EIO: exit 39 naming ddrescue, and the
    image reads back (mcopy) with the original store, at once or after `undo`."""
    backing, mnt, rules = faulty
    original = (CORPUS / "bcd" / STORE).read_bytes()
    make_fat_volume(backing / "esp.img", {"EFI/Microsoft/Boot/BCD": original})
    before = sha(backing / "esp.img")
    fail(rules, operation, "esp.img")
    done = cli(state, "serial-console", "enable", mnt / "esp.img")
    line = one_line(done.stderr)
    assert done.returncode == MEDIA, done.stderr
    assert "ddrescue" in line
    fail(rules, operation, "esp.img", "")
    if "restoring the original bytes failed" in line:
        [journal] = journals(state)
        assert cli(state, "undo", journal).returncode == 0
    assert sha(backing / "esp.img") == before
    assert fat_get(backing / "esp.img", "EFI/Microsoft/Boot/BCD") == original


def test_eio_under_the_journal(tmp_path, state, faulty):
    """The journal's medium fails (--backup-dir on it): exit 39, nothing written to the store,
    and no half journal left there."""
    backing, mnt, rules = faulty
    store = store_in(tmp_path / "boot")
    before = sha(store)
    fail(rules, "write", "*")
    done = cli(state, "bcdedit", "--backup-dir", mnt, "/store", store, *SET)
    assert done.returncode == MEDIA, done.stderr
    assert "ddrescue" in one_line(done.stderr)
    assert sha(store) == before
    assert list(backing.iterdir()) == []
    assert cli(state, "bcdedit", "/store", store, "/enum").returncode == 0


def test_eio_under_the_backup_copy(tmp_path, state, faulty):
    """`--backup` on a failing medium: exit 39 naming ddrescue, no half copy, the store
    untouched (the copy is made before the write)."""
    backing, mnt, rules = faulty
    store = store_in(tmp_path / "boot")
    before = sha(store)
    fail(rules, "write", "BCD.copy")
    done = cli(state, "bcdedit", "--backup", mnt / "BCD.copy", "/store", store, *SET)
    assert done.returncode == MEDIA, done.stderr
    assert "ddrescue" in one_line(done.stderr)
    assert sha(store) == before
    assert list(backing.iterdir()) == []


def test_journal_failing_after_a_verified_write_is_a_warning(tmp_path, state, faulty):
    """The journal's medium (--backup-dir) refuses only its last update (marking the write
    done), after the write was verified: exit 0 with a notice naming the journal, no pending
    marker (the next open is not "interrupted"), and the journal still undoes the write."""
    backing, mnt, rules = faulty
    store = store_in(tmp_path / "boot")
    before = sha(store)
    fail(rules, "create", ".journal.json.*", "ENOSPC@2")    # planned, writing; then done
    done = cli(state, "bcdedit", "--backup-dir", mnt, "/store", store, *SET)
    assert done.returncode == 0, done.stderr
    assert "could not be marked done" in done.stderr
    [journal] = sorted(mnt.glob("*/journal.json"))
    assert str(journal) in done.stderr
    assert sha(store) != before
    readable(store)
    assert cli(state, "bcdedit", "/store", store, "/enum").returncode == 0
    fail(rules, "create", ".journal.json.*", "")
    undone = cli(state, "undo", journal)
    assert undone.returncode == 0, undone.stderr
    assert sha(store) == before


# -- full file systems: nothing written, nothing left behind ---------------------------------

@pytest.fixture
def small_tmpfs(tmp_path):
    """A 1 MiB tmpfs at tmp_path/small (skipped where it cannot be mounted: not root)."""
    with tmpfs(tmp_path / "small", "1m") as where:
        yield where


@pytest.mark.parametrize("leave", [0, 8192], ids=["full", "room-for-journal-json"])
def test_full_journal_folder_is_removed(tmp_path, state, small_tmpfs, leave):
    """The journal folder fills up (at journal.json, or at the first backup): exit 25 naming
    df -h, the store untouched, and no journal folder left behind."""
    store = store_in(tmp_path / "boot")
    before = sha(store)
    fill(small_tmpfs, leave=leave)
    done = cli(state, "bcdedit", "--backup-dir", small_tmpfs, "/store", store, *SET)
    assert done.returncode == WRITE, done.stderr
    assert "df -h" in one_line(done.stderr)
    assert sha(store) == before
    assert sorted(p.name for p in small_tmpfs.iterdir()) == ["fill"]
    assert cli(state, "bcdedit", "/store", store, "/enum").returncode == 0


def test_full_backup_copy_leaves_nothing(tmp_path, state, small_tmpfs):
    store = store_in(tmp_path / "boot")
    before = sha(store)
    fill(small_tmpfs, leave=8192)
    done = cli(state, "bcdedit", "--backup", small_tmpfs / "BCD.copy", "/store", store, *SET)
    assert done.returncode == WRITE, done.stderr
    assert "df -h" in one_line(done.stderr)
    assert sha(store) == before
    assert sorted(p.name for p in small_tmpfs.iterdir()) == ["fill"]


@pytest.mark.parametrize("command", [["hive", "new", "NEW"], ["bcdedit", "/createstore", "NEW"]])
def test_new_file_on_a_full_file_system_leaves_nothing(tmp_path, state, small_tmpfs, command):
    """A new store or hive on a full file system: exit 25 naming df -h, no empty or partial file
    left at the name."""
    fill(small_tmpfs, leave=4096)
    new = small_tmpfs / "BCD"
    done = cli(state, *[new if word == "NEW" else word for word in command])
    assert done.returncode == WRITE, done.stderr
    assert "df -h" in one_line(done.stderr)
    assert sorted(p.name for p in small_tmpfs.iterdir()) == ["fill"]


# -- the audit log ------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["full", "read-only"])
def test_audit_log_that_cannot_be_written_refuses_before_the_write(tmp_path, state, small_tmpfs,
                                                                    how):
    """An audit log on a full or read-only file system: refused before anything is written
    (exit 25, one line naming the next step), no journal made, the store untouched."""
    store = store_in(tmp_path / "boot")
    before = sha(store)
    log = small_tmpfs / "audit.jsonl"
    log.write_text("")
    if how == "full":
        fill(small_tmpfs)
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    done = cli(state, "bcdedit", "--audit-log", log, "/store", store, *SET)
    line = one_line(done.stderr)
    assert done.returncode == WRITE, done.stderr
    assert "nothing was written" in line
    assert ("df -h" if how == "full" else "remount") in line
    assert sha(store) == before
    assert journals(state) == []


def test_audit_line_failing_after_a_verified_write_is_a_warning(tmp_path, state, faulty):
    """The audit log's medium fails only when the line is appended, after the write was
    verified: exit 0 (the write stands, its journal undoes it), a warning on stderr naming the
    journal, and the store holds the change (python-registry reads it)."""
    backing, mnt, rules = faulty
    store = store_in(tmp_path / "boot")
    log = mnt / "audit.jsonl"
    fail(rules, "write", "audit.jsonl")
    done = cli(state, "bcdedit", "--json", "--audit-log", log, "/store", store, *SET)
    assert done.returncode == 0, done.stderr
    assert "audit line could not be appended" in done.stderr
    [journal] = journals(state)
    assert str(journal) in done.stderr
    doc = json.loads(done.stdout)
    assert doc["audit"] is None
    assert (backing / "audit.jsonl").read_bytes() == b""
    readable(store)
    shown = cli(state, "bcdedit", "/store", store, "/enum", "{bootmgr}")
    assert "timeout                 7" in shown.stdout or "timeout 7" in " ".join(
        shown.stdout.split())


def test_linux_fix_audit_line_failing_after_the_write_is_a_warning(tmp_path, state, faulty):
    """The same for `linux fix` on a guest root: exit 0, the warning on stderr and in the JSON
    notes, the guest fixed."""
    backing, mnt, rules = faulty
    root = tmp_path / "guest"
    shutil.copytree(CORPUS / "linux" / "ubuntu-22.04-cloudimg-amd64", root, symlinks=True)
    fail(rules, "write", "audit.jsonl")
    done = cli(state, "linux", "fix", root, "--json", "--audit-log", mnt / "audit.jsonl")
    assert done.returncode == 0, done.stderr
    assert "audit line could not be appended" in done.stderr
    assert any("audit line" in note for note in json.loads(done.stdout)["notices"])
    assert cli(state, "linux", "check", root).returncode == 0


def test_refused_write_creates_no_audit_log(tmp_path, state):
    """A write refused after the audit log was opened (here by the policy: the store has a
    second hard link) leaves no empty audit log behind that the run created."""
    store = store_in(tmp_path / "boot")
    os.link(store, tmp_path / "elsewhere")
    log = tmp_path / "audit.jsonl"
    done = cli(state, "serial-console", "enable", store, "--audit-log", log)
    assert done.returncode == 31, done.stderr
    assert "hard link" in done.stderr
    assert not log.exists()
    assert sha(store) == sha(CORPUS / "bcd" / STORE)
