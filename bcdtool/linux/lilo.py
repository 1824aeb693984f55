"""LILO's /etc/lilo.conf (Slackware): global options, `image=` sections and their `append=`.

LILO reads this file only when /sbin/lilo runs: it then writes the kernel command lines into its
map file (/boot/map) and the boot sector.  Editing lilo.conf changes nothing until lilo runs
again inside the guest, which bcdtool does not do, so `linux fix` refuses LILO guests that need
a change and names the lines to add.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_OPTION = re.compile(r"""^\s*([A-Za-z-]+)\s*(?:=\s*(?:"([^"]*)"|(\S+)))?""")


@dataclass
class Image:
    """One `image=` section: its kernel, line, and the command line LILO passes."""

    kernel: str
    line: int
    append: str | None = None
    addappend: str | None = None


@dataclass
class Config:
    """A parsed lilo.conf."""

    serial: tuple[int, str] | None = None          # (line, value of serial=)
    append: str | None = None                      # the global append=
    addappend: str | None = None
    images: list[Image] = field(default_factory=list)

    def command_line(self, image: Image) -> str:
        """The arguments LILO gives `image` (its append, else the global one, plus addappend)."""
        base = image.append if image.append is not None else (self.append or "")
        extra = image.addappend if image.addappend is not None else (self.addappend or "")
        return f"{base} {extra}".strip()


def parse(text: str) -> Config:
    """The global settings and Linux images of a lilo.conf text (`other=` sections skipped)."""
    cfg = Config()
    section: Image | None = None
    other = False
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0]
        m = _OPTION.match(line)
        if not m:
            continue
        key, value = m.group(1).lower(), m.group(2) if m.group(2) is not None else m.group(3)
        if key == "image":
            section, other = Image(value or "", lineno), False
            cfg.images.append(section)
        elif key == "other":
            section, other = None, True
        elif other:
            continue
        elif key in ("append", "addappend"):
            setattr(section if section is not None else cfg, key, value or "")
        elif key == "serial" and section is None:
            cfg.serial = (lineno, value or "")
    return cfg
