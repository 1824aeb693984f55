"""A Linux root on LVM (ext4 on a logical volume in qcow2): checked, fixed and undone through
libguestfs; every result read back with guestfish."""

from __future__ import annotations

import subprocess
import tarfile

import pytest
from tests.backend_guestfs.guestfs_helpers import (TIMES, bcdtool, guestfish, journal_of,
                                                   need_guestfs)

from bcdtool.errors import EXIT_PROBLEMS

pytestmark = pytest.mark.guestfs

LV = "/dev/vg0/root"
GETTY = "/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"


@pytest.fixture(scope="module")
def lvm_root(tmp_path_factory, request):
    """(image, local copy of the root): Debian 12 fixture root, broken, on ext4 on an LV."""
    need_guestfs()
    from fixtures import linux_roots
    folder = tmp_path_factory.mktemp("linux-lvm")
    root = linux_roots.build("debian-12", "broken", folder / "root")
    with tarfile.open(folder / "root.tar", "w") as tar:
        tar.add(root, arcname=".")
    image = folder / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "128M"], check=True)
    guestfish(image, f"part-disk /dev/sda gpt\npvcreate /dev/sda1\nvgcreate vg0 /dev/sda1\n"
                     f"lvcreate root vg0 64\nmkfs ext4 {LV}\nmount {LV} /\n"
                     f"tar-in {folder / 'root.tar'} /\n")
    request.addfinalizer(lambda: print("\nwall times:", *(f"{n}: {t:.1f}s" for n, t in TIMES),
                                       sep="\n  "))
    return image, root


def _guest_state(image, tmp_path) -> tuple[bytes, bytes, str]:
    """/etc/default/grub, grub.cfg and the getty link's target ('' when absent), via guestfish."""
    out = guestfish(image, f"mount-ro {LV} /\ndownload /etc/default/grub {tmp_path}/grub\n"
                           f"download /boot/grub/grub.cfg {tmp_path}/grub.cfg\n"
                           f"is-symlink {GETTY}\n")
    link = ""
    if out.decode().split()[-1] == "true":
        link = guestfish(image, f"mount-ro {LV} /\nreadlink {GETTY}\n").decode().strip()
    return (tmp_path / "grub").read_bytes(), (tmp_path / "grub.cfg").read_bytes(), link


def test_native_reader_cannot_reach_lvm(lvm_root):
    image, _ = lvm_root
    proc = bcdtool("linux", "check", str(image))
    assert proc.returncode not in (0, EXIT_PROBLEMS) and "Traceback" not in proc.stderr


def test_check_fix_undo(lvm_root, tmp_path):
    image, root = lvm_root
    proc = bcdtool("linux", "check", "--backend", "guestfs", str(image))
    assert proc.returncode == EXIT_PROBLEMS, proc.stdout + proc.stderr

    proc = bcdtool("linux", "fix", "--backend", "guestfs", "--backup-dir", str(tmp_path / "j"),
                   str(image))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    grub, grub_cfg, link = _guest_state(image, tmp_path)
    assert b'GRUB_TERMINAL="serial console"' in grub
    assert b"console=ttyS0,115200n8" in grub
    linux_lines = [l for l in grub_cfg.decode().splitlines() if l.strip().startswith("linux")]
    assert linux_lines and all("console=ttyS0,115200n8" in l and "root=" in l for l in linux_lines)
    assert link.endswith("serial-getty@.service")
    subprocess.run(["qemu-img", "check", "-q", str(image)], check=True)

    proc = bcdtool("linux", "check", "--backend", "guestfs", str(image))
    assert proc.returncode == 0, proc.stdout + proc.stderr

    proc = bcdtool("undo", str(journal_of(tmp_path / "j")))
    assert proc.returncode == 0, proc.stderr
    grub, grub_cfg, link = _guest_state(image, tmp_path)
    assert grub == (root / "etc/default/grub").read_bytes()
    assert grub_cfg == (root / "boot/grub/grub.cfg").read_bytes()
    assert link == ""
