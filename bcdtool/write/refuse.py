"""The refusal policy, the same for every sink: what a sink reports about its medium, and which
of those facts forbid a write.  `POLICIES` is the hook: each function turns the facts into
reasons to refuse (a stricter or more lenient rule is a function added or replaced there)."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable

from bcdtool.errors import BcdToolError, ReadOnlyError, UnsafeVolumeError, UnsupportedError
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
    if facts.files:
        return UnsupportedError("; ".join(facts.files) + "; nothing was written", path=where)
    return None
