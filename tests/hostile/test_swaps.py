"""Files swapped between bcdtool's check and its write (issue #11's TOCTOU class, session 5):
the store or a log renamed over by another regular file, truncated, grown or rewritten after the
transaction checked and backed it up, and before the writer's first byte.  Was: a log swapped for
another regular file had its header zeroed (refused only when hard-linked), and a log truncated
or rewritten in between was written anyway.  Now the writer checks each file's identity (inode,
size) and backed-up first bytes on the descriptor it writes through; nothing is written, nothing
is pending.  Inside disk images: a store replaced or moved by another program (mtools) between
planning and commit is refused, where its old clusters were written before.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from Registry import Registry

from bcdtool.errors import UnsafePathError
from bcdtool.ops import linux_fix
from bcdtool.ops.edits import WriteOptions
from bcdtool.ops.serial_console import SerialOptions, enable
from bcdtool.ops.undo import undo
from bcdtool.write.journal import Journal, interrupted
from bcdtool.write.sinks.disk import DiskSink
from fixtures.images import fat_get, make_fat_volume
from tests.helpers.common import CORPUS, need_tool

STORE = "win11-uefi-installed-2025.bcd"
BCD_PATH = "EFI/Microsoft/Boot/BCD"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_in(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CORPUS / "bcd" / STORE, folder / "BCD")
    for log in ("LOG", "LOG1"):
        shutil.copyfile(CORPUS / "bcd" / f"{STORE}.{log}", folder / f"BCD.{log}")
    return folder / "BCD"


def _rename_over(path: Path) -> None:
    other = path.with_name("other")
    other.write_bytes(path.read_bytes())        # the same bytes: only the inode tells
    os.rename(other, path)


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _grow(path: Path) -> None:
    with open(path, "ab") as handle:
        handle.write(b"\xAA" * 4096)


def _rewrite(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.seek(4)
        handle.write(b"\x99\x99\x99\x99")       # a sequence number: what other writers change


SWAPS = {"renamed over": _rename_over, "truncated": _truncate, "grown": _grow,
         "rewritten": _rewrite}


@pytest.mark.parametrize("file", ["BCD.LOG1", "BCD.LOG", "BCD"])
@pytest.mark.parametrize("swap", list(SWAPS))
def test_file_changed_after_its_backup_is_never_written(tmp_path, state, monkeypatch, file,
                                                        swap):
    """The change happens after the journal holds the backups (as the journal is marked
    "writing") and before the writer opens the files: refused (exit 31), every file keeps the
    bytes it had after the change, no interrupted write is left."""
    store = store_in(tmp_path / "boot")
    real_mark = Journal.mark

    def mark(journal, what):
        if what == "writing":
            SWAPS[swap](store.with_name(file))
        return real_mark(journal, what)

    monkeypatch.setattr(Journal, "mark", mark)
    with pytest.raises(UnsafePathError, match="nothing was written") as refused:
        enable(str(store), SerialOptions())
    assert refused.value.exit_code == 31
    monkeypatch.undo()
    after = {p.name: p.read_bytes() for p in store.parent.iterdir()}
    # What the other program left is what is there: store_in's bytes, then its one change.
    fresh = store_in(tmp_path / "expected")
    SWAPS[swap](fresh.with_name(file))
    expected = {p.name: p.read_bytes() for p in fresh.parent.iterdir()}
    assert {k: sha(v) for k, v in after.items()} == {k: sha(v) for k, v in expected.items()}
    assert interrupted("file:" + str(store)) is None
    if file != "BCD" or swap in ("renamed over", "grown"):
        assert [k.name() for k in Registry.Registry(str(store)).root().subkeys()]


@pytest.mark.parametrize("file", ["BCD", "BCD.LOG1"])
@pytest.mark.parametrize("swap", ["renamed over", "rewritten"])
def test_undo_never_writes_a_file_swapped_after_its_check(tmp_path, state, monkeypatch, file,
                                                          swap):
    """`undo` checks that nobody changed the bytes since bcdtool wrote them, then restores: a
    file renamed over or rewritten between that check and the restore's first byte is refused
    (exit 31) and keeps the bytes the other program left."""
    store = store_in(tmp_path / "boot")
    journal = enable(str(store), SerialOptions()).journal
    real_mark = Journal.mark

    left = {}

    def mark(journal_, what):
        if what == "undoing":
            SWAPS[swap](store.with_name(file))
            left.update({p.name: p.read_bytes() for p in store.parent.iterdir()})
        return real_mark(journal_, what)

    monkeypatch.setattr(Journal, "mark", mark)
    with pytest.raises(UnsafePathError, match="nothing was written") as refused:
        undo(journal)
    assert refused.value.exit_code == 31
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in store.parent.iterdir()} == left
    assert [k.name() for k in Registry.Registry(str(store)).root().subkeys()] or file != "BCD"


# -- inside a disk image: the store replaced or moved by another program -----------------------

def _image(tmp_path: Path) -> Path:
    image = tmp_path / "esp.img"
    make_fat_volume(image, {BCD_PATH: (CORPUS / "bcd" / STORE).read_bytes()})
    return image


def _mtools(image: Path, *args: str) -> None:
    subprocess.run([need_tool(args[0]), "-i", str(image), *args[1:]], check=True,
                   capture_output=True, timeout=60, env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})


def _moved(image: Path, replacement: bytes, scratch: Path) -> None:
    """Another program renames the store aside and writes a new BCD: new clusters at the
    store's name, the old ones still the renamed file's."""
    _mtools(image, "mren", f"::/{BCD_PATH}", f"::/{BCD_PATH}.OLD")
    scratch.write_bytes(replacement)
    _mtools(image, "mcopy", str(scratch), f"::/{BCD_PATH}")


def _deleted_and_refilled(image: Path, replacement: bytes, scratch: Path) -> None:
    """Another program deletes the store and writes an unrelated file first (it takes the freed
    clusters), then a new BCD elsewhere."""
    _mtools(image, "mdel", f"::/{BCD_PATH}")
    scratch.write_bytes(b"\x5a" * len(replacement))
    _mtools(image, "mcopy", str(scratch), "::/EFI/Microsoft/Boot/OTHER.BIN")
    scratch.write_bytes(replacement)
    _mtools(image, "mcopy", str(scratch), f"::/{BCD_PATH}")


@pytest.mark.parametrize("change", [_moved, _deleted_and_refilled],
                         ids=["renamed-and-rewritten", "deleted-and-clusters-reused"])
def test_store_replaced_inside_the_image_is_never_written(tmp_path, state, monkeypatch, change):
    """Between planning (the store found and read) and commit (the lock), mtools replaces the
    store inside the FAT image: refused (exit 31), nothing written — every file in the image
    reads back (mcopy) as the other program left it."""
    image = _image(tmp_path)
    replacement = (CORPUS / "bcd" / STORE).read_bytes()[:4096] + bytes(
        len((CORPUS / "bcd" / STORE).read_bytes()) - 4096)
    real_lock = DiskSink.lock
    done = []

    def lock(sink):
        if not done:
            change(image, replacement, tmp_path / "scratch")
            done.append(image.read_bytes())         # as the other program left it
        return real_lock(sink)

    monkeypatch.setattr(DiskSink, "lock", lock)
    with pytest.raises(UnsafePathError, match="replaced, moved or rewritten inside the image"):
        enable(str(image), SerialOptions())
    monkeypatch.undo()
    assert image.read_bytes() == done[0]
    assert fat_get(image, BCD_PATH) == replacement
    if change is _moved:
        assert fat_get(image, BCD_PATH + ".OLD") == (CORPUS / "bcd" / STORE).read_bytes()
    else:
        assert fat_get(image, "EFI/Microsoft/Boot/OTHER.BIN") == b"\x5a" * len(replacement)


# -- a Linux guest's file replaced whole: swapped between its check and its rename -------------

GRUB_CFG = "etc/default/grub.d/50-cloudimg-settings.cfg"


@pytest.mark.parametrize("swap", ["renamed over", "rewritten", "same size", "removed"])
def test_guest_file_swapped_before_its_replacement_is_never_overwritten(tmp_path, state,
                                                                       monkeypatch, swap):
    """`linux fix` replaces a guest file whole (temporary file, rename): another program
    renaming its own file over it, rewriting it or removing it between bcdtool's check and the
    rename is refused (exit 31); what that program left stays."""
    root = tmp_path / "guest"
    shutil.copytree(CORPUS / "linux" / "ubuntu-22.04-cloudimg-amd64", root, symlinks=True)
    target = root / GRUB_CFG
    real_mark = Journal.mark
    left = {}

    def mark(journal, what):
        if what == "writing":
            if swap == "renamed over":
                other = target.with_name("other")
                other.write_text("# another program's settings\n")
                os.rename(other, target)
            elif swap == "rewritten":
                target.write_text(target.read_text() + "# another program was here\n")
            elif swap == "same size":
                with open(target, "r+b") as handle:
                    handle.write(b"X")
            else:
                target.unlink()
            left["bytes"] = target.read_bytes() if target.exists() else None
        return real_mark(journal, what)

    monkeypatch.setattr(Journal, "mark", mark)
    with pytest.raises(UnsafePathError, match="nothing was written") as refused:
        linux_fix.write(linux_fix.plan(str(root)), WriteOptions())
    assert refused.value.exit_code == 31
    monkeypatch.undo()
    assert (target.read_bytes() if target.exists() else None) == left["bytes"]
    assert not list(target.parent.glob(".*.bcdtool-tmp"))


def test_image_renamed_over_before_the_commit_is_never_written(tmp_path, state, monkeypatch):
    """Another program renames its own image over the image path between bcdtool's read and its
    lock: the writes would land at the old extents of that other file (its bytes there differ
    past the base block: the read check, made on the image read, and the writer's check of the
    base block both pass).  Refused (31); both files keep their bytes."""
    image = _image(tmp_path)
    other = tmp_path / "other.img"
    theirs = bytearray(image.read_bytes())
    at = theirs.find(b"regf")
    # Another disk's bytes inside the store's bins: its base block (what the writer compares
    # before writing) is the same, so only the file's identity tells the two images apart.
    theirs[at + 8192:at + 12288] = b"\x5a" * 4096
    other.write_bytes(bytes(theirs))
    kept = os.open(image, os.O_RDONLY)                  # the image read, once renamed over
    original = image.read_bytes()
    real_lock = DiskSink.lock

    def lock(sink):
        if other.exists():
            os.rename(other, image)
        return real_lock(sink)

    monkeypatch.setattr(DiskSink, "lock", lock)
    try:
        with pytest.raises(UnsafePathError, match="image was replaced"):
            enable(str(image), SerialOptions())
        assert image.read_bytes() == bytes(theirs)
        assert os.pread(kept, len(original) + 1, 0) == original
    finally:
        os.close(kept)
