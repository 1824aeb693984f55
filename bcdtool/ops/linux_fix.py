"""Operations layer: `linux fix` — the one flow for a Linux guest's serial console, used by the
command and by `batch` (open the guest → plan the file edits → refuse what must not be edited →
write through the one write transaction → check what is left).

A Linux guest is a set of text files, not a hive, so the plan is linux/fix.py's (one `Change` per
file) instead of a hive editor's; the write is the same journaled, verified transaction.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from bcdtool.errors import UnsupportedError
from bcdtool.linux.cmdline import validate_baud, validate_device
from bcdtool.linux.fix import Plan, apply_plan, plan_fix, refuse_plan
from bcdtool.linux.root import open_guest
from bcdtool.linux.rules import evaluate
from bcdtool.linux.sources import Guest, default_device, read_guest
from bcdtool.ops.edits import WriteOptions


@dataclass
class LinuxFix:
    """A planned (then written) `linux fix`: the guest, the port, the plan and what came of it."""

    target: str
    root: object                       # the GuestRoot (close its fs when done)
    guest: Guest
    device: str
    baud: int
    plan: Plan
    #: Why the real run must refuse this target (None: it may be written).
    refused: UnsupportedError | None = None
    journal: str | None = None
    remaining: list = field(default_factory=list)

    def changes(self) -> list[dict]:
        """One object per changed file: path, kind (file or symlink) and unified diff."""
        return [{"path": c.path, "kind": "symlink" if c.link_target else "file",
                 "diff": c.diff()} for c in self.plan.changes]


def validated(device: str | None, baud: int | None = None) -> None:
    """Refuse a bad --device/--baud (exit 24) before anything is opened."""
    if device is not None:
        validate_device(device)
    if baud is not None:
        validate_baud(baud)


def plan(target: str, *, device: str | None = None, baud: int | None = None,
         backend: str = "auto", dry_run: bool = False) -> LinuxFix:
    """Open the guest (writable unless `dry_run`) and plan the fix (`baud` None: the guest's
    own speed for the port where a board fixes it, else 115200; sources.choose_baud).

    Raises:
        UnsupportedError: a real run on an image without --backend guestfs (a dry run plans it
            and keeps the refusal in `refused`, so the diff can be shown first).
    """
    validated(device, baud)
    refused = None
    if not os.path.isdir(target) and backend != "guestfs":
        refused = UnsupportedError("`linux fix` writes only into a mounted root directory: mount "
                                   "the guest's root (and /boot) and pass the folder, or use "
                                   "--backend guestfs (python3-guestfs)", path=target)
        if not dry_run:
            raise refused
    root = open_guest(target, backend=backend, writable=not dry_run)
    guest = read_guest(root, device)
    port = device or default_device(guest)
    baud = baud or guest.baud_for(port)
    return LinuxFix(target, root, guest, port, baud, plan_fix(guest, port, baud), refused)


def refuse(fix: LinuxFix) -> None:
    """Raise what the real run would refuse (a dry run calls this after showing the diff)."""
    if fix.refused is not None:
        raise fix.refused
    refuse_plan(fix.guest, fix.plan)


def write(fix: LinuxFix, opts: WriteOptions) -> LinuxFix:
    """Write the plan and list the problems left (a dry run writes nothing and leaves the
    refusals to `refuse`, after the caller has shown the diff)."""
    if opts.dry_run:
        return fix
    if fix.plan.changes:
        fix.journal = str(apply_plan(fix.guest, fix.plan, backup_dir=opts.backup_dir,
                                     audit_log=opts.audit_log).path)
    fix.remaining = [f for f in evaluate(read_guest(fix.root, fix.device), fix.device).findings
                     if f.status == "problem"]
    return fix
