"""Fixture disk images for filesystem tests, built once per session with real tools (no root)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fixtures import images
from tests.fs.fs_helpers import built

#: Not a multiple of any cluster size, so extents must be trimmed to the file size.
PAYLOAD_SIZE = 45_123


@pytest.fixture(scope="session")
def payload() -> bytes:
    """The stand-in BCD file: deterministic pseudo-random bytes (the fs layer never parses it)."""
    return random.Random(6).randbytes(PAYLOAD_SIZE)


@pytest.fixture(scope="session")
def esp_disk(tmp_path_factory, payload) -> images.DiskImage:
    """GPT disk with a 34 MiB FAT32 ESP holding EFI/Microsoft/Boot/BCD (+ a log and a long name)."""
    folder = tmp_path_factory.mktemp("esp")
    return built(images.build_esp_disk, folder / "esp.img", payload, extra_files={
        "EFI/Microsoft/Boot/BCD.LOG1": b"\0" * 1024,
        "EFI/Microsoft/Boot/Boot Manager Long Name.efi": b"MZ" + bytes(3000),
    })


@pytest.fixture(scope="session")
def mbr_disk(tmp_path_factory, payload) -> images.DiskImage:
    """MBR disk: active NTFS System Reserved with Boot/BCD, and a Windows partition with hives."""
    folder = tmp_path_factory.mktemp("mbr")
    hives = images.windows_hive_files(system=payload[::-1], software=payload[:20000])
    return built(images.build_mbr_disk, folder / "mbr.img", payload, windows_files=hives)


@pytest.fixture(scope="session")
def converted(tmp_path_factory, esp_disk, mbr_disk):
    """converted(firmware, fmt) -> path of the session disk in that image format (cached)."""
    cache: dict[tuple[str, str], Path] = {}
    folder = tmp_path_factory.mktemp("formats")

    def get(firmware: str, fmt: str) -> Path:
        disk = esp_disk if firmware == "uefi" else mbr_disk
        if (firmware, fmt) not in cache:
            cache[firmware, fmt] = built(images.convert, disk.path, fmt, folder)
        return cache[firmware, fmt]

    return get
