"""`bcdtool doctor TARGET`: will this Windows or Linux disk boot, and its serial console work?"""

from __future__ import annotations

import click

from bcdtool.cli.options import baud_option, json_option, other_disk_option, target_options
from bcdtool.cli.output import data, emit
from bcdtool.errors import EXIT_PROBLEMS
from bcdtool.ops.doctor import diagnose


@click.command()
@click.argument("target")
@baud_option(help="The serial speed the console is expected to use.")
@target_options
@other_disk_option()
@json_option(help="One JSON document: ok, findings (id, status, message, evidence, fix).")
@click.pass_context
def doctor(ctx, target, baud, partition, path, other_disks, as_json) -> None:
    """One finding per known failure mode — BCD devices, files and references that do not fit
    this disk, and the serial-console settings — each with evidence and the exact fix command;
    exit 0 when all is well, 3 when something is a problem.  Read-only."""
    report = diagnose(target, baud=baud, partition=partition, path=path,
                      other_disks=other_disks)
    if as_json:
        emit("doctor", report.to_json(), as_json=True)
    else:
        data(report.render_text())
    if not report.ok:
        ctx.exit(EXIT_PROBLEMS)
