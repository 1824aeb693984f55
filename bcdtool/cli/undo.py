"""`bcdtool undo JOURNAL`: put back what an earlier write changed."""

from __future__ import annotations

import json

import click


@click.command("undo")
@click.argument("journal", type=click.Path(dir_okay=True))
@click.option("--force", is_flag=True, help="Restore even if the bytes changed after bcdtool wrote them.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--target", "targets", multiple=True, metavar="URL",
              help="The disk's URL with its SAS: a journal of a remote disk keeps only the URL "
                   "without its secret.  Not needed for az:// disks.")
def undo(journal: str, force: bool, as_json: bool, targets: tuple[str, ...]) -> None:
    """Restore the original bytes saved in undo JOURNAL (its journal.json or folder) and verify them."""
    from bcdtool.ops.undo import undo as run_undo

    result = run_undo(journal, force=force, secrets=targets)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    for notice in result.notices:
        click.echo(f"note: {notice}", err=True)
    click.echo(f"restored {result.entries} saved range(s) of {result.target} "
               f"({result.operation or 'write'})")
    if result.sha256:
        click.echo(f"store sha256 is the original again: {result.sha256}")
