"""`bcdtool undo JOURNAL`: put back what an earlier write changed."""

from __future__ import annotations

import click

from bcdtool.cli.options import json_option
from bcdtool.cli.output import data, emit, notes
from bcdtool.ops.undo import undo as run_undo


@click.command("undo")
@click.argument("journal", type=click.Path(dir_okay=True))
@click.option("--force", is_flag=True,
              help="Restore even if the bytes changed after bcdtool wrote them.")
@click.option("--trust-journal", "trust", is_flag=True,
              help="Restore a journal this user's bcdtool did not sign: copied from another "
                   "machine or user, or written by a bcdtool older than journal signing (every "
                   "path, offset and target check still applies).")
@json_option()
@click.option("--target", "targets", multiple=True, metavar="URL",
              help="The disk's URL with its SAS: a journal of a remote disk keeps only the URL "
                   "without its secret.  Not needed for az:// disks.")
def undo(journal: str, force: bool, trust: bool, as_json: bool, targets: tuple[str, ...]) -> None:
    """Restore the original bytes saved in undo JOURNAL (its journal.json or folder) and verify
    them."""
    result = run_undo(journal, force=force, secrets=targets, trust=trust)
    if as_json:
        emit("undo", result.to_dict(), as_json=True)
        return
    notes(result.notices)
    data(f"restored {result.entries} saved range(s) of {result.target} "
               f"({result.operation or 'write'})")
    if result.sha256:
        data(f"store sha256 is the original again: {result.sha256}")
