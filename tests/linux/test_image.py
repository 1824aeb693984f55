"""Guests inside disk images: ext4 built without root (mkfs.ext4 -d), read natively via pytsk3."""

from __future__ import annotations

import json
import subprocess

import pytest

from bcdtool.errors import UnsupportedError
from bcdtool.linux.image import open_image_root
from bcdtool.linux.rules import evaluate
from bcdtool.linux.sources import read_guest
from fixtures import linux_guests, linux_layouts, linux_layouts2, linux_roots
from tests.helpers.common import need_tool, run_cli as _run
from tests.linux.linux_helpers import report_of

MiB = 1024 * 1024


def _ext4(root, image, size_mib=24):
    need_tool("mkfs.ext4")
    with open(image, "wb") as f:
        f.truncate(size_mib * MiB)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(root), str(image)], check=True)
    return image


def _disk(fs_image, disk, table="gpt"):
    """A partitioned disk holding `fs_image` as partition 2 (partition 1 is a small FAT-typed
    one)."""
    need_tool("sfdisk")
    data = fs_image.read_bytes()
    sectors = len(data) // 512
    with open(disk, "wb") as f:
        f.truncate(4 * MiB + len(data) + MiB)
        f.seek(4 * MiB)
        f.write(data)
    linux = "0FC63DAF-8483-4772-8E79-3D69D8477DE4" if table == "gpt" else "83"
    esp = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" if table == "gpt" else "ef"
    script = f"label: {table}\nstart=2048, size=4096, type={esp}\n" \
             f"start=8192, size={sectors}, type={linux}\n"
    subprocess.run(["sfdisk", "-q", str(disk)], input=script.encode(), check=True)
    return disk


@pytest.mark.parametrize("family, table", [("debian-12", "gpt"), ("rhel-8", "dos"),
                                           ("centos-6", "gpt"), ("ubuntu-24.04-arm64", "dos")])
def test_image_check_matches_directory(tmp_path, capsys, family, table):
    root = linux_roots.build(family, "broken", tmp_path / "root")
    disk = _disk(_ext4(root, tmp_path / "fs.img"), tmp_path / "disk.img", table)
    code_dir, out_dir, _ = _run(capsys, "linux", "check", "--json", str(root))
    code_img, out_img, _ = _run(capsys, "linux", "check", "--json", str(disk))
    doc_dir, doc_img = json.loads(out_dir), json.loads(out_img)
    assert code_dir == code_img == 3
    assert doc_img["target"].endswith("partition 2")
    doc_dir.pop("target"), doc_img.pop("target")
    assert doc_img == doc_dir


def test_whole_disk_filesystem_and_bytes_read(tmp_path):
    root = linux_roots.build("rhel-9", "correct", tmp_path / "root")
    image = _ext4(root, tmp_path / "fs.img", 64)
    guest_root = open_image_root(str(image))
    report = evaluate(read_guest(guest_root), "ttyS0")
    assert report.ok
    assert report.to_json()["findings"] == report_of(root).to_json()["findings"]
    # only what is needed is read: metadata and a few small files, not the 64 MiB
    assert guest_root.fs.device.bytes_read < 1 * MiB


def test_qcow2_image(tmp_path, capsys):
    qemu_img = need_tool("qemu-img")
    root = linux_roots.build("ubuntu-22.04", "correct", tmp_path / "root")
    disk = _disk(_ext4(root, tmp_path / "fs.img"), tmp_path / "disk.img")
    qcow = tmp_path / "disk.qcow2"
    subprocess.run([qemu_img, "convert", "-O", "qcow2", str(disk), str(qcow)], check=True)
    code, out, _ = _run(capsys, "linux", "check", str(qcow))
    assert code == 0 and "result: ok" in out


def test_fix_on_an_image_says_what_it_needs(tmp_path, capsys):
    root = linux_roots.build("debian-12", "broken", tmp_path / "root")
    image = _ext4(root, tmp_path / "fs.img")
    before = image.read_bytes()
    code, out, err = _run(capsys, "linux", "fix", str(image))
    assert code == UnsupportedError.exit_code
    assert "mounted root" in err and "guestfs" in err
    # a dry run shows the fix from the image itself, then refuses as the real run does
    code, out, err = _run(capsys, "linux", "fix", "--dry-run", str(image))
    assert code == UnsupportedError.exit_code and "+GRUB_TERMINAL=\"serial console\"" in out
    assert "mounted root" in err and "dry run above" in err
    assert image.read_bytes() == before


