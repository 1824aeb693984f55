"""The subset of POSIX sh that /etc/default/grub files use: assignments, quotes, `$VAR` expansion.

Nothing is executed.  A value that needs a command (`` `...` ``, `$(...)`), an unsupported
expansion (`${X:-y}`) or bash's `+=` is *unknown*, never guessed.  Every assignment keeps the
span of its value in the file so an edit can replace exactly those bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NAME_EQ = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\+?=)")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
MAX_STATEMENTS = 100_000
#: Reserved words after which a command (maybe an assignment) starts.
_KEYWORDS_BEFORE_COMMAND = {"then", "do", "else", "elif", "{", "(", "!"}


@dataclass
class Word:
    """One shell word: its span in the file and, if simple, its expanded value."""

    start: int
    end: int
    text: str
    quote: str            # '"' or "'" when the whole word is one quoted string, "" if bare, "mixed"
    unknown: str = ""     # why the value cannot be known without running code


@dataclass
class Assignment:
    """`NAME=value` at a line of a file."""

    name: str
    op: str               # "=" or "+="
    file: str
    line: int
    word: Word
    value: str | None     # expanded value, None when unknown
    reason: str = ""      # why the value is unknown
    references_self: bool = False

    @property
    def inner(self) -> tuple[int, int]:
        """Span (in the file text) of the editable text: inside the quotes, or the bare word."""
        w = self.word
        if w.quote in ('"', "'"):
            return w.start + 1, w.end - 1
        return w.start, w.end


@dataclass
class ShellEnv:
    """The variables after sourcing files in order; every assignment seen, in order."""

    values: dict[str, str | None] = field(default_factory=dict)
    assignments: list[Assignment] = field(default_factory=list)
    notes: list[tuple[str, int, str]] = field(default_factory=list)

    def last(self, name: str) -> Assignment | None:
        """The assignment that decides `name` (the last one), or None."""
        for a in reversed(self.assignments):
            if a.name == name:
                return a
        return None

    def chain(self, name: str) -> list[Assignment]:
        """The assignments whose text ends up in the value of `name`, oldest first."""
        out: list[Assignment] = []
        for a in reversed(self.assignments):
            if a.name != name:
                continue
            out.insert(0, a)
            if not a.references_self:
                break
        return out


def _scan_word(text: str, i: int) -> tuple[Word, int]:
    """Read one word starting at `i`; return it and the index after it."""
    start, n = i, len(text)
    quotes: list[str] = []
    unknown = ""
    while i < n:
        c = text[i]
        if c in " \t\n;&|":
            break
        if c == "\\":
            i = min(i + 2, n)  # a backslash at the end of the text escapes nothing
            quotes.append("\\")
            continue
        if c == "'":
            close = text.find("'", i + 1)
            if close < 0:
                return Word(start, n, text[start:n], "mixed", "unterminated quote"), n
            quotes.append("'")
            i = close + 1
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    j += 1
                elif text[j] == "`" or text.startswith("$(", j):
                    unknown = unknown or "command substitution"
                j += 1
            if j >= n:
                return Word(start, n, text[start:n], "mixed", "unterminated quote"), n
            quotes.append('"')
            i = j + 1
            continue
        if c == "`" or text.startswith("$(", i):
            unknown = unknown or "command substitution"
            close = text.find("`" if c == "`" else ")", i + 1)
            i = n if close < 0 else close + 1
            quotes.append("cmd")
            continue
        quotes.append("")
        i += 1
    raw = text[start:i]
    if len(quotes) == 1 and quotes[0] in ('"', "'"):
        quote = quotes[0]
    elif all(q == "" for q in quotes):
        quote = ""
    else:
        quote = "mixed"
    return Word(start, i, raw, quote, unknown), i


def _expand(word: Word, values: dict[str, str | None]) -> tuple[str | None, str, set[str]]:
    """Expand a word's quotes and `$VAR`s; (value, reason-if-unknown, names referenced)."""
    if word.unknown:
        return None, word.unknown, set()
    text, out, refs = word.text, [], set()
    i, n, dq = 0, len(text), False
    while i < n:
        c = text[i]
        if c == "'" and not dq:
            close = text.index("'", i + 1)
            out.append(text[i + 1:close])
            i = close + 1
            continue
        if c == '"':
            dq = not dq
            i += 1
            continue
        if c == "\\" and i + 1 < n:
            nxt = text[i + 1]
            if not dq or nxt in '$`"\\\n':
                out.append("" if nxt == "\n" else nxt)
            else:
                out.append(c + nxt)
            i += 2
            continue
        if c == "$":
            m = _VAR.match(text, i)
            if not m:
                if text.startswith("${", i):
                    return None, "unsupported parameter expansion", refs
                out.append(c)
                i += 1
                continue
            name = m.group(1) or m.group(2)
            refs.add(name)
            value = values.get(name, "")
            if value is None:
                return None, f"uses ${name}, whose value is unknown", refs
            out.append(value)
            i = m.end()
            continue
        out.append(c)
        i += 1
    return "".join(out), "", refs


class _Lines:
    """Line numbers of (mostly increasing) offsets in one text, counted from the last offset
    asked: linear over a file, where counting from its start each time was quadratic (a
    500,000-line file took minutes)."""

    def __init__(self, text: str) -> None:
        self.text, self.offset, self.line = text, 0, 1

    def __call__(self, offset: int) -> int:
        if offset < self.offset:
            self.offset, self.line = 0, 1
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line


def parse_into(env: ShellEnv, text: str, file: str) -> None:
    """Apply the assignments of one file's text to `env` (in order)."""
    i, n, statements = 0, len(text), 0
    line_of = _Lines(text)
    at_start = True
    while i < n:
        statements += 1
        if statements > MAX_STATEMENTS:
            env.notes.append((file, line_of(i), "too many statements; rest ignored"))
            return
        c = text[i]
        if c in " \t":
            i += 1
            continue
        if c in "\n;&|":
            at_start = True
            i += 1
            continue
        if c == "#":
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        if at_start and text.startswith("export", i) and i + 6 < n and text[i + 6] in " \t":
            i += 6
            continue
        m = _NAME_EQ.match(text, i) if at_start else None
        if m:
            name, op = m.group(1), m.group(2)
            word, end = _scan_word(text, m.end())
            line = line_of(i)
            if op == "+=":
                value, refs = None, set()
                reason = "`+=` is not valid in sh (grub-mkconfig would fail)"
            else:
                value, reason, refs = _expand(word, env.values)
            # `A=1 cmd` sets A only for cmd; a following command word makes this no assignment.
            j = end
            while j < n and text[j] in " \t":
                j += 1
            if j < n and text[j] not in "\n;&|#" and not _NAME_EQ.match(text, j):
                env.notes.append((file, line, f"`{name}=` prefixes a command; ignored"))
                at_start = False
                i = end
                continue
            env.assignments.append(Assignment(name, op, file, line, word, value, reason,
                                              references_self=name in refs or op == "+="))
            env.values[name] = value
            i = end
            continue
        # Any other command: skip its words (they may hold quotes spanning lines).
        word, end = _scan_word(text, i)
        i = max(end, i + 1)
        at_start = word.text in _KEYWORDS_BEFORE_COMMAND


def parse(files: list[tuple[str, str]]) -> ShellEnv:
    """Source `(path, text)` files in order, like grub-mkconfig does."""
    env = ShellEnv()
    for path, text in files:
        parse_into(env, text, path)
    return env


def quote_value(value: str) -> str:
    """A double-quoted shell word whose value is `value`."""
    return '"' + re.sub(r'([\\"`$])', r"\\\1", value) + '"'
