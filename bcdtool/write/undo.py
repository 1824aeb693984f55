"""`bcdtool undo`: a journal's original bytes put back through the sink it names, under the same
lock as a write, after checking the journal (types, paths inside its target) and that nobody
changed the bytes since bcdtool wrote them.  An undo is itself marked while it runs, so one that
is interrupted is reported on the next open (exit 27) and finished by running it again."""

from __future__ import annotations

import os
import stat

from bcdtool.errors import BcdToolError, FormatError, NotFoundError, UnsafePathError
from bcdtool.urls import is_url
from bcdtool.write import journal as journals
from bcdtool.write import journal_v1
from bcdtool.write.sinks import REGISTRY
from bcdtool.write.transaction import current_sha, pin, restore

#: Fields every journal's sink spec must have, with their types.
_SPEC_TYPES = {"kind": str, "target": str, "key": str}


def open_sink(journal: journals.Journal):
    """The sink `journal` was written through, reopened; FormatError for a spec that does not
    hold together (a hand-edited journal cannot point a restore elsewhere)."""
    spec = journal.sink
    for field, kind in _SPEC_TYPES.items():
        if not isinstance(spec.get(field), kind):
            raise FormatError(f"malformed undo journal: its sink has no valid {field!r}",
                              path=str(journal.path))
    cls = REGISTRY.get(spec["kind"])
    if cls is None:
        raise FormatError(f"malformed undo journal: unknown sink kind {spec['kind']!r}",
                          path=str(journal.path))
    if journal.target_key not in ("", spec["key"]) or not cls.spec_ok(spec):
        raise FormatError("malformed undo journal: its sink does not match the store it was "
                          "written for (edited by hand?); nothing was restored",
                          path=str(journal.path))
    image = spec.get("image")
    if isinstance(image, str) and not is_url(image):    # a remote disk is reached by from_spec
        try:
            mode = os.stat(image).st_mode
        except OSError as exc:
            raise NotFoundError(f"cannot reach the journal's disk: {exc.strerror}",
                                path=image) from None
        if not (stat.S_ISREG(mode) or stat.S_ISBLK(mode)):
            raise UnsafePathError("the journal's disk is not a regular file or block device",
                                  path=image)
    sink = cls.from_spec(spec)
    try:
        for entry in journal.entries:
            if not sink.allows(entry.file):
                raise FormatError(f"malformed undo journal: entry {entry.file!r} is not a file "
                                  "this journal's write could have touched; nothing was restored",
                                  path=str(journal.path))
            _check_device_ranges(sink, entry, journal)
    except BaseException:
        sink.close()
        raise
    return sink


def _check_device_ranges(sink, entry: journals.Entry, journal: journals.Journal) -> None:
    """On a disk, the bytes an entry restores must lie exactly where the journal says they were
    written (its file's extents now): a journal whose ranges were edited, or a file that moved
    since (defragmented, copied back), is refused rather than restored elsewhere."""
    ranges = getattr(sink, "device_ranges", None)
    if ranges is None or not entry.device:
        return
    length = entry.length if entry.kind == "range" else entry.size or 0
    if [list(r) for r in ranges(entry.file, entry.offset, length)] != entry.device:
        raise FormatError(f"{entry.file} no longer lies where the undo journal says bcdtool wrote "
                          "it (the file moved on the disk, or the journal was edited); nothing "
                          "was restored: restore it from another backup", path=str(journal.path))


def read(path: str | os.PathLike, *, trust: bool = False) -> journals.Journal:
    """Journal `path`, its signature checked first (unless `trust`), a version 1 journal
    converted to version 2 (write/journal_v1.py), then every field checked."""
    path = journals.journal_file(path)
    doc = journals.read_doc(path, trust=trust)
    if doc.get("version") == 1:
        doc = journal_v1.convert(doc, path)
    return journals.from_doc(doc, path)


def undo(path: str | os.PathLike, *, force: bool = False,
         trust: bool = False) -> tuple[journals.Journal, dict]:
    """Restore journal `path`; refuse (unless `force`) if the bytes changed since bcdtool wrote
    them, and (unless `trust`) a journal this user's bcdtool did not sign.  Returns the journal
    and {file: sha256 now} of its whole-file and hive entries."""
    journal = read(path, trust=trust)
    sink = open_sink(journal)
    try:
        with sink.lock():
            expect = pin(sink, journal.entries)     # before the check: a swap after it is seen
            # An interrupted write or undo leaves bytes that are neither before nor after:
            # restoring them is the point.  After a finished write, other bytes mean an edit.
            if not force and journal.state not in ("writing", "undoing"):
                for entry in journal.entries:
                    if entry.sha256_after is None and \
                            journal.extra.get("converted_from_version") == 1:
                        continue        # a link version 1 recorded by its unit file: removed
                    if current_sha(sink, entry) not in (entry.sha256_after, entry.sha256_before):
                        raise BcdToolError(f"{entry.file} changed after bcdtool wrote it; undoing "
                                           "would discard those changes (use --force to restore "
                                           "anyway)", path=str(journal.path))
            if journal.state == "restored":
                journal.extra["restored_before"] = True
            journal.mark("undoing")
            restore(sink, journal, check=False, expect=expect)
            journal.mark("restored")
            # whole files, and hives kept as their start plus the file's size
            shas = {e.file: current_sha(sink, e) for e in journal.entries
                    if e.kind == "file" or e.size is not None}
    finally:
        sink.close()
    return journal, shas
