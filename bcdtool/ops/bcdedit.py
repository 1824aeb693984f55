"""Operations layer: a bcdedit command line run on a target's store, through the recipe runner.

`bcdtool bcdedit` and `batch`'s bcdedit operation both come here, so a pasted command line
behaves the same (partition names of the disk, /import, the journaled and verified write).
"""

from __future__ import annotations

from dataclasses import replace

from bcdtool.bcd import bcdedit as be
from bcdtool.bcd.store import BcdStore
from bcdtool.limits import MAX_BCD_BYTES
from bcdtool.ops.bootdisk import PartitionNames
from bcdtool.ops.recipe import EditResult, WriteOptions, run_staged
from bcdtool.ops.store import open_store
from bcdtool.regf.hive import Hive


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

    def recipe(store: BcdStore, notices: list[str]) -> None:
        names = None
        if handle.location.get("kind") in ("image", "device"):
            names = cmd.partitions = PartitionNames(spec)
        if cmd.name == "import":
            source, clean = be.parse_import(cmd.args)
            imported = BcdStore(Hive.open(source, cap=MAX_BCD_BYTES))
            outcome = be.import_store(store, imported, clean=clean)
        else:
            outcome = be.execute(cmd, store)
        notices.extend((names.notices if names else []) + outcome.notices)
        outcomes.append(outcome)

    with handle:
        result = run_staged(handle, store, "bcdedit " + " ".join(words), recipe, opts)
    return result, outcomes[0]
