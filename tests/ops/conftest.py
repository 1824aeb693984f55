"""Fixtures for recipe tests: an isolated state folder, and Windows disks built once per run."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def state(isolated_state) -> Path:
    """Every test gets its own $XDG_STATE_HOME (journals, audit log, pending-write markers)."""
    return isolated_state


@pytest.fixture(scope="session")
def base_disks(tmp_path_factory):
    """{firmware: DiskImage} (raw) — built once; tests convert copies with qemu-img."""
    from tests.ops.ops_helpers import build_windows_disk

    folder = tmp_path_factory.mktemp("base-disks")
    return {fw: build_windows_disk(fw, folder / f"{fw}.img") for fw in ("uefi", "bios")}
