"""regedit `.reg` export ("Windows Registry Editor Version 5.00") of a hive or a subtree.

Keys are written as `[PREFIX\\path]` (hivexregedit's convention: the root is `[\\]` with the
default empty prefix), values in list order.  A `.reg` file has no escape for line breaks and
control characters in names, so a key or value name holding one is refused (UnsupportedError),
never written as an injected line; UTF-8 output also refuses unpaired surrogates (`--utf16`
writes them exactly).  With `best_effort`, keys that cannot be read are reported as `;` comment
lines where they would have been, and listed in `problems`.  REG_SZ and REG_DWORD use regedit's
readable forms
only when that form gives back the exact bytes; everything else is `hex:` / `hex(N):` with
regedit's line wrapping, so an import reproduces the data byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator

from bcdtool.errors import BcdToolError, UnsupportedError
from bcdtool.regf.hive import Hive, Key
from bcdtool.regf.values import REG_BINARY, REG_DWORD, REG_SZ
from bcdtool.wintext import escape_name

HEADER = "Windows Registry Editor Version 5.00"
#: regedit wraps hex data so that no line exceeds 80 characters.
LINE_WIDTH = 80


def export(hive: Hive, key: Key | None = None, *, prefix: str = "") -> str:
    """The `.reg` text of `key`'s subtree (default: the whole hive)."""
    return "".join(line + "\r\n" for line in iter_export(hive, key, prefix=prefix))


def iter_export(hive: Hive, key: Key | None = None, *, prefix: str = "", utf16: bool = False,
                best_effort: bool = False, problems: list[str] | None = None) -> Iterator[str]:
    """The lines of the `.reg` text, produced while walking (for large hives).

    With `best_effort`, a key whose values or subkeys cannot be read becomes a comment line
    (`; bcdtool: UNREADABLE ...`) and a message in `problems`; without it the error propagates.
    """
    yield HEADER
    yield ""
    stack = [hive.root if key is None else key]
    while stack:
        current = stack.pop()
        path = current.path
        _check_name(path, "key", utf16)
        yield f"[{prefix}\\{path}]" if path or not prefix else f"[{prefix}]"
        try:
            values = current.values()
            lines = []
            for value in values:
                _check_name(value.name, f"value of key {escape_name(path)!r}", utf16)
                lines.extend(value_lines(value.name, value.type, value.raw))
        except UnsupportedError:
            raise
        except BcdToolError as exc:
            if not best_effort:
                raise
            lines = [_unreadable(f"values of key {escape_name(path) or '(root)'!r}", exc,
                                 problems)]
        yield from lines
        yield ""
        try:
            stack.extend(reversed(current.subkeys()))
        except BcdToolError as exc:
            if not best_effort:
                raise
            yield _unreadable(f"subkeys of key {escape_name(path) or '(root)'!r}", exc, problems)
            yield ""


def _unreadable(what: str, exc: BcdToolError, problems: list[str] | None) -> str:
    message = f"{what} cannot be read ({exc}); they are missing from this export"
    if problems is not None:
        problems.append(message)
    return f"; bcdtool: UNREADABLE {message}"


def _check_name(name: str, what: str, utf16: bool) -> None:
    """Refuse names a .reg file cannot hold exactly (line breaks would start new lines)."""
    if any(c < " " and c != "\t" or c == "\x7f" for c in name):
        raise UnsupportedError(f"{what} {escape_name(name)!r} holds a line break or control "
                               "character, which a .reg file cannot hold; export the keys around "
                               "it, or read it with `bcdtool hive ls --json`")
    if not utf16 and any("\ud800" <= c <= "\udfff" for c in name):
        raise UnsupportedError(f"{what} {escape_name(name)!r} holds an unpaired UTF-16 surrogate, "
                               "which UTF-8 cannot hold; export with --utf16 to keep it exactly")


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
