"""rEFInd: the kernel options of `refind_linux.conf` and of the manual stanzas of refind.conf.

rEFInd finds Linux kernels by itself and passes them the options of `refind_linux.conf` in the
kernel's folder (mkrlconf writes it: one line per menu choice, `"title"  "options"`), or, for a
manual `menuentry` stanza of refind.conf, its `options "..."`.  Both are read at every boot:
editing them is durable.  rEFInd's own menu is on the firmware's console (reported, not edited).
Only double-quoted option strings without inner quotes are taken (a bare or escaped value is
left for the user: the quoting rules of rEFInd's tokenizer differ from a shell's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: refind.conf inside the ESP (rEFInd's own folder, or the fallback path it was installed to).
CONF_FOLDERS = ("EFI/refind", "EFI/BOOT")
_QUOTED = re.compile(r'"([^"\\]*)"')
_LINUX_LOADER = re.compile(r"(^|[/\\])(vmlinu[xz]|bzImage|kernel)[^/\\]*$", re.I)


@dataclass(frozen=True)
class Options:
    """One kernel option string: its line, the menu title and the span inside its quotes."""

    line: int
    title: str
    span: tuple[int, int]


def _lines(text: str):
    offset = 0
    for number, line in enumerate(text.split("\n"), 1):
        yield number, offset, line
        offset += len(line) + 1


def linux_conf(text: str) -> list[Options]:
    """The option strings of a refind_linux.conf (`"title" "options"` per line)."""
    out = []
    for number, offset, line in _lines(text):
        if line.lstrip().startswith("#"):
            continue
        quoted = list(_QUOTED.finditer(line))
        if len(quoted) < 2 or line[quoted[0].start():quoted[1].end()].count('"') != 4 \
                or line[:quoted[0].start()].strip():
            continue                    # not `"title" "options"` as mkrlconf writes it
        title, opts = quoted[0], quoted[1]
        out.append(Options(number, title.group(1), (offset + opts.start(1), offset + opts.end(1))))
    return out


def manual_options(text: str) -> list[Options]:
    """The `options "..."` of refind.conf's enabled `menuentry` stanzas that boot a Linux
    kernel (`loader` named vmlinuz/bzImage/kernel*, or `ostype Linux`); submenu entries
    inherit them."""
    out: list[Options] = []
    depth, entry = 0, None
    for number, offset, line in _lines(text):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        key = words[0].lower()
        if key == "menuentry" and depth == 0:
            title = line.split(None, 1)[1].rsplit("{", 1)[0].strip().strip('"')
            entry = {"title": title, "options": None, "linux": False, "disabled": False}
        elif key == "options" and depth == 1 and entry is not None:
            m = _QUOTED.fullmatch(line.split(None, 1)[1].strip()) if len(words) > 1 else None
            if m is not None:
                start = offset + line.index('"') + 1
                entry["options"] = Options(number, entry["title"],
                                           (start, start + len(m.group(1))))
        elif key == "loader" and depth == 1 and entry is not None and len(words) > 1:
            entry["linux"] = entry["linux"] or bool(_LINUX_LOADER.search(words[1].strip('"')))
        elif key == "ostype" and depth == 1 and entry is not None and len(words) > 1:
            entry["linux"] = entry["linux"] or words[1].strip('"') == "Linux"
        elif key == "disabled" and depth == 1 and entry is not None:
            entry["disabled"] = len(words) == 1 or words[1].strip('"').lower() in ("yes", "1",
                                                                                  "true", "on")
        depth += line.split("#", 1)[0].count("{") - line.split("#", 1)[0].count("}")
        depth = max(depth, 0)
        if depth == 0 and entry is not None and "}" in line.split("#", 1)[0]:
            if entry["options"] is not None and entry["linux"] and not entry["disabled"]:
                out.append(entry["options"])
            entry = None
    return out
