"""Print how many hostile inputs each fuzz target really ran (the figure docs/reliability.md
cites)."""

from __future__ import annotations

import json
import os

from tests.fuzz.fuzz_support import RAN


def pytest_terminal_summary(terminalreporter) -> None:
    if not RAN:
        return
    terminalreporter.write_sep("-", "fuzz inputs run")
    for name, count in sorted(RAN.items()):
        terminalreporter.write_line(f"{count:8d}  {name}")
    terminalreporter.write_line(f"{sum(RAN.values()):8d}  total")
    report = os.environ.get("BCDTOOL_FUZZ_REPORT")
    if report:
        with open(report, "w", encoding="utf-8") as handle:
            json.dump(RAN, handle, indent=1, sort_keys=True)
