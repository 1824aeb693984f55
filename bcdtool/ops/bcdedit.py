"""Operations layer: a bcdedit command line run on a target's store, through the recipe runner.

`bcdtool bcdedit` (for commands that change the store; ops/bcdedit_read.py runs the others) and
`batch`'s bcdedit operation both come here, so a pasted command line behaves the same (partition
names of the disk, /import, the journaled and verified write).
"""

from __future__ import annotations

from dataclasses import replace

from bcdtool.bcd import bcdedit as be
from bcdtool.ops.bcdedit_read import recipe_for
from bcdtool.ops.recipe import EditResult, WriteOptions, run_staged
from bcdtool.ops.store import open_store


def run(spec: str, cmd: be.Command, words: list[str], opts: WriteOptions, *,
        partition: int | None = None, path: str | None = None,
        backend: str = "native") -> tuple[EditResult, be.Outcome]:
    """Execute `cmd` (parsed from `words`) on the store of `spec`; (the write's result, what the
    command printed).  Commands that only read open the target without write access; a file
    the command creates (/export) is in the outcome, for the caller to write."""
    opts = replace(opts, read_only=opts.read_only or not cmd.writes)
    handle, store = open_store(spec, read_only=opts.opens_read_only, partition=partition,
                               path=path, backend=backend)
    outcomes: list[be.Outcome] = []
    recipe = recipe_for(spec, cmd, handle.location, outcomes)
    with handle:
        result = run_staged(handle, store, "bcdedit " + " ".join(words), recipe, opts)
    return result, outcomes[0]
