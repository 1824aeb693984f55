"""regedit `.reg` export ("Windows Registry Editor Version 5.00") of a hive or a subtree.

Keys are written as `[PREFIX\\path]` (hivexregedit's convention: the root is `[\\]` with the
default empty prefix), values in list order.  REG_SZ and REG_DWORD use regedit's readable forms
only when that form gives back the exact bytes; everything else is `hex:` / `hex(N):` with
regedit's line wrapping, so an import reproduces the data byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator

from bcdtool.regf.hive import Hive, Key
from bcdtool.regf.values import REG_BINARY, REG_DWORD, REG_SZ

HEADER = "Windows Registry Editor Version 5.00"
#: regedit wraps hex data so that no line exceeds 80 characters.
LINE_WIDTH = 80


def export(hive: Hive, key: Key | None = None, *, prefix: str = "") -> str:
    """The `.reg` text of `key`'s subtree (default: the whole hive)."""
    return "".join(line + "\r\n" for line in iter_export(hive, key, prefix=prefix))


def iter_export(hive: Hive, key: Key | None = None, *, prefix: str = "") -> Iterator[str]:
    """The lines of the `.reg` text, produced while walking (for large hives)."""
    yield HEADER
    yield ""
    for current in hive.walk(key):
        path = current.path
        yield f"[{prefix}\\{path}]" if path or not prefix else f"[{prefix}]"
        for value in current.values():
            yield from value_lines(value.name, value.type, value.raw)
        yield ""


def value_lines(name: str, value_type: int, raw: bytes) -> list[str]:
    """The line(s) regedit writes for one value."""
    head = "@=" if name == "" else f'"{escape(name)}"='
    if value_type == REG_DWORD and len(raw) == 4:
        return [f"{head}dword:{int.from_bytes(raw, 'little'):08x}"]
    if value_type == REG_SZ:
        text = _plain_string(raw)
        if text is not None:
            return [f'{head}"{escape(text)}"']
    kind = "hex:" if value_type == REG_BINARY else f"hex({value_type:x}):"
    return _hex_lines(head + kind, raw)


def escape(text: str) -> str:
    """regedit's escaping inside double quotes: backslash and double quote."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _plain_string(raw: bytes) -> str | None:
    """The string when `raw` is exactly its canonical REG_SZ encoding and fits on one line."""
    if len(raw) < 2 or len(raw) % 2 or raw[-2:] != b"\0\0":
        return None
    try:
        text = raw[:-2].decode("utf-16-le")
    except UnicodeDecodeError:
        return None  # lone surrogates: only hex keeps them
    if "\0" in text or "\r" in text or "\n" in text:
        return None
    return text


def _hex_lines(head: str, raw: bytes) -> list[str]:
    lines: list[str] = []
    line = head
    for index, byte in enumerate(raw):
        item = f"{byte:02x}" + ("," if index + 1 < len(raw) else "")
        if len(line) + len(item) > LINE_WIDTH - 2 and index:
            lines.append(line + "\\")
            line = "  "
        line += item
    lines.append(line)
    return lines
