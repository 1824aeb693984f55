"""`bcdtool doctor TARGET`: will the serial console work on this Windows or Linux disk?"""

from __future__ import annotations

import json

import click

from bcdtool.errors import EXIT_PROBLEMS


@click.command()
@click.argument("target")
@click.option("--baud", type=int, default=115200, show_default=True,
              help="The serial speed the console is expected to use.")
@click.option("--partition", type=int, default=None,
              help="Partition number holding the store (disks and images).")
@click.option("--path", "store_path", default=None,
              help="Path of the store inside the target (default: found automatically).")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object: ok, findings (id, status, message, evidence, fix).")
@click.pass_context
def doctor(ctx, target, baud, partition, store_path, as_json) -> None:
    """One finding per known serial-console failure mode, each with evidence and the exact fix
    command; exit 0 when all is well, 3 when something is a problem.  Read-only."""
    from bcdtool.ops.doctor import diagnose

    report = diagnose(target, baud=baud, partition=partition, path=store_path)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, default=str))
    else:
        click.echo(report.render_text())
    if not report.ok:
        ctx.exit(EXIT_PROBLEMS)
