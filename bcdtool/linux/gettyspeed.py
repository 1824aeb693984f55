"""The speed a getty command line opens its port at (agetty, util-linux getty, BusyBox getty).

`agetty -L ttyS0 9600 vt100`, `getty 38400 tty1` and `agetty --keep-baud 115200,38400,9600 -`
all name the speed as a word of digits (a comma list tries each in turn).  A getty at 9600 on a
port whose kernel console runs at 115200 prints its login prompt as garbage.
"""

from __future__ import annotations

import re

from bcdtool.linux.cmdline import STANDARD_BAUDS

_WORD = re.compile(r"\S+")
_SPEEDS = re.compile(r"^\d+(,\d+)*$")


def speed_span(line: str) -> tuple[int, int, list[int]] | None:
    """(start, end, speeds) of the speed word after a getty program in `line`, or None."""
    seen_getty = False
    for m in _WORD.finditer(line):
        word = m.group(0).strip("\"'")
        if not seen_getty:
            seen_getty = "getty" in word.rsplit("/", 1)[-1]
            continue
        if _SPEEDS.match(word):
            speeds = [int(x) for x in word.split(",")]
            if all(s in STANDARD_BAUDS for s in speeds):
                return m.start(), m.end(), speeds
    return None
