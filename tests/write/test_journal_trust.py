"""Undo trusts only journals this user's bcdtool signed (HMAC-SHA256 with a 0600 key in the
state folder), and reads the version 1 journals of older bcdtools through the same checks.

Forged and copied journals: a fully consistent journal naming another store is refused (exit
38) before anything is opened; a journal from another machine (another key) is refused until
`--trust-journal`, which still applies every path, offset and target check.  The key file:
created 0600 in a 0700 folder; a symlink, a FIFO, another mode or owner is refused (exit 31) for
writes and undos alike.  Version 1 journals are written by the real version 1 code (git history,
commit 9f198d2^) and restored by today's undo, read back by independent readers.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tarfile
import io
from pathlib import Path

import pytest

from bcdtool.errors import FormatError, UnsafePathError, UntrustedJournalError
from tests.helpers.common import CORPUS, need_tools, run_process, sha
from tests.hostile.hostile_helpers import run_cli
from tests.locate.locate_helpers import build_disk, read_store_independently

REPO = Path(__file__).resolve().parents[2]
STORE = "win10-bios-installed-sysreserved.bcd"
EDIT = ["/set", "{bootmgr}", "timeout", "7"]
#: The last commit whose bcdtool wrote version 1 journals.
V1_COMMIT = "9f198d2^"


@pytest.fixture
def store(tmp_path) -> Path:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    folder = tmp_path / "boot"
    folder.mkdir()
    shutil.copy(CORPUS / "bcd" / STORE, folder / "BCD")
    shutil.copy(CORPUS / "bcd" / (STORE + ".LOG"), folder / "BCD.LOG")
    return folder / "BCD"


def _write(store: Path, state: Path, *args) -> Path:
    done = run_cli("bcdedit", "/store", store, *(args or EDIT),
                   env={"XDG_STATE_HOME": str(state)})
    assert done.returncode == 0, done.stderr
    (journal,) = (state / "bcdtool" / "journal").glob("*/journal.json")
    return journal


def _undo(journal: Path, state: Path, *options) -> subprocess.CompletedProcess:
    return run_cli("undo", *options, journal, env={"XDG_STATE_HOME": str(state)})


def _folder_digest(folder: Path) -> str:
    return sha(b"".join(p.name.encode() + p.read_bytes() for p in sorted(folder.iterdir())
                        if p.is_file()))


# -- signatures -----------------------------------------------------------------------------------

def test_key_is_private_and_journals_are_signed(store, state):
    journal = _write(store, state)
    key = state / "bcdtool" / "journal.key"
    info = key.lstat()
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_size == 32 and info.st_uid == os.geteuid()
    assert stat.S_IMODE((state / "bcdtool").stat().st_mode) == 0o700
    assert len(json.loads(journal.read_text())["mac"]) == 64
    original = (CORPUS / "bcd" / STORE).read_bytes()
    assert _undo(journal, state).returncode == 0
    assert store.read_bytes() == original


def test_consistent_forged_journal_naming_another_store_is_refused(store, state, tmp_path):
    """The attack of the issue: every field agrees with the other store (key, paths, sizes,
    checksums), so only the signature can tell; --force does not help the forger."""
    journal = _write(store, state)
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    victim = victim_dir / "BCD"
    shutil.copy(store, victim)          # the edited store: the journal's "after" matches it
    doc = json.loads(journal.read_text())
    root = str(victim_dir)
    doc["sink"].update(root=root, target=str(victim), key="file:" + str(victim))
    doc["target_key"] = "file:" + str(victim)
    doc["target"] = str(victim)
    doc["entries"] = [e for e in doc["entries"] if e["file"] == "BCD"]
    journal.write_text(json.dumps(doc))
    before = _folder_digest(victim_dir)
    for options in ((), ("--force",)):
        done = _undo(journal, state, *options)
        assert done.returncode == UntrustedJournalError.exit_code, done.stderr
        assert "--trust-journal" in done.stderr and "Traceback" not in done.stderr
    assert _folder_digest(victim_dir) == before


def test_journal_from_another_machine_needs_trust_and_is_still_checked(store, state, tmp_path):
    journal = _write(store, state)
    original = (CORPUS / "bcd" / STORE).read_bytes()
    elsewhere = tmp_path / "rescue-machine-2"        # another state folder: another key
    copied = tmp_path / "copied"
    shutil.copytree(journal.parent, copied)
    done = _undo(copied / "journal.json", elsewhere)
    assert done.returncode == UntrustedJournalError.exit_code and "trust-journal" in done.stderr
    assert store.read_bytes() != original
    # Trusted, but edited to reach outside its store: the path checks still refuse it.
    doc = json.loads((copied / "journal.json").read_text())
    doc["entries"][0]["file"] = "../../etc/passwd"
    bad = tmp_path / "bad"
    shutil.copytree(copied, bad)
    (bad / "journal.json").write_text(json.dumps(doc))
    done = _undo(bad / "journal.json", elsewhere, "--trust-journal")
    assert done.returncode == FormatError.exit_code, done.stderr
    # Trusted as it was written: restored.
    done = _undo(copied / "journal.json", elsewhere, "--trust-journal")
    assert done.returncode == 0, done.stderr
    assert store.read_bytes() == original


@pytest.mark.parametrize("bad_key", ["symlink", "mode", "fifo", "owner", "short"])
def test_unsafe_key_file_is_refused_for_writes_and_undos(store, state, tmp_path, bad_key):
    journal = _write(store, state)
    key = state / "bcdtool" / "journal.key"
    secret = key.read_bytes()
    key.unlink()
    if bad_key == "symlink":
        (tmp_path / "elsewhere").write_bytes(secret)
        key.symlink_to(tmp_path / "elsewhere")
    elif bad_key == "fifo":
        os.mkfifo(key, 0o600)
    elif bad_key == "short":
        key.write_bytes(secret[:16])
        key.chmod(0o600)
    else:
        key.write_bytes(secret)
        key.chmod(0o644 if bad_key == "mode" else 0o600)
        if bad_key == "owner":
            if os.geteuid() != 0:
                pytest.skip("changing a file's owner needs root")
            os.chown(key, 65534, 65534)
    before = _folder_digest(store.parent)
    done = _undo(journal, state)
    assert done.returncode == UnsafePathError.exit_code, done.stderr
    assert "journal key" in done.stderr and "Traceback" not in done.stderr
    done = run_cli("bcdedit", "/store", store, "/set", "{bootmgr}", "timeout", "9",
                   env={"XDG_STATE_HOME": str(state)}, timeout=60)
    assert done.returncode == UnsafePathError.exit_code, done.stderr
    assert _folder_digest(store.parent) == before


# -- version 1 journals, written by the version 1 code -------------------------------------------

@pytest.fixture(scope="module")
def v1_tree(tmp_path_factory) -> Path:
    """The bcdtool package of the last commit that wrote version 1 journals."""
    archive = subprocess.run(["git", "archive", V1_COMMIT, "bcdtool"], cwd=REPO,
                             capture_output=True)
    if archive.returncode != 0:
        pytest.skip(f"git history without {V1_COMMIT}: {archive.stderr.decode()[:200]}")
    folder = tmp_path_factory.mktemp("v1")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def _v1_write(v1_tree: Path, target: Path, state: Path) -> Path:
    # The v1 code base (PYTHONPATH) writes the journal, as an older bcdtool did.
    done = run_process("bcdedit", "/store", target, *EDIT, cwd=v1_tree, timeout=300, state=state,
                       env={"PYTHONPATH": str(v1_tree)})
    assert done.returncode == 0, done.stderr
    (journal,) = (state / "bcdtool" / "journal").glob("*/journal.json")
    assert json.loads(journal.read_text())["version"] == 1
    return journal


def test_v1_hive_file_journal_is_restored_with_trust(v1_tree, store, state):
    original = {p.name: p.read_bytes() for p in store.parent.iterdir()}
    journal = _v1_write(v1_tree, store, state)
    assert store.read_bytes() != original["BCD"]
    done = _undo(journal, state)
    assert done.returncode == UntrustedJournalError.exit_code
    assert "version 1" in done.stderr and "--trust-journal" in done.stderr
    done = _undo(journal, state, "--trust-journal")
    assert done.returncode == 0, done.stderr
    assert {p.name: p.read_bytes() for p in store.parent.iterdir()} == original


def test_v1_disk_journal_is_restored_through_the_disk_sink(v1_tree, state, tmp_path):
    need_tools("sgdisk", "sfdisk", "mkfs.fat", "mcopy")
    disk = build_disk("uefi", tmp_path, CORPUS)
    image = Path(disk.path)
    before = sha(image.read_bytes())
    store_before = read_store_independently(image, disk, disk.bcd_path, tmp_path)
    journal = _v1_write(v1_tree, image, state)
    assert sha(image.read_bytes()) != before
    done = _undo(journal, state, "--trust-journal")
    assert done.returncode == 0, done.stderr
    assert read_store_independently(image, disk, disk.bcd_path, tmp_path) == store_before
    assert sha(image.read_bytes()) == before


def test_v1_disk_journal_with_moved_ranges_is_refused(v1_tree, state, tmp_path):
    """A version 1 journal names device offsets: undo restores them only where the file's
    extents lie now, so an edited offset (pointing at another file's bytes) is refused."""
    need_tools("sgdisk", "sfdisk", "mkfs.fat", "mcopy")
    disk = build_disk("uefi", tmp_path, CORPUS)
    image = Path(disk.path)
    journal = _v1_write(v1_tree, image, state)
    doc = json.loads(journal.read_text())
    doc["entries"][0]["offset"] += 4096
    journal.write_text(json.dumps(doc))
    after = sha(image.read_bytes())
    done = _undo(journal, state, "--trust-journal", "--force")
    assert done.returncode == FormatError.exit_code, done.stderr
    assert "no longer lies where" in done.stderr
    assert sha(image.read_bytes()) == after


def test_interrupted_write_is_reported_even_when_the_key_is_lost(store, state):
    """Reporting an interrupted write only refuses to go on, so it does not need the key; the
    restore does (here: the key was removed, so --trust-journal)."""
    original = store.read_bytes()
    inject = REPO / "tests" / "crash" / "inject"
    done = run_cli("bcdedit", "/store", store, *EDIT,
                   env={"XDG_STATE_HOME": str(state), "BCDTOOL_FAULT_AFTER_WRITES": "2",
                        "PYTHONPATH": os.pathsep.join([str(inject), str(REPO)])})
    assert done.returncode == 86, done.stderr                # killed mid-write
    (state / "bcdtool" / "journal.key").unlink()
    opened = run_cli("enum", store, env={"XDG_STATE_HOME": str(state)})
    assert opened.returncode == 27 and "bcdtool undo" in opened.stderr, opened.stderr
    (journal,) = (state / "bcdtool" / "journal").glob("*/journal.json")
    assert _undo(journal, state).returncode == UntrustedJournalError.exit_code
    done = _undo(journal, state, "--trust-journal")
    assert done.returncode == 0, done.stderr
    assert store.read_bytes() == original


def test_v1_linux_fix_journal_is_restored_with_trust(v1_tree, state, tmp_path):
    """`linux fix` by the version 1 code (files edited, a getty link created), undone by today's
    undo: every file and link as before (compared without following links)."""
    from fixtures import linux_roots

    root = linux_roots.build("debian-12", "broken", tmp_path / "root")
    before = _tree(root)
    done = run_process("linux", "fix", root, cwd=v1_tree, timeout=300, state=state,
                       env={"PYTHONPATH": str(v1_tree)})
    assert done.returncode == 0, done.stderr
    (journal,) = (state / "bcdtool" / "journal").glob("*/journal.json")
    assert json.loads(journal.read_text())["version"] == 1 and _tree(root) != before
    assert _undo(journal, state).returncode == UntrustedJournalError.exit_code
    done = _undo(journal, state, "--trust-journal")
    assert done.returncode == 0, done.stderr
    assert _tree(root) == before


def _tree(root: Path) -> dict:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[str(path.relative_to(root))] = "-> " + os.readlink(path)
        elif path.is_file():
            out[str(path.relative_to(root))] = sha(path.read_bytes())
    return out
