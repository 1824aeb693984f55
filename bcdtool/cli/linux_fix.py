"""`bcdtool linux fix`: turn a Linux guest's serial console on (ops/linux_fix.py: the one flow,
shared with `batch`); `linux check` (which only reads) is in cli/linux.py."""

from __future__ import annotations

import click

from bcdtool.cli.linux import linux_backend_option
from bcdtool.cli.options import (audit_log_option, backup_dir_option, baud_option,
                                 device_option, dry_run_option, json_option)
from bcdtool.cli.output import data, emit_json, info, notes
from bcdtool.errors import EXIT_PROBLEMS
from bcdtool.ops import linux_fix as ops
from bcdtool.ops.edits import WriteOptions


@click.command()
@click.argument("target")
@dry_run_option(help="Print the diff of every file; write nothing.")
@device_option()
@baud_option(help="Serial speed (default: the speed a non-PC board's guest already runs the "
                  "port at, e.g. 1500000 on Rockchip; else 115200).", default=None)
@backup_dir_option()
@audit_log_option()
@linux_backend_option
@json_option(help="One JSON document: changes (path, kind, diff), notices, journal, remaining "
                  "problems (the diffs then go only into the document).")
@click.pass_context
def fix(ctx, target, dry_run, device, baud, backup_dir, audit_log, backend, as_json) -> None:
    """Turn the serial console on, keeping every other setting; journaled for `bcdtool undo`.

    Exit 36 (nothing written) for a guest it must not edit offline: immutable or read-only by
    design, LILO, or a unified kernel image without the console; `linux check` names the step.
    """
    planned = ops.plan(target, device=device, baud=baud, backend=backend, dry_run=dry_run)
    if hasattr(planned.root.fs, "close"):    # libguestfs: flush the image when the command ends
        ctx.call_on_close(planned.root.fs.close)
    changes = planned.plan.changes
    if not as_json:
        for change in changes:
            data(change.diff(), nl=False)
    notes(planned.plan.notes)
    if dry_run and planned.refused is not None:
        # The real run's refusal, after the diff (which still shows what would change).
        planned.refused.message += "; the dry run above shows what a fix would change"
        raise planned.refused
    if dry_run and changes:
        ops.refuse(planned)
    shown = len(planned.plan.notes)
    done = ops.write(planned, WriteOptions(dry_run=dry_run, backup_dir=backup_dir,
                                           audit_log=audit_log))
    notes(planned.plan.notes[shown:])      # what the write itself noted (a failed audit line)
    if not changes:
        info("nothing to change")
    elif dry_run:
        info(f"dry run: {len(changes)} file(s) would change; nothing written")
    else:
        info(f"changed {len(changes)} file(s); undo with: bcdtool undo {done.journal}")
    for f in done.remaining:
        info(f"still a problem: {f.id}: {f.message}")
    if as_json:
        emit_json("linux fix", {
            "target": target, "device": done.device, "baud": done.baud, "dry_run": dry_run,
            "changes": done.changes(), "notices": planned.plan.notes, "journal": done.journal,
            "remaining": [{"id": f.id, "message": f.message} for f in done.remaining]})
    if done.remaining:
        ctx.exit(EXIT_PROBLEMS)
