"""Operations layer: the one recipe runner — every command that changes a hive goes through it.

The flow is always: open the target (without write access for a dry run or `--read-only`) →
stage the edits in memory → list the changes → build the new image under the one size policy →
save `--backup` → commit (planned, journaled, written, re-read, verified and audited by the
write transaction) → one `EditResult`.  A recipe only stages edits: it is a function given the
staged store (or hive editor) that returns extra details, if any.
"""

from __future__ import annotations

from collections.abc import Callable

from bcdtool.bcd import enum as render
from bcdtool.bcd.store import BcdStore
from bcdtool.locate.commit import commit as commit_handle
from bcdtool.ops.edits import EditResult, WriteOptions
from bcdtool.ops.backup import save_original
from bcdtool.ops.store import open_store
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.hive import Hive

#: Targets whose hive file is rewritten whole, so it may grow; inside disk images and devices
#: the file is written in place and keeps its size (no filesystem metadata changes).
GROWABLE = frozenset({"file", "directory", "guestfs"})


def keeps_size(location: dict) -> bool:
    """The one size policy: the hive keeps its size where it is written in place (inside a disk
    image or device), and may grow where the file is rewritten whole."""
    return location.get("kind") not in GROWABLE


def commit(handle, editor: HiveEditor | BcdStore, *, operation: str, changes: list[dict],
           opts: WriteOptions, notices: list[str] | None = None,
           details: dict | None = None) -> EditResult:
    """Write what `editor` staged on `handle`'s hive (nothing when `changes` is empty)."""
    result = EditResult(operation, handle.location, handle.description, opts.dry_run,
                        changes, notices=list(notices or []), details=dict(details or {}))
    if not changes:
        return result
    image = editor.to_bytes(same_size=keeps_size(handle.location))
    if opts.backup and not opts.dry_run and not handle.read_only:
        save_original(opts.backup, handle.file_pieces(), handle.location)
    # the editor's record of the edits lets verification prove nothing else changed
    written = commit_handle(handle, image, dry_run=opts.dry_run, backup_dir=opts.backup_dir,
                            operation=operation, diff=changes, audit_log=opts.audit_log,
                            planned=editor.planned)
    result.write = written.to_dict()
    result.journal = written.journal
    result.audit = written.audit
    result.notices.extend(written.notices)
    return result


def store_changes(store: BcdStore) -> list[dict]:
    """The staged BCD edits: one object per created or deleted object and set or deleted
    element (object, label, action, element, code, old, new, text)."""
    out = []
    view = render.View(better=True)
    for change in store.diff():
        doc = render.change_json(store, change)
        out.append({"object": change.object,
                    "label": render.identifier(store, change.object, view),
                    "action": change.action, "element": doc["name"], "code": doc["code"],
                    "old": doc["old_text"], "new": doc["new_text"],
                    "text": render.describe_change(store, change)})
    return out


#: A BCD recipe: stages edits on the store, may add notices; returns extra result details.
StoreRecipe = Callable[[BcdStore, list[str]], "dict | None"]


def run_on_store(spec: str, operation: str, recipe: StoreRecipe, opts: WriteOptions, *,
                 partition: int | None = None, path: str | None = None,
                 backend: str = "native") -> EditResult:
    """Open the BCD store of `spec`, stage `recipe`, and write it (see the module doc)."""
    handle, store = open_store(spec, read_only=opts.opens_read_only, partition=partition,
                               path=path, backend=backend)
    with handle:
        return run_staged(handle, store, operation, recipe, opts)


def run_staged(handle, store: BcdStore, operation: str, recipe: StoreRecipe,
               opts: WriteOptions) -> EditResult:
    """Stage `recipe` on a store the caller opened (with `opts.opens_read_only`) and write it;
    for recipes that open the target themselves (repair boot adds advice to open errors)."""
    notices = list(store.notices)
    details = recipe(store, notices)
    return commit(handle, store, operation=operation, changes=store_changes(store), opts=opts,
                  notices=notices, details=details)


#: A hive recipe: given the hive (and notices to add to), the editor with its edits staged and
#: the changes it describes (empty: nothing to do).
HiveRecipe = Callable[[Hive, list[str]], "tuple[HiveEditor, list[dict]]"]


def run_on_hive(open_handle: Callable[[bool], object], operation: str, recipe: HiveRecipe,
                opts: WriteOptions) -> EditResult:
    """Open a hive with `open_handle(read_only)`, stage `recipe`, and write it."""
    with open_handle(opts.opens_read_only) as handle:
        notices = list(handle.hive.notices)
        editor, changes = recipe(handle.hive, notices)
        return commit(handle, editor, operation=operation, changes=changes, opts=opts,
                      notices=notices)
