"""Findings of a check (`linux check`, `doctor`) and their one JSON shape.

A finding is the verdict of one rule: a stable `id`, a `status`, what it saw (`evidence`: the
file and line each fact came from) and how to fix it.  `ok` is true when no finding is a problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bcdtool.urls import scrub

STATUSES = ("ok", "problem", "warning", "unknown")
#: Evidence lines shown per finding in text output.
TEXT_EVIDENCE = 20
#: Control characters that text read from a target must not send to a terminal (an escape
#: sequence, a line break faking another finding); tabs, common in config lines, pass.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def printable(line: str) -> str:
    """`line` with its control characters (but tab) written as `\\uXXXX`."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04X}", line)


@dataclass(frozen=True)
class Evidence:
    """Where a fact was read: a file (guest path), a 1-based line (None: whole file), a note."""

    file: str
    line: int | None = None
    note: str = ""

    def __post_init__(self) -> None:
        # A target URL's secret never reaches a report (evidence names the target).
        object.__setattr__(self, "file", scrub(self.file))
        object.__setattr__(self, "note", scrub(self.note))

    def to_json(self) -> dict:
        """The JSON object of this evidence."""
        return {"file": self.file, "line": self.line, "note": self.note}


@dataclass(frozen=True)
class Finding:
    """The verdict of one rule."""

    id: str
    status: str
    message: str
    evidence: tuple[Evidence, ...] = ()
    fix: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown finding status {self.status!r}")  # a programming error
        # Fix commands and messages name the target: never with a URL's secret.
        object.__setattr__(self, "message", scrub(self.message))
        if self.fix is not None:
            object.__setattr__(self, "fix", scrub(self.fix))

    def to_json(self) -> dict:
        """The JSON object of this finding."""
        return {"id": self.id, "status": self.status, "message": self.message,
                "evidence": [e.to_json() for e in self.evidence], "fix": self.fix}


@dataclass
class Report:
    """All findings about one target, plus what the target is."""

    findings: list[Finding] = field(default_factory=list)
    distro: dict | None = None
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no finding is a problem (warnings and unknowns do not fail a check)."""
        return not any(f.status == "problem" for f in self.findings)

    def to_json(self) -> dict:
        """`{"ok": bool, "distro": ..., "findings": [...]}` plus any extra keys."""
        doc = {"ok": self.ok, "distro": self.distro,
               "findings": [f.to_json() for f in self.findings]}
        doc.update(self.extra)
        return doc

    def render_text(self) -> str:
        """A human-readable listing, one block per finding (at most `TEXT_EVIDENCE` evidence
        lines each: a hostile store can hold thousands; `--json` lists them all), control
        characters shown as `\\uXXXX` so that text read from a target cannot drive the
        terminal."""
        lines = []
        for f in self.findings:
            lines.append(f"[{f.status.upper():7}] {f.id}: {f.message}")
            for e in f.evidence[:TEXT_EVIDENCE]:
                where = f"{e.file}:{e.line}" if e.line else e.file
                lines.append(f"          {where}" + (f"  {e.note}" if e.note else ""))
            if len(f.evidence) > TEXT_EVIDENCE:
                lines.append(f"          ... and {len(f.evidence) - TEXT_EVIDENCE} more "
                             "(--json lists them all)")
            if f.fix and f.status != "ok":
                lines.append(f"          fix: {f.fix}")
        lines.append("result: " + ("ok" if self.ok else "problems found"))
        return "\n".join(printable(line) for line in lines)
