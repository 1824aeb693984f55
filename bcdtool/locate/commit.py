"""Writing a new image of an opened hive back to its target through the one write transaction.

The readers (handle.py, disk.py, hivefile.py, guestfs.py) know nothing of writing, so a command
that only reads never imports the write path (transaction, sinks, hive verification, and
urllib3 through the page-blob sink); how each kind of store is written is here.
"""

from __future__ import annotations

from bcdtool.errors import ReadOnlyError
from bcdtool.fs import policy
from bcdtool.locate.disk import DiskStore
from bcdtool.locate.guestfs import GuestfsHive
from bcdtool.locate.handle import HiveHandle
from bcdtool.locate.hivefile import HiveFile, log_names
from bcdtool.regf.hive import Hive
from bcdtool.regf.planned import Planned
from bcdtool.urls import is_url
from bcdtool.write.hive import commit_hive
from bcdtool.write.result import WriteResult
from bcdtool.write.sinks.disk import DiskSink
from bcdtool.write.sinks.folder import FolderSink
from bcdtool.write.sinks.pageblob import PageBlobSink
from bcdtool.write.transaction import Audit

__all__ = ["WriteResult", "commit", "disk_sink", "folder_sink"]


def commit(handle: HiveHandle, new_image: bytes, *, dry_run: bool = False, backup_dir=None,
           operation: str = "", diff: list | None = None, changes: list | None = None,
           audit_log=None, planned: Planned | None = None) -> WriteResult:
    """Write `new_image` (the edited hive) back through the one write transaction (dry run:
    plan and verify only); the write appends one audit line (`changes` describe it;
    `audit_log`: where).  `planned` is the editor's record of the edits
    (`HiveEditor.planned`): verification then proves that nothing else changed."""
    if handle.read_only and not dry_run:
        raise ReadOnlyError("the target was opened read-only; nothing was written",
                            path=handle.location.get("target"))
    audit = Audit(store=handle.location, changes=list(changes if changes is not None
                                                       else diff or []), path=audit_log)
    store = handle.store
    writer = _WRITERS[type(store)]
    result, hive = writer(store, handle.original, bytes(new_image), dry_run=dry_run,
                          backup_dir=backup_dir, operation=operation, diff=diff, audit=audit,
                          planned=planned)
    if hive is not None:
        handle.hive, handle.original = hive, hive.original
    if result.journal:
        result.notices.append(f"undo journal written; restore with `bcdtool undo {result.journal}`")
    return result


def disk_sink(store: DiskStore) -> DiskSink:
    """The store on a disk and its logs as a sink of the write transaction (sharing the store's
    device); a URL's is an Azure page blob's."""
    loc = store.loc
    refs = {ref.path: ref for ref in [loc.ref] + loc.logs}
    kind = PageBlobSink if is_url(store.spec) else DiskSink
    return kind(store.spec, dev=store.dev, partition=loc.index, start=loc.start,
                volume_size=loc.volume_size, volume=loc.volume, refs=refs, key=store.key,
                store=loc.ref.path)


def _write_disk(store: DiskStore, original: bytes, new_image: bytes, *, operation: str,
                **kwargs) -> tuple[WriteResult, Hive | None]:
    """The changed pages written in place (same size, so no file system metadata changes); a
    dirty FAT volume written without --strict is noted."""
    loc = store.loc
    result, hive = commit_hive(disk_sink(store), store=loc.ref.path,
                               logs=[log.path for log in loc.logs if log.size],
                               original=original, new_image=new_image, same_size=True,
                               operation=operation or "commit",
                               name=f"{store.shown}:{loc.ref.path}", **kwargs)
    note = loc.volume.facts().dirty_note()
    if note and not policy.strict():
        result.notices.append(note)
    return result, hive


def folder_sink(store: HiveFile) -> FolderSink:
    """A hive file's folder as a sink of the write transaction (locking the store)."""
    return FolderSink(store.root, target=store.target, key=store.key, cap=store.cap,
                      lock_file=store.store, facts=store.facts)


def _write_file(store: HiveFile, original: bytes, new_image: bytes,
                **kwargs) -> tuple[WriteResult, Hive | None]:
    """The new image written in place (the file may change size), through a folder sink."""
    sink = folder_sink(store)
    try:
        return commit_hive(sink, store=store.store, logs=log_names(sink, store.store),
                           original=original, new_image=new_image, same_size=False,
                           name=store.path, **kwargs)
    finally:
        sink.close()


def _write_guestfs(store: GuestfsHive, original: bytes, new_image: bytes,
                   **kwargs) -> tuple[WriteResult, Hive | None]:
    """The new image written in place through libguestfs."""
    result, hive = commit_hive(store.sink, store=store.store, logs=store.logs(),
                               original=original, new_image=new_image, same_size=False,
                               name=store.path, **kwargs)
    result.notices.append(f"written through libguestfs: {store.filesystem}:{store.path}")
    return result, hive


#: How each kind of store is written.
_WRITERS = {DiskStore: _write_disk, HiveFile: _write_file, GuestfsHive: _write_guestfs}
