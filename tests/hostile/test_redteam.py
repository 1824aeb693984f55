"""Session 4 red team: new variants of issue #11's classes, each found through the real CLI on
real files and fixed; every case checks the target's bytes after a refused or failed write
(sha256, and python-registry reading the store where it is a hive).

- bcdtool's own output landing in the target: `--audit-log`, `--backup`, `batch --output`
  naming the store, one of its logs, the manifest, or a file inside a target folder or guest
  root; `--backup-dir` inside a guest root (was: JSON lines appended to the store, a "backup"
  that is the edited store itself, exit 0);
- a target named through a process's open file (`/dev/stdin < BCD`, `/proc/self/cwd/...`):
  the file handed over to be read was reopened and written (exit 0);
- `undo` after someone changed bytes a write appended past the file's old size: silently cut
  off (exit 0);
- a transaction log changed between its hash check and its replay: the changed page replayed;
- a dirty hive with a damaged base block in front of zero padding: read whole (2.8 GB peak for
  a 900 MiB sparse SOFTWARE; a padded 63 MiB BCD refused, exit 30).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from Registry import Registry

from bcdtool.errors import DirtyHiveError, UnsafePathError
from bcdtool.ops.serial_console import SerialOptions, enable
from bcdtool.regf.checksums import regf_checksum
from bcdtool.regf.logs import LogSource, recover
from bcdtool.write import observe
from bcdtool.write.journal import interrupted
from bcdtool.write.sinks.folder import FolderSink
from fixtures.big_stores import log_entry
from fixtures.images import fat_get, make_fat_volume
from tests.helpers.common import CORPUS, REPO
from tests.helpers.media import fill, tmpfs
from tests.hostile.hostile_helpers import run_cli
from tests.hostile_matrix.test_peak_memory import measured

STORE = "win11-uefi-installed-2025.bcd"
SET = ["/set", "{bootmgr}", "timeout", "7"]
MiB = 1 << 20

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def readable(path: Path) -> None:
    """python-registry (an independent reader) opens the hive and lists its root."""
    assert [k.name() for k in Registry.Registry(str(path)).root().subkeys()]


def store_in(folder: Path, *, logs: bool = True) -> Path:
    """A copy of the corpus store (and its logs) as `folder`/BCD."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CORPUS / "bcd" / STORE, folder / "BCD")
    for log in ("LOG", "LOG1") if logs else ():
        shutil.copyfile(CORPUS / "bcd" / f"{STORE}.{log}", folder / f"BCD.{log}")
    return folder / "BCD"


def cli(state, *args, **kwargs):
    return run_cli(*map(str, args), state=state, timeout=300, **kwargs)


# -- bcdtool's own output never lands in the target ----------------------------------------------

def _folder_target(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "esp"
    return root, store_in(root / "EFI" / "Microsoft" / "Boot")


OWN_OUTPUT = {
    # name: (arguments, the file that must not change) built from (tmp_path, store, folder)
    "--audit-log the store": lambda s, f: (["bcdedit", "--audit-log", s, "/store", s, *SET], s),
    "--audit-log a log beside it": lambda s, f: (
        ["bcdedit", "--audit-log", s.with_name("BCD.LOG1"), "/store", s, *SET],
        s.with_name("BCD.LOG1")),
    "--audit-log the store in a folder target": lambda s, f: (
        ["serial-console", "enable", f, "--audit-log", s], s),
    "--backup the store": lambda s, f: (["bcdedit", "--backup", s, "/store", s, *SET], s),
    "--backup the store in a folder target": lambda s, f: (
        ["serial-console", "enable", f, "--backup", s], s),
}


@pytest.mark.parametrize("case", list(OWN_OUTPUT))
def test_own_output_never_lands_in_the_store(tmp_path, state, case):
    folder, store = _folder_target(tmp_path)
    args, guarded = OWN_OUTPUT[case](store, folder)
    before, store_before = sha(guarded), sha(store)
    done = cli(state, *args)
    assert done.returncode == 31, done.stderr
    assert "outside the target" in done.stderr and "Traceback" not in done.stderr
    assert sha(guarded) == before and sha(store) == store_before
    readable(store)
    assert not (state / "bcdtool" / "journal").exists() or \
        not any((state / "bcdtool" / "journal").iterdir())


@pytest.mark.parametrize(("option", "through"), [("--audit-log", "the image"),
                                                  ("--backup", "the image"),
                                                  ("--audit-log", "a qcow2 overlay")])
def test_own_output_never_lands_in_the_image(tmp_path, state, option, through):
    """The image, or the backing file of an overlay (a file the target reads from), named as
    bcdtool's own output."""
    image = make_fat_volume(tmp_path / "esp.img",
                            {"EFI/Microsoft/Boot/BCD": (CORPUS / "bcd" / STORE).read_bytes()},
                            fat_bits=16)
    target = image
    if through == "a qcow2 overlay":
        target = tmp_path / "over.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(image), "-F", "raw",
                        str(target)], check=True)
    before = sha(image)
    done = cli(state, "serial-console", "enable", target, option, image)
    assert done.returncode == 31, done.stderr
    assert sha(image) == before
    (tmp_path / "BCD").write_bytes(fat_get(image, "EFI/Microsoft/Boot/BCD"))   # mtools reads it
    assert sha(tmp_path / "BCD") == sha(CORPUS / "bcd" / STORE)


