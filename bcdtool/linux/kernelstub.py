"""kernelstub (Pop!_OS, and Kali/Mint/elementary installs that use it): the JSON configuration
/etc/kernelstub/configuration from which it writes the systemd-boot entry (`options`) and the
ESP's `cmdline` file at every kernel update.

kernelstub reads `user` (it copies `default` there on first run): `kernel_options` is a list of
arguments, placed after `root=UUID=... ro`.  An edit replaces only that array's text, in the
layout it had (one item per line with the same indent, or inline), so every other byte stays.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

CONFIG = "/etc/kernelstub/configuration"


@dataclass(frozen=True)
class Options:
    """`user.kernel_options`: the values and the span of the array (brackets included)."""

    values: list[str]
    span: tuple[int, int]


def _string_end(text: str, i: int) -> int:
    """The index after the JSON string starting at text[i] == '"'."""
    i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        i += 1
    return len(text)


def kernel_options(text: str) -> Options | None:
    """The `user` section's kernel_options, or None when the file is not such a configuration
    (invalid JSON, no `user` object, options not a list of strings)."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):     # RecursionError: arrays nested thousands deep
        return None
    user = doc.get("user") if isinstance(doc, dict) else None
    values = user.get("kernel_options") if isinstance(user, dict) else None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return None
    # Find the array's text: the "user" key at depth 1, then its "kernel_options" at depth 2.
    depth, i, path = 0, 0, []
    key = None
    while i < len(text):
        c = text[i]
        if c == '"':
            end = _string_end(text, i)
            word = json.loads(text[i:end])
            rest = text[end:].lstrip()
            if rest.startswith(":"):
                key = word
            i = end
            continue
        if c in "{[":
            path.append(key if depth else None)
            depth += 1
            if c == "[" and path[-1] == "kernel_options" and path[1:2] == ["user"] and depth == 3:
                close = _array_end(text, i)
                return Options(values, (i, close))
            key = None
        elif c in "}]":
            depth -= 1
            path.pop()
        i += 1
    return None


def _array_end(text: str, i: int) -> int:
    """The index after the `]` closing the array that starts at text[i] == '['."""
    depth = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            i = _string_end(text, i)
            continue
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)


def with_options(text: str, opts: Options, values: list[str]) -> str:
    """`text` with the kernel_options array holding `values`, in the array's own layout."""
    old = text[opts.span[0]:opts.span[1]]
    items = [json.dumps(v) for v in values]
    m = re.search(r"\[\s*?\n([ \t]*)\S", old)
    if m is not None:
        close = re.search(r"\n([ \t]*)\]$", old)
        close_indent = close.group(1) if close else ""
        body = (",\n" + m.group(1)).join(items)
        new = f"[\n{m.group(1)}{body}\n{close_indent}]" if items else "[]"
    else:
        new = "[" + ", ".join(items) + "]"
    return text[:opts.span[0]] + new + text[opts.span[1]:]