def test_guestfs_backend_missing_is_explained(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "guestfs", None)          # `import guestfs` fails
    monkeypatch.setenv("BCDTOOL_GUESTFS_SYSTEM_DIR", "")      # and no system copy is loaded
    code, _, err = _run(capsys, "linux", "check", "--backend", "guestfs", str(tmp_path))
    assert code == UnsupportedError.exit_code and "python3-guestfs" in err


def test_no_linux_filesystem(tmp_path, capsys):
    image = tmp_path / "blank.img"
    image.write_bytes(b"\0" * 4 * MiB)
    code, _, err = _run(capsys, "linux", "check", str(image))
    assert code == UnsupportedError.exit_code and "ext2/3/4" in err


def test_separate_boot_partition(tmp_path, capsys):
    """RHEL's layout: /boot on its own partition, BLS entries and grubenv there."""
    import shutil

    need_tool("sfdisk")
    full = linux_roots.build("rhel-8", "broken", tmp_path / "full")
    code_dir, out_dir, _ = _run(capsys, "linux", "check", "--json", full)
    boot = tmp_path / "bootfs"
    shutil.move(str(full / "boot"), boot)
    (full / "boot").mkdir()
    boot_img, root_img = _ext4(boot, tmp_path / "boot.img", 16), _ext4(full, tmp_path / "root.img")
    disk = tmp_path / "disk.img"
    b, r = boot_img.read_bytes(), root_img.read_bytes()
    with open(disk, "wb") as f:
        f.truncate(2 * MiB + len(b) + len(r) + MiB)
        f.seek(MiB)
        f.write(b)
        f.seek(MiB + len(b))
        f.write(r)
    script = (f"label: gpt\nstart=2048, size={len(b) // 512}\n"
              f"start={2048 + len(b) // 512}, size={len(r) // 512}\n")
    subprocess.run(["sfdisk", "-q", str(disk)], input=script.encode(), check=True)
    code, out, _ = _run(capsys, "linux", "check", "--json", disk)
    doc, doc_dir = json.loads(out), json.loads(out_dir)
    assert doc["target"].endswith("partition 2 with /boot from partition 1")
    doc.pop("target"), doc_dir.pop("target")
    assert code == code_dir == 3 and doc == doc_dir


@pytest.mark.parametrize("name", ["amazonlinux-1", "amazonlinux-1-pv", "debian-12-refind",
                                  "arch-refind", "armbian-no-env", "sles-11-mingetty",
                                  "chimera"])
def test_session5_layouts_read_the_same_inside_an_image(tmp_path, capsys, name):
    """The layouts added in session 5 (legacy GRUB + Xen PV, rEFInd, a U-Boot env file to
    create, mingetty on the port) give the same report from an ext4 partition of a disk image
    as from the folder (the native reader, no mount)."""
    if name == "armbian-no-env":
        root = linux_layouts.build("armbian-rockchip64", tmp_path / "root")
        (root / "boot/armbianEnv.txt").unlink()
    elif name == "sles-11-mingetty":
        root = linux_guests.build("sles-11", tmp_path / "root")
        with open(root / "etc/inittab", "a") as f:
            f.write("S0:12345:respawn:/sbin/mingetty ttyS0\n")
    else:
        root = linux_layouts2.build(name, tmp_path / "root")
    disk = _disk(_ext4(root, tmp_path / "fs.img"), tmp_path / "disk.img")
    code_dir, out_dir, _ = _run(capsys, "linux", "check", "--json", str(root))
    code_img, out_img, _ = _run(capsys, "linux", "check", "--json", str(disk))
    doc_dir, doc_img = json.loads(out_dir), json.loads(out_img)
    assert code_dir == code_img
    doc_dir.pop("target"), doc_img.pop("target")
    assert doc_img == doc_dir
