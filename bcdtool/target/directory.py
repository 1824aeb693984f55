"""Stores and hives inside a directory (a mounted Windows volume, ESP, System Reserved or a copy)."""

from __future__ import annotations

import os
from pathlib import Path

from bcdtool.errors import NotFoundError

#: Where firmware finds the store, in the order we prefer them when a folder holds several:
#: a folder holding both is most likely a UEFI system's copy, whose firmware reads the ESP store.
BCD_PATHS = (
    ("EFI/Microsoft/Boot/BCD", "the UEFI system store (ESP)"),
    ("Boot/BCD", "the BIOS system store (System Reserved / active partition)"),
    ("BCD", "a store at the top of the folder"),
)
MAX_ENTRIES = 100_000


def resolve(root: Path, relative: str) -> Path | None:
    """`relative` (either slash) inside `root`, each part matched case-insensitively; None if absent."""
    current = root
    for part in [p for p in relative.replace("\\", "/").split("/") if p not in ("", ".")]:
        if part == "..":
            return None
        exact = current / part
        if exact.exists():
            current = exact
            continue
        try:
            with os.scandir(current) as entries:
                match = None
                for count, entry in enumerate(entries):
                    if count >= MAX_ENTRIES:
                        break
                    if entry.name.casefold() == part.casefold():
                        match = entry.name
                        break
        except OSError:
            return None
        if match is None:
            return None
        current = current / match
    return current


def find_store(root: Path, *, path: str | None = None) -> tuple[Path, str]:
    """The BCD store in folder `root` and why it was chosen (`path` overrides the search)."""
    if path is not None:
        found = resolve(root, path)
        if found is None or not found.is_file():
            raise NotFoundError(f"no file {path!r} in the folder", path=str(root))
        return found, f"{path} (chosen with --path)"
    present = [(found, why) for rel, why in BCD_PATHS
               if (found := resolve(root, rel)) is not None and found.is_file()]
    if not present:
        raise NotFoundError("no BCD store in the folder (looked for "
                            + ", ".join(rel for rel, _ in BCD_PATHS) + ")", path=str(root))
    found, why = present[0]
    reason = why if len(present) == 1 else \
        f"{why}; also present: " + ", ".join(str(p.relative_to(root)) for p, _ in present[1:])
    return found, reason
