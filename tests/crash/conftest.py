"""The full crash matrix runs on request only; print the crash points injected and recovered.

`make test` runs slow tests too, and the full matrix (every write of the recipe on 11 targets,
each crash followed by detection, undo, re-run and independent checks: ~450 processes) takes
minutes, so it is deselected unless asked for: `make crash`, `BCDTOOL_CRASH_MATRIX=full`, or a
`-m` expression naming `slow`.  The representative subset always runs.
"""

from __future__ import annotations

import os


def pytest_collection_modifyitems(config, items) -> None:
    if os.environ.get("BCDTOOL_CRASH_MATRIX") == "full" or "slow" in (config.option.markexpr or ""):
        return
    matrix = [item for item in items
              if item.get_closest_marker("slow") and "test_crash_injection" in item.nodeid]
    if matrix:
        items[:] = [item for item in items if item not in matrix]
        config.hook.pytest_deselected(items=matrix)


def pytest_terminal_summary(terminalreporter) -> None:
    from tests.crash.crash_support import INJECTED as injected

    if not injected:
        return
    terminalreporter.write_sep("-", "crash points injected and recovered")
    for name, points in sorted(injected.items()):
        terminalreporter.write_line(f"{len(points):4d}  {name}: N = {sorted(points)}")
    terminalreporter.write_line(f"{sum(map(len, injected.values())):4d}  total")
