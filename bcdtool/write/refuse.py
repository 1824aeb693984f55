"""The refusal policy, the same for every sink: what a sink reports about its medium, and which
of those facts forbid a write.  `POLICIES` is the hook: each function turns the facts into
reasons to refuse (a stricter or more lenient rule is a function added or replaced there).

A sink contributes its medium's own checks to the facts (`Facts.errors`: clusters or runs shared
with another file, a file with other hard links, an image format that cannot take the bytes in
place), so a dry run, which asks the same question, refuses exactly as the real run would."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable

from bcdtool.errors import (BcdToolError, ReadOnlyError, UnsafePathError, UnsafeVolumeError,
                            UnsupportedError)
from bcdtool.fs.base import VolumeFacts


@dataclass
class Facts:
    """What a sink knows about where its bytes live."""

    #: Why the medium cannot be written at all (read-only media, no permission), else None.
    read_only: str | None = None
    #: The volume holding the store (None: not known, e.g. a plain hive file).
    volume: VolumeFacts | None = None
    #: Other volumes of the same disk, by name ("partition 3"): hibernation there matters too.
    neighbours: list[tuple[str, VolumeFacts]] = field(default_factory=list)
    #: Why a file cannot be rewritten in place (compressed, resident, sparse...), by file.
    files: list[str] = field(default_factory=list)
    #: What the medium's own checks of the planned writes raised (each keeps its class, so its
    #: exit code): extents shared with other files, hard links, image-format refusals.
    errors: list[BcdToolError] = field(default_factory=list)


def own_volume(facts: Facts) -> list[str]:
    """BitLocker, hibernation and a dirty file system on the store's own volume."""
    return facts.volume.unsafe_reasons() if facts.volume else []


def hibernated_neighbours(facts: Facts) -> list[str]:
    """Windows hibernated on another partition of the disk (C: beside System Reserved) keeps
    the boot configuration in memory and writes it back when it resumes, over ours."""
    return [f"Windows on {name} is hibernated (hiberfil.sys is active) and would write its boot "
            "configuration back when it resumes; boot Windows and shut it down fully, or disable "
            "Fast Startup" for name, other in facts.neighbours if other.hibernated]


#: Each maps the facts to reasons to refuse; every sink's write goes through all of them.
POLICIES: list[Callable[[Facts], list[str]]] = [own_volume, hibernated_neighbours]


def refusal(facts: Facts, where: str) -> BcdToolError | None:
    """The error that forbids writing, or None when the write may go ahead."""
    if facts.read_only:
        return ReadOnlyError(f"{facts.read_only}; nothing was written", path=where)
    reasons = [reason for policy in POLICIES for reason in policy(facts)]
    if reasons:
        fs = f" to the {facts.volume.fs} volume" if facts.volume else ""
        return UnsafeVolumeError(f"refusing to write{fs}: " + "; ".join(reasons)
                                 + "; nothing was written", path=where)
    if facts.errors:
        first = facts.errors[0]
        if "nothing was written" not in first.message:
            first.message += "; nothing was written"
        return first
    if facts.files:
        return UnsupportedError("; ".join(facts.files) + "; nothing was written", path=where)
    return None


def in_place_files(phases) -> list[str]:
    """The files `phases` write in place (a whole-file replacement breaks hard links anyway)."""
    return sorted({step.file for phase in phases for step in phase if step.offset is not None})


def hard_link_refusal(name: str, links: int) -> UnsafePathError:
    """A file to be written in place has other hard links: its bytes are also those of files
    elsewhere, maybe outside the target (a `BCD.LOG` linked to /etc/shadow)."""
    return UnsafePathError(
        f"has {links} hard links: writing it in place would change the same file under its "
        "other names, which may lie outside the target; give it its own copy (cp -p FILE "
        "FILE.new && mv FILE.new FILE; for a log: delete it) and run the command again; nothing "
        "was written", path=name)
