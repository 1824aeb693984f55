"""Opening the BCD store of any target: the target layer finds the hive, the BCD layer reads it."""

from __future__ import annotations

from bcdtool.bcd.store import BcdStore
from bcdtool.locate import open_hive


def open_store(spec: str, *, read_only: bool, partition: int | None = None,
               path: str | None = None, backend: str = "native"):
    """(target handle, BcdStore over its hive) for `spec`; the caller closes the handle."""
    handle = open_hive(spec, partition=partition, path=path, read_only=read_only, backend=backend)
    try:
        store = BcdStore(handle.hive)
    except BaseException:
        handle.close()
        raise
    store.notices.extend(handle.hive.notices)
    return handle, store
