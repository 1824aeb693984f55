"""Files an image names from inside (qcow2 backing files, VMDK extents), and files the user names:
no hang on a FIFO or other special file, no reference outside the image's folder unless named."""

from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest

from tests.hostile.hostile_helpers import overlay, run_cli
from tests.helpers.common import need_tools
from bcdtool.blockdev import references
from bcdtool.blockdev.detect import open_image
from bcdtool.errors import ImageError, UnsupportedError

MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def _tools():
    need_tools("qemu-img")


def special(kind: str, path):
    """Make a non-regular file of `kind` at `path`."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    elif kind == "folder":
        os.mkdir(path)
    return path


def flat_vmdk(folder, extent_name: str):
    """A monolithicFlat VMDK descriptor whose one extent is named `extent_name`."""
    desc = folder / "disk.vmdk"
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat",
                    str(desc), "1M"], check=True)
    desc.write_text(desc.read_text().replace('"disk-flat.vmdk"', json.dumps(extent_name)))
    return desc


@pytest.mark.parametrize("kind", ["fifo", "socket", "folder"])
def test_user_named_special_file_is_refused_without_blocking(tmp_path, kind):
    path = special(kind, tmp_path / "image")
    with pytest.raises(ImageError, match="not a regular file"):
        open_image(path)
    done = run_cli("enum", path)        # the CLI may refuse earlier, as long as it refuses
    assert done.returncode not in (0, 1) and done.stderr.startswith("bcdtool: error"), done.stderr


@pytest.mark.parametrize("kind", ["fifo", "socket", "folder"])
def test_special_file_as_qcow2_backing_is_refused_without_blocking(tmp_path, kind):
    special(kind, tmp_path / "base")
    top = overlay(tmp_path / "top.qcow2", "base")
    with pytest.raises(ImageError, match="not a regular file"):
        open_image(top)


@pytest.mark.parametrize("kind", ["fifo", "socket", "folder"])
def test_special_file_as_vmdk_extent_is_refused_without_blocking(tmp_path, kind):
    special(kind, tmp_path / "extent")
    with pytest.raises(ImageError, match="not a regular file"):
        open_image(flat_vmdk(tmp_path, "extent"))


@pytest.mark.parametrize("name", ["/dev/zero", "/dev/null"])
def test_character_device_is_refused_even_when_named(tmp_path, name):
    top = overlay(tmp_path / "top.qcow2", name)
    with pytest.raises(UnsupportedError, match="--backing-file"):
        open_image(top)
    with references.allowed([name]), pytest.raises(ImageError, match="character device"):
        open_image(top)


def test_symlink_inside_the_folder_to_a_fifo_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    os.symlink("pipe", tmp_path / "base")
    with pytest.raises(ImageError, match="FIFO"):
        open_image(overlay(tmp_path / "top.qcow2", "base"))
    with pytest.raises(ImageError, match="FIFO"):
        open_image(flat_vmdk(tmp_path, "base"))


@pytest.fixture
def outside(tmp_path):
    """A raw 64 MiB base image with a marker, in a folder beside the image's folder."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    base = folder / "base.raw"
    with open(base, "wb") as f:
        f.truncate(64 * MiB)
        f.seek(MiB)
        f.write(b"OUTSIDE!")
    (tmp_path / "img").mkdir()
    return base


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink", "symlinked-folder"])
def test_qcow2_backing_outside_the_folder_is_refused_unless_named(outside, tmp_path, how):
    img = tmp_path / "img"
    name = {"absolute": str(outside), "dotdot": "../elsewhere/base.raw",
            "symlink": "link.raw", "symlinked-folder": "sub/base.raw"}[how]
    if how == "symlink":
        os.symlink(outside, img / "link.raw")
    if how == "symlinked-folder":
        os.symlink(outside.parent, img / "sub")
    top = overlay(img / "top.qcow2", name)
    with pytest.raises(UnsupportedError, match="outside the image's folder") as caught:
        open_image(top)
    assert f"--backing-file {outside}" in str(caught.value)
    with references.allowed([outside]), open_image(top) as dev:
        assert dev.read_at(MiB, 8) == b"OUTSIDE!"
        assert dev.chain() == [str(top), str(outside)]
        assert any(str(outside) in n for n in dev.notices)


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_vmdk_extent_outside_the_folder_is_refused_unless_named(outside, tmp_path, how):
    img = tmp_path / "img"
    name = {"absolute": str(outside), "dotdot": "../elsewhere/base.raw", "symlink": "link.raw"}[how]
    if how == "symlink":
        os.symlink(outside, img / "link.raw")
    desc = flat_vmdk(img, name)
    desc.write_text(desc.read_text().replace("RW 2048 FLAT", "RW 131072 FLAT"))
    with pytest.raises(UnsupportedError, match="--backing-file"):
        open_image(desc)
    with references.allowed([outside]), open_image(desc) as dev:
        assert dev.read_at(MiB, 8) == b"OUTSIDE!"
        assert dev.chain() == [str(desc), str(outside)]


def test_backing_inside_the_folder_is_followed_and_shown(tmp_path):
    base = tmp_path / "base.raw"
    with open(base, "wb") as f:
        f.truncate(64 * MiB)
        f.write(b"BASE")
    mid = overlay(tmp_path / "mid.qcow2", str(base))           # absolute, but inside
    top = overlay(tmp_path / "top.qcow2", "./mid.qcow2", fmt="qcow2")
    with open_image(top) as dev:
        assert dev.read_at(0, 4) == b"BASE"
        assert dev.chain() == [str(top), str(mid), str(base)]


def test_backing_loop_through_two_files_is_refused(tmp_path):
    overlay(tmp_path / "a.qcow2", "b.qcow2", fmt="qcow2")
    overlay(tmp_path / "b.qcow2", "a.qcow2", fmt="qcow2")
    with pytest.raises(ImageError, match="loops back"):
        open_image(tmp_path / "a.qcow2")


def test_cli_names_the_option_and_shows_the_chain(disk_copy, tmp_path):
    folder = tmp_path / "base"
    folder.mkdir()
    base = disk_copy("uefi", name="base/uefi.img")
    (tmp_path / "img").mkdir()
    top = overlay(tmp_path / "img" / "top.qcow2", str(base))
    refused = run_cli("enum", top)
    assert refused.returncode == UnsupportedError.exit_code
    assert f"--backing-file {base}" in refused.stderr
    shown = run_cli("--backing-file", base, "enum", "--json", top)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["target"]["chain"] == [str(top), str(base)]
    assert "backing chain" in shown.stderr


def test_batch_workers_get_the_named_backing_files(disk_copy, tmp_path):
    folder = tmp_path / "base"
    folder.mkdir()
    base = disk_copy("uefi", name="base/uefi.img")
    (tmp_path / "img").mkdir()
    top = overlay(tmp_path / "img" / "top.qcow2", str(base))
    manifest = tmp_path / "manifest"
    manifest.write_text(json.dumps({"target": str(top), "ops": ["bcdedit /enum"]}) + "\n")
    refused = run_cli("batch", "--json", manifest)
    assert json.loads(refused.stdout.splitlines()[0])["exit_code"] == UnsupportedError.exit_code
    allowed = run_cli("--backing-file", base, "batch", "--json", manifest)
    assert json.loads(allowed.stdout.splitlines()[0])["status"] == "ok", allowed.stdout
