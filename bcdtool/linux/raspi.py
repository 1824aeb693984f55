"""Raspberry Pi firmware files: config.txt's `enable_uart`, and the `serial0` console alias.

The firmware reads config.txt (`key=value` lines; `[filter]` lines such as `[pi4]` or `[cm4]`
make what follows apply to some boards only, until `[all]`), then passes cmdline.txt's first line
to the kernel.  `console=serial0,115200` names the primary UART whatever the model: the firmware
rewrites it to ttyAMA0 or ttyS0.  On boards whose primary UART is the mini UART (Pi 3, 4, Zero W)
the firmware disables it unless `enable_uart=1`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The alias the firmware maps to the primary UART.
SERIAL_ALIAS = "serial0"


@dataclass(frozen=True)
class Setting:
    """`enable_uart=value` that applies to every board: its line and value span."""

    line: int
    value: str
    span: tuple[int, int]


def includes(text: str) -> list[str]:
    """File names of `include NAME` lines that apply to every board (Ubuntu's config.txt
    includes syscfg.txt and usercfg.txt, where its enable_uart is), in order."""
    out, every_board = [], True
    for line in text.split("\n"):
        words = line.split()
        if line.strip().startswith("["):
            every_board = line.strip().lower().startswith("[all]")
        elif every_board and len(words) == 2 and words[0] == "include" \
                and "/" not in words[1] and words[1] not in (".", ".."):
            out.append(words[1])
    return out


def uart_setting(text: str) -> Setting | None:
    """The last `enable_uart` that applies to every board (outside board filters), or None."""
    found, every_board, offset = None, True, 0
    for lineno, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            every_board = stripped.lower().startswith("[all]")
        elif every_board and not stripped.startswith("#") and "=" in stripped:
            key, _, value = stripped.partition("=")
            if key.strip() == "enable_uart":
                start = offset + line.index("=") + 1
                found = Setting(lineno, value.split("#", 1)[0].strip(),
                                (start, offset + len(line.rstrip())))
        offset += len(line) + 1
    return found


def ends_for_every_board(text: str) -> bool:
    """True when a line appended to `text` applies to every board (no open board filter)."""
    sections = [ln.strip().lower() for ln in text.splitlines() if ln.strip().startswith("[")]
    return not sections or sections[-1].startswith("[all]")


def cmdline_name(texts: list[str]) -> str:
    """The command line file the firmware reads: the last `cmdline=` for every board in
    config.txt and its includes (Ubuntu 20.04's syscfg.txt: `cmdline=nobtcmd.txt`)."""
    name = "cmdline.txt"
    for text in texts:
        every_board = True
        for line in text.split("\n"):
            stripped = line.strip()
            if stripped.startswith("["):
                every_board = stripped.lower().startswith("[all]")
            elif every_board and stripped.startswith("cmdline="):
                value = stripped[len("cmdline="):].split("#", 1)[0].strip()
                if value and "/" not in value and value not in (".", ".."):
                    name = value
    return name
