"""NixOS: `boot.kernelParams` in /etc/nixos/configuration.nix, from which NixOS writes grub.cfg
(or its systemd-boot entries) again at every `nixos-rebuild`.

Only the plain form is read and edited: `boot.kernelParams = [ "a" "b" ];` (or `kernelParams`
inside `boot = { ... };`) whose list holds nothing but double-quoted literals.  Anything computed
(`++`, `lib.optional`, `${...}`) is reported for the user to change by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARAMS = re.compile(r"(?<![A-Za-z0-9_.'-])(?:boot\s*\.\s*)?kernelParams\s*=\s*\[([^\]]*)\]\s*;")
_LITERAL = re.compile(r'"((?:[^"\\$]|\\.)*)"')


@dataclass
class KernelParams:
    """The list: its values, its line, the span inside the brackets, and whether it is plain."""

    values: list[str]
    line: int
    inner: tuple[int, int]
    plain: bool


def kernel_params(text: str) -> KernelParams | None:
    """The `kernelParams` list of a configuration.nix text, or None when it has none."""
    m = _PARAMS.search(_blank_comments(text))
    if m is None:
        return None
    inner = m.group(1)
    values = [v for v in _LITERAL.findall(inner)]
    plain = _LITERAL.sub("", inner).strip() == "" and "${" not in inner
    return KernelParams(values, text.count("\n", 0, m.start()) + 1, (m.start(1), m.end(1)), plain)


def _blank_comments(text: str) -> str:
    """The text with `#` comments replaced by spaces (offsets kept)."""
    return re.sub(r"#[^\n]*", lambda c: " " * len(c.group(0)), text)


def literal(value: str) -> str:
    """A Nix double-quoted string literal of `value` (our values are plain port settings)."""
    return '"' + re.sub(r'(["\\$])', r"\\\1", value) + '"'
