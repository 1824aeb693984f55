"""The suite's shared configuration: Hypothesis' profile, the opt-in markers, shared fixtures.

Test helpers are a package (`tests.helpers`, and `tests.<folder>.<module>` for one folder's
helpers); nothing but the repository root is put on sys.path (pyproject's `pythonpath`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from bcdtool.backends import HIVE_OPENERS
from bcdtool.blockdev.openers import register_remote
from bcdtool.blockdev.remote import open_url
from bcdtool.cli.lazy import register_openers
from bcdtool.locate.guestfs import open_hive_guestfs
from bcdtool.urls import SCHEMES
from tests.helpers.common import CORPUS

# Tests use the library as a program using it does: the CLI's registration of image-format and
# NTFS readers (each imported when first needed, bcdtool/cli/lazy.py), and disk URLs and
# libguestfs targets opened by openers registered by hand.
register_openers()
register_remote(SCHEMES, open_url)
HIVE_OPENERS["guestfs"] = open_hive_guestfs

# No test may depend on the machine's speed: Hypothesis' default 200 ms deadline fails tests
# on a loaded machine.  Tests that bound work do it by counting, or by a hard hang guard.
settings.register_profile("bcdtool", deadline=None)
settings.load_profile("bcdtool")

#: Markers whose tests run only when a -m expression names them (`make e2e`, `make
#: guestfs-test`): they boot guests or the libguestfs appliance.
OPT_IN = ("e2e", "guestfs")


def pytest_collection_modifyitems(config, items) -> None:
    """Leave opt-in tests out of runs that did not name their marker (make test, plain pytest)."""
    expr = config.getoption("markexpr") or ""
    for marker in OPT_IN:
        if marker in expr:
            continue  # "-m e2e" runs them; "-m 'not e2e'" deselects them itself
        chosen = [item for item in items if item.get_closest_marker(marker)]
        if chosen:
            config.hook.pytest_deselected(items=chosen)
            items[:] = [item for item in items if not item.get_closest_marker(marker)]


@pytest.fixture
def corpus() -> Path:
    """The corpus folder; the test is skipped when ../shared is not there."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    return CORPUS


@pytest.fixture
def isolated_state(tmp_path, monkeypatch) -> Path:
    """A private $XDG_STATE_HOME (journals, audit log, pending-write markers) for one test."""
    folder = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    return folder
