"""The write path's safety rules on the libguestfs sink (`--backend guestfs`), as the safety
matrix checks them on the other sinks: a log that is a symlink, a hard link or a FIFO is refused
(never followed, written or waited on), Windows hibernated on another partition is refused, the
image lock keeps a second writer out, and a failed or interrupted write is restored and verified.
Dry runs refuse exactly as real runs.  Everything is read back by guestfish, not by bcdtool.

The image: MBR, partition 1 ext4 holding EFI/Microsoft/Boot/BCD and BCD.LOG (a real store and
its log), partition 2 NTFS (mkntfs in the appliance).  Each bcdtool or guestfish run boots the
appliance (8–25 s under TCG): run with `make guestfs-test`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bcdtool.errors import LockedError, UnsafePathError, UnsafeVolumeError
from bcdtool.ops.serial_console import SerialOptions, enable
from bcdtool.write.sinks.guestfs import GuestfsSink
from tests.backend_guestfs.guestfs_helpers import bcdtool, download, guestfish, need_guestfs
from tests.helpers.common import CORPUS, sha

pytestmark = pytest.mark.guestfs

STORE = "/EFI/Microsoft/Boot/BCD"
NAME = "win10-bios-installed-sysreserved.bcd"
INJECT = Path(__file__).resolve().parents[1] / "crash" / "inject"
SET = ["/set", "{bootmgr}", "timeout", "9"]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    need_guestfs()
    if not (CORPUS / "bcd" / NAME).is_file():
        pytest.skip("../shared/corpus is absent")
    folder = tmp_path_factory.mktemp("guestfs-safety")
    image = folder / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "96M"], check=True)
    guestfish(image, "part-init /dev/sda mbr\npart-add /dev/sda p 2048 98303\n"
                     "part-add /dev/sda p 98304 194559\nmkfs ext4 /dev/sda1\n"
                     "mkfs ntfs /dev/sda2\nmount /dev/sda1 /\nmkdir-p /EFI/Microsoft/Boot\n"
                     f"upload {CORPUS / 'bcd' / NAME} {STORE}\n"
                     f"upload {CORPUS / 'bcd' / (NAME + '.LOG')} {STORE}.LOG\n"
                     "write /outside precious\n")
    return image


@pytest.fixture
def image(base, tmp_path) -> Path:
    copy = tmp_path / "disk.qcow2"
    shutil.copyfile(base, copy)
    return copy


def _state(tmp_path: Path) -> dict:
    return {"XDG_STATE_HOME": str(tmp_path / "state")}


def _both_refuse(image: Path, tmp_path: Path, code: int) -> str:
    """--dry-run and the real run: exit `code`, no journal; the dry run (a read-only
    appliance) leaves the image's bytes as they were, and after the real run (whose writable
    appliance mounts the file system, which updates its own metadata) guestfish reads the store
    and the file outside it unchanged."""
    before = sha(image.read_bytes())
    store = download(image, STORE, tmp_path / "store-before", mount="/dev/sda1")
    messages = []
    for dry in (["--dry-run"], []):
        proc = bcdtool("bcdedit", "--backend", "guestfs", *dry, "--store", str(image), *SET,
                       env=_state(tmp_path))
        assert proc.returncode == code, proc.stderr
        assert "Traceback" not in proc.stderr
        messages.append(proc.stderr.strip().splitlines()[-1])
        if dry:
            assert sha(image.read_bytes()) == before
    assert not list((tmp_path / "state").glob("bcdtool/journal/*/journal.json"))
    assert download(image, STORE, tmp_path / "store-after", mount="/dev/sda1") == store
    assert download(image, "/outside", tmp_path / "outside", mount="/dev/sda1") == b"precious"
    return messages[-1]


@pytest.mark.parametrize("log", ["symlink", "hardlink", "fifo"])
def test_unsafe_log_is_refused(image, tmp_path, log):
    make = {"symlink": f"rm {STORE}.LOG\nln-s /outside {STORE}.LOG\n",
            "hardlink": f"rm {STORE}.LOG\nln /outside {STORE}.LOG\n",
            "fifo": f"rm {STORE}.LOG\nmkfifo 0644 {STORE}.LOG\n"}[log]
    guestfish(image, "mount /dev/sda1 /\n" + make)
    message = _both_refuse(image, tmp_path, UnsafePathError.exit_code)
    assert ("hard links" if log == "hardlink" else "BCD.LOG") in message


def test_windows_hibernated_on_the_other_partition_is_refused(image, tmp_path):
    hiber = tmp_path / "hiberfil.sys"
    hiber.write_bytes(b"HIBR" + bytes(8188))
    guestfish(image, f"mount /dev/sda2 /\nupload {hiber} /hiberfil.sys\n")
    message = _both_refuse(image, tmp_path, UnsafeVolumeError.exit_code)
    assert "/dev/sda2 is hibernated" in message


def test_second_writer_is_locked_out(image, tmp_path):
    before = download(image, STORE, tmp_path / "before", mount="/dev/sda1")
    fd = os.open(image, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        proc = bcdtool("bcdedit", "--backend", "guestfs", "--store", str(image), *SET,
                       env=_state(tmp_path))
    finally:
        os.close(fd)
    assert proc.returncode == LockedError.exit_code, proc.stderr
    assert download(image, STORE, tmp_path / "after", mount="/dev/sda1") == before


def test_failed_write_is_restored_and_verified(image, tmp_path):
    original = download(image, STORE, tmp_path / "before", mount="/dev/sda1")
    env = dict(_state(tmp_path), BCDTOOL_FAULT_AFTER_WRITES="2", BCDTOOL_FAULT_MODE="eio",
               PYTHONPATH=os.pathsep.join([str(INJECT), str(Path(__file__).parents[2])]))
    proc = bcdtool("bcdedit", "--backend", "guestfs", "--store", str(image), *SET, env=env)
    # EIO is the medium failing: MediaError (39), naming ddrescue, after the restore
    assert proc.returncode == 39 and "restored" in proc.stderr, proc.stderr
    assert "ddrescue" in proc.stderr
    assert download(image, STORE, tmp_path / "after", mount="/dev/sda1") == original


def test_interrupted_write_is_reported_then_undone(image, tmp_path):
    original = download(image, STORE, tmp_path / "before", mount="/dev/sda1")
    env = dict(_state(tmp_path), BCDTOOL_FAULT_AFTER_WRITES="2",
               PYTHONPATH=os.pathsep.join([str(INJECT), str(Path(__file__).parents[2])]))
    proc = bcdtool("bcdedit", "--backend", "guestfs", "--store", str(image), *SET, env=env)
    assert proc.returncode == 86, proc.stderr            # killed mid-write
    proc = bcdtool("enum", "--backend", "guestfs", str(image), env=_state(tmp_path))
    assert proc.returncode == 27 and "bcdtool undo" in proc.stderr, proc.stderr
    (journal,) = (tmp_path / "state").glob("bcdtool/journal/*/journal.json")
    proc = bcdtool("undo", str(journal), env=_state(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert download(image, STORE, tmp_path / "after", mount="/dev/sda1") == original


@pytest.mark.parametrize("how", ["renamed-aside", "rewritten-in-place"])
def test_store_replaced_inside_the_image_is_never_written(image, tmp_path, monkeypatch, how):
    """Another writer (the same appliance, driven directly) renames the store aside and puts a
    new file at its name, or rewrites its base block, between planning and the commit: the
    libguestfs writer finds a different inode or different first bytes and writes nothing (exit
    31); guestfish reads both files as that writer left them."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    real_writer = GuestfsSink.writer

    def writer(sink, expect=None):
        if expect:                      # the transaction's write, not a restore
            g = sink.disk.g
            if how == "renamed-aside":
                g.mv(STORE, STORE + ".OLD")
                g.write(STORE, b"another writer's file\n" * 100)
            else:
                g.pwrite(STORE, b"\x99\x99\x99\x99", 4)
            g.sync()
        return real_writer(sink, expect)

    monkeypatch.setattr(GuestfsSink, "writer", writer)
    with pytest.raises(UnsafePathError, match="replaced, moved or rewritten inside the image"):
        enable(str(image), SerialOptions(), backend="guestfs")
    monkeypatch.undo()
    original = (CORPUS / "bcd" / NAME).read_bytes()
    now = download(image, STORE, tmp_path / "store-after", mount="/dev/sda1")
    if how == "renamed-aside":
        assert now == b"another writer's file\n" * 100
        assert download(image, STORE + ".OLD", tmp_path / "old", mount="/dev/sda1") == original
    else:
        assert now == original[:4] + b"\x99\x99\x99\x99" + original[8:]
    assert download(image, "/outside", tmp_path / "outside", mount="/dev/sda1") == b"precious"
