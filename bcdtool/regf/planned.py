"""What an edit of a hive meant to change, as the editor records it for verification.

Layer: regf.  `HiveEditor` appends one `Change` per successful operation; `regf.verify` replays
them over the original hive's content to know what the written hive must hold.  The record is
cheap (paths, names and the data that was set), so it travels with the new image through the
commit and its dry run alike.
"""

from __future__ import annotations

from typing import NamedTuple

CREATE_KEY = "create_key"
DELETE_KEY = "delete_key"
SET_VALUE = "set_value"
DELETE_VALUE = "delete_value"


class Change(NamedTuple):
    """One edit: `op` on the key at `path` (and value `name` for value operations)."""

    op: str
    path: str
    name: str = ""
    type: int = 0
    raw: bytes = b""


class Planned(NamedTuple):
    """The edits made to a hive, in order, and the image they started from.

    `base` is the image the editor read (after any log recovery), which is what the written
    hive is compared with; `compacted` says the editor re-laid every cell out (same-size
    writes that did not fit), so no cell can be expected to keep its place.
    """

    changes: tuple[Change, ...]
    base: bytes
    compacted: bool = False
    #: The reader the editor started from, when it read `base` (saves verification a scan).
    base_hive: object = None
