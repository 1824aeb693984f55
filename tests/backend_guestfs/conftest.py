"""guestfs tests boot the libguestfs appliance (seconds each); they run only when asked for
(`-m guestfs`, as `make guestfs-test` does)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _tcg():
    """The appliance boots only under TCG here; guestfish (our independent reader) needs it too."""
    os.environ.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