def test_own_output_beside_the_store_is_fine(tmp_path, state):
    """The rule is about the target's files, not its folder: an audit log and a backup beside
    a hive file are what users do."""
    store = store_in(tmp_path)
    original = store.read_bytes()
    done = cli(state, "bcdedit", "--audit-log", tmp_path / "audit.jsonl", "--backup",
               tmp_path / "BCD.orig", "/store", store, *SET)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "BCD.orig").read_bytes() == original
    assert (tmp_path / "audit.jsonl").read_text().count("\n") == 1


@pytest.mark.parametrize("where", ["a target", "the manifest", "inside a folder target"])
def test_batch_output_is_never_a_target_or_the_manifest(tmp_path, state, where):
    store = store_in(tmp_path / "files")
    folder, inside = _folder_target(tmp_path)
    manifest = tmp_path / "manifest"
    manifest.write_text(f"{store}\n{folder}\n")
    output = {"a target": store, "the manifest": manifest,
              "inside a folder target": folder / "out.jsonl"}[where]
    sums = {p: sha(p) for p in (store, inside, manifest)}
    done = cli(state, "batch", "--output", output, manifest)
    assert done.returncode == 31, done.stderr
    assert {p: sha(p) for p in sums} == sums
    assert not (folder / "out.jsonl").exists()
    readable(store)


def _guest(tmp_path: Path) -> Path:
    root = tmp_path / "guest"
    shutil.copytree(CORPUS / "linux" / "ubuntu-22.04-cloudimg-amd64", root, symlinks=True)
    return root


def tree(root: Path) -> dict[str, str]:
    """Every entry below `root`: a file's sha256, a link's target, "dir" for a folder."""
    return {str(p.relative_to(root)): os.readlink(p) if p.is_symlink() else
            "dir" if p.is_dir() else sha(p) for p in sorted(root.rglob("*"))}


def test_linux_fix_journal_never_lands_in_the_guest(tmp_path, state):
    root = _guest(tmp_path)
    before = tree(root)
    done = cli(state, "linux", "fix", root, "--backup-dir", root / "var" / "tmp" / "journals")
    assert done.returncode == 31, done.stderr
    assert "outside the target" in done.stderr
    assert tree(root) == before
    assert cli(state, "linux", "fix", root, "--backup-dir", tmp_path / "journals").returncode == 0


# -- a target named through a process's open file ------------------------------------------------

