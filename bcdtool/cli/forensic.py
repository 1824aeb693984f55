"""`bcdtool forensic TARGET`: tampering findings, timeline, log history, deleted data; read-only."""

from __future__ import annotations

import click

from bcdtool.cli.options import json_option, target_options
from bcdtool.cli.output import data, emit_json
from bcdtool.errors import EXIT_PROBLEMS
from bcdtool.ops import forensic as fx
from bcdtool.ops.forensic_timeline import to_csv


@click.command()
@click.argument("target")
@target_options
@json_option("One JSON document: integrity (sha256 of every file and range read), hive header, "
             "findings, and the sections asked for.")
@click.option("--timeline", is_flag=True,
              help="Add every key's last-write time, the header and log sequence numbers, and "
                   "what each log entry touched, as one sorted list.")
@click.option("--csv", "as_csv", is_flag=True,
              help="Print only the timeline, as CSV for timeline tools (implies --timeline).")
@click.option("--history", is_flag=True,
              help="Add earlier element values recoverable from the .LOG/.LOG1/.LOG2 files.")
@click.option("--deleted", is_flag=True,
              help="Add keys and values recovered from free cells and slack (marked recovered).")
@click.option("--generated-at", default=None, metavar="TIME",
              help="The report's generated_at value (default: now, UTC); fix it to compare "
                   "reports byte for byte.")
@click.pass_context
def forensic(ctx, target, partition, path, as_json, timeline, as_csv, history, deleted,
             generated_at) -> None:
    """Inspect a BCD store for tampering without writing anything: one finding per suspicious
    setting (severity, MITRE ATT&CK technique, evidence with key last-write times).  Every file
    and device is opened without write access.  Exit 3 when a finding is above "info"."""
    report = fx.investigate(target, partition=partition, path=path,
                            timeline=timeline or as_csv, history=history, deleted=deleted,
                            generated_at=generated_at)
    if as_csv:
        data(to_csv(report.timeline), nl=False)
    elif as_json:
        emit_json("forensic", report.to_json())
    else:
        data(fx.render_text(report), nl=False)
    if report.worst != "info":
        ctx.exit(EXIT_PROBLEMS)
