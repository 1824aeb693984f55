"""extlinux/syslinux configuration files: labels, their Linux kernels, APPEND lines, SERIAL.

Directives are case-insensitive words at the start of a line.  A LABEL boots `LINUX path` (always
a Linux kernel) or `KERNEL path`, whose file name decides the type (`.c32` COM32 modules such as
menu.c32 or chain.c32, `.bin`/`.bs`/`.bss` boot sectors, `.0` PXE, `.com`/`.cbt`, and memdisk are
not Linux).  An APPEND before the first LABEL applies to every label without its own.  SERIAL
(`SERIAL port [baud [flow]]`, port 0-3 or an I/O address) puts the menu on a serial port and, as
syslinux's documentation says, belongs first in the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Where extlinux/syslinux look for their configuration (Alpine: /boot/extlinux.conf).
CONFIG_PATHS = ("/boot/extlinux.conf", "/boot/extlinux/extlinux.conf", "/extlinux.conf",
                "/extlinux/extlinux.conf", "/boot/syslinux/syslinux.cfg",
                "/boot/syslinux/extlinux.conf", "/syslinux/syslinux.cfg", "/syslinux.cfg")
#: I/O addresses of the PC's COM1-COM4 (ttyS0-ttyS3).
COM_ADDRESSES = {0x3F8: 0, 0x2F8: 1, 0x3E8: 2, 0x2E8: 3}
DEFAULT_SPEED = 9600
_NOT_LINUX = re.compile(r"(\.(c32|bin|bs|bss|0|com|cbt|img|efi)$)|^memdisk$|memtest", re.I)
_DIRECTIVE = re.compile(r"^([ \t]*)([A-Za-z]+)([ \t]*)(.*)$")


@dataclass
class Label:
    """One LABEL: what it boots and where its APPEND line is (if it has one)."""

    name: str
    line: int
    kernel: str | None = None
    kernel_line: int | None = None
    other: bool = False                             # COM32/BOOT/LOCALBOOT/CONFIG...: not Linux
    indent: str = "  "
    append_line: int | None = None
    append_span: tuple[int, int] | None = None     # offsets of APPEND's arguments

    @property
    def linux(self) -> bool:
        """True when the label boots a Linux kernel."""
        return (not self.other and bool(self.kernel)
                and not _NOT_LINUX.search(self.kernel.rsplit("/", 1)[-1]))


@dataclass
class Serial:
    """A SERIAL directive: its line, span, port number (None when unreadable) and speed."""

    line: int
    span: tuple[int, int]
    port: int | None
    speed: int


@dataclass
class Config:
    """What one extlinux/syslinux file says."""

    labels: list[Label] = field(default_factory=list)
    global_append: tuple[int, tuple[int, int]] | None = None    # (line, span of arguments)
    serial: Serial | None = None
    first_directive: int = 1                        # line where a directive first appears

    @property
    def linux_labels(self) -> list[Label]:
        """The labels that boot Linux."""
        return [lb for lb in self.labels if lb.linux]


def parse_port(word: str) -> int | None:
    """A SERIAL port: 0-3, or a COM I/O address (`0x3f8`); None when neither."""
    try:
        value = int(word, 0)
    except ValueError:
        return None
    return value if value < 4 else COM_ADDRESSES.get(value)


def parse(text: str) -> Config:
    """Parse an extlinux/syslinux configuration text."""
    cfg = Config()
    offset, label = 0, None
    seen_directive = False
    for lineno, line in enumerate(text.split("\n"), 1):
        m = _DIRECTIVE.match(line)
        if m and not line.lstrip().startswith("#"):
            word, rest = m.group(2).upper(), m.group(4)
            args_start = offset + m.start(4)
            args_end = offset + len(line.rstrip(" \t\r"))
            if not seen_directive:
                cfg.first_directive, seen_directive = lineno, True
            if word == "LABEL":
                label = Label(rest.strip(), lineno)
                cfg.labels.append(label)
            elif word in ("LINUX", "KERNEL") and label is not None:
                label.kernel = rest.split()[0] if rest.split() else ""
                label.kernel_line = lineno
                label.indent = m.group(1)
            elif word in ("COM32", "BOOT", "BSS", "PXE", "FDIMAGE", "COMBOOT", "CONFIG",
                          "LOCALBOOT") and label is not None:
                label.other = True
            elif word == "APPEND":
                if label is None:
                    cfg.global_append = (lineno, (args_start, max(args_start, args_end)))
                else:
                    label.append_line = lineno
                    label.append_span = (args_start, max(args_start, args_end))
            elif word == "SERIAL" and label is None and cfg.serial is None:
                words = rest.split()
                port = parse_port(words[0]) if words else None
                speed = int(words[1]) if len(words) > 1 and words[1].isdigit() else DEFAULT_SPEED
                cfg.serial = Serial(lineno, (offset, offset + len(line)), port, speed)
        offset += len(line) + 1
    return cfg
