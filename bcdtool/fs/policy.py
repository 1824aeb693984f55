"""How strict a write is about the state of its volume, for the command being run.

Writes inside a disk go only into a file's existing clusters, after the clusters were proven to
be the file's own (check_extents_exclusive), so a FAT volume that is merely marked dirty (a VM
that crashed while Windows ran, whose chkdsk cannot run because it does not boot) may be
written, with a note naming fsck.fat.  `--strict` (cli.options.strict_option) keeps the refusal;
it sets this policy for the one command it is given to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

_strict = False


def strict() -> bool:
    """Whether the command runs with `--strict` (refuse every dirty volume)."""
    return _strict


@contextlib.contextmanager
def strict_writes(on: bool) -> Iterator[None]:
    """Run the block with the given strictness (the CLI wraps the command in it)."""
    global _strict
    previous, _strict = _strict, on
    try:
        yield
    finally:
        _strict = previous
