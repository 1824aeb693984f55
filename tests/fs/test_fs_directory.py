"""Directory volumes: case-insensitive lookup inside the root, symlinks never leading out of it."""

from __future__ import annotations

import os

import pytest

from bcdtool.errors import GuestError, NotFoundError
from bcdtool.fs.directory import DirectoryVolume


@pytest.fixture
def esp_copy(tmp_path):
    root = tmp_path / "esp"
    (root / "EFI" / "Microsoft" / "Boot").mkdir(parents=True)
    (root / "EFI" / "Microsoft" / "Boot" / "BCD").write_bytes(b"regf" + bytes(8188))
    return root


def test_case_insensitive_lookup(esp_copy):
    vol = DirectoryVolume(esp_copy)
    ref = vol.find("\\efi\\MICROSOFT\\boot\\bcd")
    assert ref.path == "EFI/Microsoft/Boot/BCD" and ref.size == 8192
    assert ref.extents == ((0, 8192),)
    assert vol.read(ref) == b"regf" + bytes(8188)
    assert vol.path_of(ref) == (esp_copy / "EFI/Microsoft/Boot/BCD").resolve()
    assert vol.facts().dirty is None and vol.facts().hibernated is False


def test_not_found_and_not_files(esp_copy):
    vol = DirectoryVolume(esp_copy)
    for bad in (
        "EFI/Microsoft/Boot/BCD.LOG1",
        "EFI/Microsoft",
        "EFI/../EFI/Microsoft/Boot/BCD",
        "",
    ):
        with pytest.raises(NotFoundError):
            vol.find(bad)
    os.mkfifo(esp_copy / "fifo")
    with pytest.raises(NotFoundError):
        vol.find("FIFO")
    with pytest.raises(NotFoundError):
        DirectoryVolume(esp_copy / "EFI/Microsoft/Boot/BCD")


def test_symlink_escape_refused(esp_copy, tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "BCD").write_bytes(b"outside")
    boot = esp_copy / "EFI" / "Microsoft" / "Boot"
    (boot / "BCD").unlink()
    (boot / "BCD").symlink_to(secret / "BCD")
    (esp_copy / "Boot").symlink_to(secret)
    vol = DirectoryVolume(esp_copy)
    with pytest.raises(GuestError):
        vol.find("EFI/Microsoft/Boot/BCD")
    with pytest.raises(GuestError):
        vol.find("boot/bcd")


def test_symlink_inside_allowed(esp_copy):
    (esp_copy / "Boot").symlink_to("EFI/Microsoft/Boot")
    vol = DirectoryVolume(esp_copy)
    ref = vol.find("BOOT/BCD")
    assert ref.path == "EFI/Microsoft/Boot/BCD"
    assert vol.read(ref).startswith(b"regf")


def test_hibernated_windows_root(tmp_path):
    (tmp_path / "Windows").mkdir()
    (tmp_path / "hiberfil.sys").write_bytes(b"HIBR" + bytes(60))
    assert DirectoryVolume(tmp_path).facts().hibernated is True


def test_symlink_loop_is_not_found(esp_copy):
    (esp_copy / "loop").symlink_to("loop")
    with pytest.raises(NotFoundError):
        DirectoryVolume(esp_copy).find("loop/BCD")


def test_file_swapped_for_symlink_after_find(esp_copy, tmp_path):
    vol = DirectoryVolume(esp_copy)
    ref = vol.find("EFI/Microsoft/Boot/BCD")
    bcd = esp_copy / "EFI/Microsoft/Boot/BCD"
    bcd.unlink()
    bcd.symlink_to("BCD.other")
    (bcd.parent / "BCD.other").write_bytes(b"inside, but not the file that was found")
    with pytest.raises(GuestError):
        vol.read(ref)
