"""guestfs tests boot the libguestfs appliance (seconds each); they run only when asked for
(`-m guestfs`, as `make guestfs-test` does)."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    """Leave guestfs tests out of runs that did not select them by marker (make test, plain pytest)."""
    if "guestfs" in (config.getoption("markexpr") or ""):
        return  # "-m guestfs" runs them, "-m 'not guestfs'" deselects them itself
    launches = [item for item in items if item.get_closest_marker("guestfs")]
    if launches:
        config.hook.pytest_deselected(items=launches)
        items[:] = [item for item in items if not item.get_closest_marker("guestfs")]


@pytest.fixture(scope="session", autouse=True)
def _tcg():
    """The appliance boots only under TCG here; guestfish (our independent reader) needs it too."""
    os.environ.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
