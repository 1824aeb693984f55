"""Which store open_hive picks on a disk holding several: the one firmware would boot."""

from __future__ import annotations

import subprocess

import pytest

from bcdtool.locate import open_hive
from tests.helpers.common import CORPUS, need_tools

UEFI_STORE = "win10-uefi-installed-systemd-boot.bcd"
BIOS_STORE = "win10-bios-installed-sysreserved.bcd"


@pytest.fixture(scope="module")
def stores():
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    need_tools("sgdisk", "sfdisk", "mkfs.fat", "mcopy", "mkntfs", "ntfscp")
    return {name: (CORPUS / "bcd" / name).read_bytes() for name in (UEFI_STORE, BIOS_STORE)}


def test_gpt_disk_prefers_the_esp_store(tmp_path, stores):
    from fixtures import images

    disk = images.build_esp_disk(tmp_path / "gpt.img", stores[UEFI_STORE],
                                 windows_files={"Boot/BCD": stores[BIOS_STORE]})
    with open_hive(disk.path) as handle:
        assert (handle.location["partition"], handle.location["filesystem"]) == (1, "fat")
        assert "EFI system partition" in handle.description
        assert handle.hive.original == stores[UEFI_STORE]
    with open_hive(disk.path, partition=2) as handle:
        assert handle.location["path"] == "Boot/BCD"
        assert handle.hive.original == stores[BIOS_STORE]


def test_mbr_disk_follows_the_active_flag(tmp_path, stores):
    from fixtures import images

    disk = images.build_mbr_disk(tmp_path / "mbr.img", stores[BIOS_STORE],
                                 windows_files={"boot/bcd": stores[UEFI_STORE]})
    with open_hive(disk.path) as handle:
        assert handle.location["partition"] == 1 and handle.location["scheme"] == "mbr"
        assert "active" in handle.description
        assert handle.hive.original == stores[BIOS_STORE]
    subprocess.run(["sfdisk", "-q", "--activate", str(disk.path), "2"], check=True,
                   capture_output=True)
    with open_hive(disk.path) as handle:
        assert handle.location["partition"] == 2
        assert handle.location["path"] == "boot/bcd"
        assert handle.hive.original == stores[UEFI_STORE]


def test_disk_without_any_store(tmp_path, stores):
    from fixtures import images

    from bcdtool.errors import NotFoundError

    disk = images.build_mbr_disk(tmp_path / "mbr.img", stores[BIOS_STORE])
    with pytest.raises(NotFoundError, match="no EFI/Microsoft/Boot/BCD"):
        open_hive(disk.path, path="EFI/Microsoft/Boot/BCD")


def test_damaged_primary_gpt_is_reported(tmp_path, stores):
    from fixtures import images

    disk = images.build_esp_disk(tmp_path / "gpt.img", stores[UEFI_STORE])
    with open(disk.path, "r+b") as fh:      # break the primary GPT header's CRC
        fh.seek(512 + 16)
        fh.write(b"\xff\xff\xff\xff")
    with open_hive(disk.path) as handle:
        assert handle.location["partition"] == 1
        assert any("backup GPT" in n for n in handle.hive.notices)
