"""Fixtures for hostile-input tests: real disks with a real store, an isolated state folder,
and a guard that turns a hang into a failure."""

from __future__ import annotations

import shutil

import pytest

from tests.helpers.common import CORPUS, need_tools
from tests.helpers.guards import no_hang, state  # noqa: F401 (autouse fixtures)
from tests.locate.locate_helpers import build_disk


@pytest.fixture(scope="session")
def hostile_disks(tmp_path_factory):
    """Raw base disks with a real store and its logs: UEFI (GPT + FAT32 ESP), BIOS (MBR + NTFS)."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    need_tools("sfdisk", "mkfs.fat", "mcopy", "mkntfs", "ntfscp")
    folder = tmp_path_factory.mktemp("hostile-disks")
    return {fw: build_disk(fw, folder, CORPUS) for fw in ("uefi", "bios")}


@pytest.fixture
def disk_copy(hostile_disks, tmp_path):
    """A private copy of a base disk: disk_copy("uefi") / disk_copy("bios")."""
    def copy(firmware: str = "uefi", name: str | None = None):
        dest = tmp_path / (name or f"{firmware}.img")
        shutil.copyfile(hostile_disks[firmware].path, dest)
        return dest
    return copy
