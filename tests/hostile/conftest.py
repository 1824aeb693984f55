"""Fixtures for hostile-input tests: real disks with a real store, an isolated state folder,
and a guard that turns a hang into a failure."""

from __future__ import annotations

import shutil
import signal

import pytest

from tests.helpers.common import CORPUS, need_tools
from tests.locate.locate_helpers import build_disk


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch):
    """Every test gets its own $XDG_STATE_HOME (journals and pending-write markers)."""
    folder = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    return folder


@pytest.fixture(autouse=True)
def no_hang():
    """Fail a test that blocks (a FIFO read) instead of hanging the run: 60 s is not a speed
    assertion, only a bound on waiting forever."""
    def expired(*_):
        raise TimeoutError("blocked for 60 s (a hang)")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


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