def _with_stdin(state, stdin: Path, *args) -> subprocess.CompletedProcess:
    """`bcdtool ARGS < stdin` (stdin is the file itself, as a shell redirection gives it)."""
    with open(stdin, "rb") as handle:
        return subprocess.run([sys.executable, "-m", "bcdtool", *map(str, args)], stdin=handle,
                              env=dict(os.environ, XDG_STATE_HOME=str(state)), cwd=REPO,
                              capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", ["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"])
def test_store_handed_over_on_stdin_is_read_but_never_written(tmp_path, state, name):
    store = store_in(tmp_path, logs=False)
    before = sha(store)
    done = _with_stdin(state, store, "serial-console", "enable", name)
    assert done.returncode == 31, done.stderr
    assert str(store) in done.stderr       # the next step: name the file itself
    assert sha(store) == before
    read = _with_stdin(state, store, "serial-console", "status", name)
    assert read.returncode in (0, 3), read.stderr
    readable(store)


def test_store_named_through_proc_cwd_is_never_written(tmp_path, state):
    store = store_in(tmp_path, logs=False)
    before = sha(store)
    done = run_cli("bcdedit", "/store", "/proc/self/cwd/BCD", *SET, state=state, cwd=tmp_path)
    assert done.returncode == 31, done.stderr
    assert sha(store) == before
    assert run_cli("bcdedit", "/store", "BCD", *SET, state=state, cwd=tmp_path).returncode == 0


# -- undo notices changes past the old size ------------------------------------------------------

def _grown(tmp_path: Path, state) -> tuple[Path, bytes, Path]:
    """A store grown by an edit (a 6,000-character description): (store, original bytes,
    journal)."""
    store = store_in(tmp_path, logs=False)
    original = store.read_bytes()
    done = cli(state, "bcdedit", "/store", store, "/set", "{bootmgr}", "description", "y" * 6000)
    assert done.returncode == 0, done.stderr
    assert store.stat().st_size > len(original)
    journal = next((state / "bcdtool" / "journal").glob("*/journal.json"))
    return store, original, journal


@pytest.mark.parametrize("change", ["appended", "inside the grown part"])
def test_undo_refuses_to_discard_bytes_past_the_old_size(tmp_path, state, change):
    store, original, journal = _grown(tmp_path, state)
    with open(store, "r+b") as handle:
        if change == "appended":
            handle.seek(0, os.SEEK_END)
            handle.write(b"someone else's bytes")
        else:
            handle.seek(len(original) + 100)
            handle.write(b"ZZZZ")
    changed = sha(store)
    done = cli(state, "undo", journal)
    assert done.returncode not in (0, 1), done.stderr
    assert "--force" in done.stderr and sha(store) == changed
    forced = cli(state, "undo", "--force", journal)
    assert forced.returncode == 0, forced.stderr
    assert store.read_bytes() == original


def test_undo_of_a_grown_store_still_restores_it(tmp_path, state):
    store, original, journal = _grown(tmp_path, state)
    done = cli(state, "undo", journal)
    assert done.returncode == 0, done.stderr
    assert store.read_bytes() == original
    readable(store)


# -- a log that changes between its hash check and its replay ------------------------------------

def _dirty_and_log(*, damaged: bool = False) -> tuple[bytes, bytes, int]:
    """A dirty copy of the corpus store (sequence numbers differ; `damaged`: its base-block
    checksum wrong too) and a new-format log whose one entry replays the first bin: (store,
    log, offset of the entry's page in the log)."""
    store = (CORPUS / "bcd" / STORE).read_bytes()
    sequence = struct.unpack_from("<I", store, 8)[0]
    bins = struct.unpack_from("<I", store, 40)[0]
    data = bytearray(store[:4096 + bins])
    struct.pack_into("<I", data, 4, sequence + 1)
    checksum = regf_checksum(bytes(data[:508]))
    struct.pack_into("<I", data, 508, checksum ^ 0xDEAD if damaged else checksum)
    base = bytearray(store[:512])
    struct.pack_into("<III", base, 4, sequence, sequence, 0)
    struct.pack_into("<I", base, 28, 6)                     # file type: new-format log
    struct.pack_into("<I", base, 508, regf_checksum(bytes(base[:508])))
    entry = log_entry(sequence, bins, [(0, store[4096:8192])])
    return bytes(data), bytes(base) + entry, 512 + 40 + 8


def test_log_changed_after_its_hash_check_is_not_replayed(tmp_path):
    primary, log, page = _dirty_and_log()
    path = tmp_path / "BCD.LOG1"
    path.write_bytes(log)
    evil = b"\xee" * 4096
    reads = []

    def read(offset: int, length: int) -> bytes:
        """The log file, read for real; right after the entry is read whole (its hash check),
        another program rewrites the entry's page in the file."""
        with open(path, "rb") as handle:
            handle.seek(offset)
            got = handle.read(length)
        reads.append((offset, length))
        if length == len(log) - 512 and len(reads) < 100:
            with open(path, "r+b") as handle:
                handle.seek(page)
                handle.write(evil)
        return got

    honest = recover(primary, [("BCD.LOG1", log)])
    assert honest.data[4096:8192] != evil
    with pytest.raises(DirtyHiveError, match="changed while it was read"):
        recover(primary, [("BCD.LOG1", LogSource(len(log), read))])
    assert path.read_bytes()[page:page + 4096] == evil     # the rewrite did happen


# -- a damaged base block in front of zero padding -----------------------------------------------

def _damaged_padded(folder: Path, name: str, size: int) -> Path:
    primary, log, _ = _dirty_and_log(damaged=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(primary)
    os.truncate(folder / name, size)                        # sparse: zeros up to `size`
    (folder / f"{name}.LOG1").write_bytes(log)
    return folder / name


def test_damaged_padded_store_is_read_by_its_bins(tmp_path, state):
    """A BCD store padded to 63 MiB whose base block is damaged (the log repairs it) was
    refused as over the 8 MiB hive cap (exit 30): the padding counted as hive."""
    store = _damaged_padded(tmp_path, "BCD", 63 * MiB)
    before, log_before = sha(store), sha(store.with_name("BCD.LOG1"))
    peak, code, err = measured("bcdedit", "/store", store, "/enum", "{bootmgr}")
    assert code == 0, err
    assert peak < 100 * MiB
    done = cli(state, "bcdedit", "/store", store, *SET)
    assert done.returncode == 0, done.stderr
    journal = next((state / "bcdtool" / "journal").glob("*/journal.json"))
    readable(store)
    assert cli(state, "undo", journal).returncode == 0
    assert sha(store) == before and sha(store.with_name("BCD.LOG1")) == log_before


def test_damaged_padded_hive_is_not_read_whole(tmp_path):
    """The same damage in front of 900 MiB of padding in a SOFTWARE hive (1 GiB cap): 2.8 GB
    peak before (the padding read, then copied), now a few MiB more than a clean hive."""
    hive = _damaged_padded(tmp_path, "SOFTWARE", 900 * MiB)
    peak, code, err = measured("hive", "ls", hive)
    assert code == 0, err
    assert peak < 100 * MiB


# -- the store renamed over while bcdtool holds its lock -----------------------------------------

def test_store_renamed_over_while_locked_is_never_written(tmp_path):
    """Another program renames a file of its own over the store between bcdtool's lock (on the
    store's inode) and its first write (the path is opened again to write): that file was
    written, then "restored" with the old store's bytes; now nothing is written to it, the
    locked store keeps its bytes, and no interrupted write is left behind."""
    store = store_in(tmp_path / "boot", logs=False)
    other = tmp_path / "boot" / "other"
    other.write_bytes(b"another program's file\n" * 2000)
    theirs, original = other.read_bytes(), store.read_bytes()
    kept = os.open(store, os.O_RDONLY)          # the locked inode, once renamed over
    calls = []

    def rename_over(what: str = "") -> None:
        calls.append(what)
        if len(calls) == 1:
            os.rename(other, store)

    observe.install(rename_over)
    try:
        with pytest.raises(UnsafePathError, match="replaced .* nothing was written"):
            enable(str(store), SerialOptions())
    finally:
        observe.uninstall(rename_over)
        original_now = os.pread(kept, len(original) + 1, 0)
        os.close(kept)
    assert store.read_bytes() == theirs
    assert original_now == original
    assert interrupted("file:" + str(store)) is None


def test_store_renamed_over_before_the_refusal_check(tmp_path, monkeypatch):
    """The same rename just after the lock is taken is refused by the policy check, before a
    journal is written."""
    store = store_in(tmp_path / "boot", logs=False)
    other = tmp_path / "boot" / "other"
    other.write_bytes(b"another program's file\n" * 2000)
    theirs = other.read_bytes()
    real_facts = FolderSink.facts

    def facts(sink, phases):
        if other.exists():
            os.rename(other, store)
        return real_facts(sink, phases)

    monkeypatch.setattr(FolderSink, "facts", facts)
    with pytest.raises(UnsafePathError, match="replaced"):
        enable(str(store), SerialOptions())
    assert store.read_bytes() == theirs
    assert interrupted("file:" + str(store)) is None


# -- a full file system: refused with the next step, nothing lost --------------------------------

@pytest.fixture
def full_tmpfs(tmp_path):
    """A 2 MiB tmpfs mounted at tmp_path/full (the test fills it; skipped where it cannot be
    mounted: not root, no tmpfs)."""
    with tmpfs(tmp_path / "full", "2m") as where:
        yield where


def test_full_file_system_under_a_growing_store(tmp_path, state, full_tmpfs):
    store = store_in(full_tmpfs, logs=False)
    fill(full_tmpfs)
    before = sha(store)
    done = cli(state, "bcdedit", "/store", store, "/set", "{bootmgr}", "description", "x" * 6000)
    assert done.returncode == 25, done.stderr
    assert "original bytes were restored" in done.stderr and "df -h" in done.stderr
    assert sha(store) == before
    readable(store)


def test_full_file_system_under_the_journal(tmp_path, state, full_tmpfs):
    store = store_in(tmp_path / "boot", logs=False)
    fill(full_tmpfs)
    before = sha(store)
    done = cli(state, "bcdedit", "--backup-dir", full_tmpfs, "/store", store, *SET)
    assert done.returncode == 25, done.stderr
    assert "df -h" in done.stderr
    assert sha(store) == before
    assert cli(state, "bcdedit", "/store", store, "/enum").returncode == 0    # not "interrupted"


@pytest.mark.parametrize("command", [["bcdedit", "/store", "EMPTY", "/enum"],
                                     ["hive", "ls", "EMPTY"],
                                     ["serial-console", "enable", "EMPTY"]])
def test_empty_file_says_so(tmp_path, state, command):
    """A 0-byte file was opened as a disk image: "no EFI/Microsoft/Boot/BCD found on 1
    volume(s)" (15), which sends the user looking for partitions."""
    empty = tmp_path / "BCD"
    empty.write_bytes(b"")
    done = cli(state, *[empty if word == "EMPTY" else word for word in command])
    assert done.returncode == 11, done.stderr
    assert "empty (0 bytes)" in done.stderr and "new-store" in done.stderr
    assert empty.read_bytes() == b""
