"""Fixtures of the cloud-disk tests: disk images of every format, HTTP servers, Azurite."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.azurite import Azurite, ensure_azurite
from fixtures import images
from tests.ops.ops_helpers import build_windows_disk


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    """Journals, audit log and pending markers of each test go to its own state folder."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    # A hang guard on the local servers, not a speed budget (the timeout test sets its own).
    monkeypatch.setenv("BCDTOOL_HTTP_TIMEOUT", "60")
    monkeypatch.setenv("BCDTOOL_HTTP_RETRIES", "2")


@pytest.fixture(scope="session")
def windows_raw(tmp_path_factory) -> tuple[Path, object]:
    """A raw UEFI Windows disk (GPT, FAT32 ESP with a bcdboot-like store, NTFS Windows)."""
    folder = tmp_path_factory.mktemp("windisk")
    disk = build_windows_disk("uefi", folder / "win.img")
    return folder / "win.img", disk


@pytest.fixture(scope="session")
def served(windows_raw, tmp_path_factory) -> Path:
    """A folder holding the Windows disk in every image format bcdtool reads."""
    raw, _ = windows_raw
    folder = tmp_path_factory.mktemp("served")
    for fmt in ("raw", "vhd-fixed", "vhd-dynamic", "vhdx", "qcow2", "vmdk"):
        out = images.convert(raw, fmt, folder)
        out.rename(folder / f"win-{fmt}{out.suffix}")
    return folder


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """A running Azurite (skipped, saying why, only when npm is absent)."""
    launcher = ensure_azurite()
    if launcher is None:
        pytest.skip(ensure_azurite.why)
    server = Azurite(launcher, tmp_path_factory.mktemp("azurite"))
    yield server
    server.stop()
