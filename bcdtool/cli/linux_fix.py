"""`bcdtool linux fix`: turn a Linux guest's serial console on through the one write
transaction; `linux check` (which only reads) is in cli/linux.py."""

from __future__ import annotations

import os

import click

from bcdtool.cli.linux import linux_backend_option, serial_device, validated
from bcdtool.cli.options import json_option
from bcdtool.cli.output import data, emit_json, info, notes
from bcdtool.errors import EXIT_PROBLEMS, UnsupportedError
from bcdtool.linux.fix import apply_plan, plan_fix, refuse_plan
from bcdtool.linux.root import open_guest
from bcdtool.linux.rules import evaluate
from bcdtool.linux.sources import read_guest


@click.command()
@click.argument("target")
@click.option("--dry-run", is_flag=True, help="Print the diff of every file; write nothing.")
@click.option("--device", default=None, help="Serial port, e.g. ttyS0, ttyAMA0, hvc0 (default: "
              "what the guest already uses, else ttyS0; ttyAMA0 on Arm).")
@click.option("--baud", type=int, default=None, help="Serial speed (default: the speed an Arm "
              "board's guest already runs the port at, e.g. 1500000 on Rockchip; else 115200).")
@click.option("--backup-dir", default=None, help="Where the undo journal goes "
              "(default: $XDG_STATE_HOME/bcdtool/journal).")
@linux_backend_option
@json_option(help="One JSON document: changes (path, kind, diff), notes, journal, remaining "
                  "problems (the diffs then go only into the document).")
@click.pass_context
def fix(ctx, target, dry_run, device, baud, backup_dir, backend, as_json) -> None:
    """Turn the serial console on, keeping every other setting; journaled for `bcdtool undo`.

    Exit 36 (nothing written) for a guest it must not edit offline: immutable or read-only by
    design, LILO, or a unified kernel image without the console; `linux check` names the step.
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
    if hasattr(root.fs, "close"):    # libguestfs: flush the image when the command ends
        ctx.call_on_close(root.fs.close)
    guest = read_guest(root, device)
    dev = serial_device(guest, device)
    baud = baud or guest.baud_for(dev)
    plan = plan_fix(guest, dev, baud)
    if not as_json:
        for change in plan.changes:
            data(change.diff(), nl=False)
    notes(plan.notes)
    journal = None
    if not plan.changes:
        info("nothing to change")
    elif dry_run:
        # The real run's refusals, after the diff (which still shows what would change).
        if refused is None:
            refuse_plan(guest, plan)
            info(f"dry run: {len(plan.changes)} file(s) would change; nothing written")
    else:
        journal = str(apply_plan(guest, plan, backup_dir=backup_dir).path)
        info(f"changed {len(plan.changes)} file(s); undo with: bcdtool undo {journal}")
    if refused is not None:
        refused.message += "; the dry run above shows what a fix would change"
        raise refused
    remaining = [] if dry_run else \
        [f for f in evaluate(read_guest(root, device), dev).findings if f.status == "problem"]
    for f in remaining:
        info(f"still a problem: {f.id}: {f.message}")
    if as_json:
        emit_json("linux fix", {
            "target": target, "device": dev, "baud": baud, "dry_run": dry_run,
            "changes": [{"path": c.path, "kind": "symlink" if c.link_target else "file",
                         "diff": c.diff()} for c in plan.changes],
            "notes": plan.notes, "journal": journal,
            "remaining": [{"id": f.id, "message": f.message} for f in remaining]})
    if remaining:
        ctx.exit(EXIT_PROBLEMS)
