"""Operations layer: a bcdedit command line that only reads (/enum, /export, /dbgsettings
without arguments...) run on a target's store opened read-only, without importing the write
path; commands that change the store go through the recipe runner in ops/bcdedit.py.
"""

from __future__ import annotations

from collections.abc import Callable

from bcdtool.bcd import bcdedit as be
from bcdtool.bcd.store import BcdStore
from bcdtool.ops.bootdisk import PartitionNames
from bcdtool.ops.edits import EditResult, WriteOptions
from bcdtool.ops.store import open_store
from bcdtool.regf.hive import Hive


def recipe_for(spec: str, cmd: be.Command, location: dict,
               outcomes: list[be.Outcome]) -> Callable[[BcdStore, list[str]], None]:
    """The recipe that executes `cmd` on the store of `spec` (found at `location`), appending
    what the command printed to `outcomes`: partition names come from the disk, /import reads
    its source store."""
    def recipe(store: BcdStore, notices: list[str]) -> None:
        names = None
        if location.get("kind") in ("image", "device"):
            names = cmd.partitions = PartitionNames(spec)
        if cmd.name == "import":
            source, clean = be.parse_import(cmd.args)
            outcome = be.import_store(store, BcdStore(Hive.open(source)), clean=clean)
        else:
            outcome = be.execute(cmd, store)
        notices.extend((names.notices if names else []) + outcome.notices)
        outcomes.append(outcome)
    return recipe


def show(spec: str, cmd: be.Command, words: list[str], opts: WriteOptions, *,
         partition: int | None = None, path: str | None = None,
         backend: str = "native") -> tuple[EditResult, be.Outcome]:
    """Execute read-only `cmd` (parsed from `words`; `cmd.writes` is False) on the store of
    `spec`, opened without write access; (the result, with no changes; what it printed)."""
    handle, store = open_store(spec, read_only=True, partition=partition, path=path,
                               backend=backend)
    outcomes: list[be.Outcome] = []
    with handle:
        notices = list(store.notices)
        recipe_for(spec, cmd, handle.location, outcomes)(store, notices)
        result = EditResult("bcdedit " + " ".join(words), handle.location, handle.description,
                            opts.dry_run, [], notices=notices)
    return result, outcomes[0]
