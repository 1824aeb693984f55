"""NixOS: `boot.kernelParams` in /etc/nixos/configuration.nix, from which NixOS writes grub.cfg
(or its systemd-boot entries) again at every `nixos-rebuild`.

Only the plain form is read: `boot.kernelParams = [ "a" "b" ];` (or `kernelParams` inside
`boot = { ... };`) whose list holds nothing but double-quoted literals.  bcdtool edits nothing
of NixOS (the generated files are written again by `nixos-rebuild`; configuration.nix is the
user's): `linux fix` refuses with the lines to add (refusals.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARAMS = re.compile(r"(?<![A-Za-z0-9_.'-])(?:boot\s*\.\s*)?kernelParams\s*=\s*\[([^\]]*)\]\s*;")
_LITERAL = re.compile(r'"((?:[^"\\$]|\\.)*)"')


@dataclass
class KernelParams:
    """The list: its literal values and its line."""

    values: list[str]
    line: int


def kernel_params(text: str) -> KernelParams | None:
    """The `kernelParams` list of a configuration.nix text, or None when it has none."""
    m = _PARAMS.search(_blank_comments(text))
    if m is None:
        return None
    return KernelParams(_LITERAL.findall(m.group(1)), text.count("\n", 0, m.start()) + 1)


def _blank_comments(text: str) -> str:
    """The text with `#` comments replaced by spaces (line numbers kept)."""
    return re.sub(r"#[^\n]*", lambda c: " " * len(c.group(0)), text)
