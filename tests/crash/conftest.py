"""Print the crash points injected and recovered (the figure docs/reliability.md cites)."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter) -> None:
    from crash_support import INJECTED as injected

    if not injected:
        return
    terminalreporter.write_sep("-", "crash points injected and recovered")
    for name, points in sorted(injected.items()):
        terminalreporter.write_line(f"{len(points):4d}  {name}: N = {sorted(points)}")
    terminalreporter.write_line(f"{sum(map(len, injected.values())):4d}  total")
