"""The one write path: lock → refuse → check unchanged → journal → write → verify → restore → audit.

Every writer of bcdtool (hive stores in files, folders, disks and through libguestfs; Linux guest
files) and `bcdtool undo` run through `Transaction`; a sink (bcdtool/write/sinks/) only knows how
to read, write and re-open its bytes.  The steps, in order:

1. **lock** the store and image exclusively (the sink's `lock()`), held to the end;
2. **refuse** what the policy in `write/refuse.py` forbids (read-only media, BitLocker,
   hibernation on any partition of the disk, a dirty volume, files that cannot be rewritten,
   and what the sink's medium refuses for these writes: shared clusters or runs, hard links,
   image formats) — the same question a dry run asks, so both refuse alike;
3. **check** that every file still holds the bytes the plan was made from (else nothing is
   written: another writer got there first, and its change stays);
4. **journal** the original bytes (0700/0600) and mark the store "writing" before the first byte
   (a journal that cannot be completed — a full or failing medium — is removed again);
5. **write** the steps phase by phase, flushing between phases (each write is shown to
   `write/observe.py` first); the writer first makes sure every file is still the one checked
   in step 3 (`Expect`: the sink's identity of it — inode, or extents inside an image — and its
   first bytes as backed up), so a file swapped, truncated, grown or rewritten in between is
   never written;
6. **verify** by re-opening the target from scratch and calling the `verify` callable given;
7. **restore** every entry on any failure (or say which journal restores it later);
8. **audit**: one JSON line per write, appended to a log opened (and proven writable, with room)
   before step 1; a log that fails only after the write was verified gives a warning, not a
   failed command (the write stands and is journaled).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from typing import NamedTuple, Protocol
from collections.abc import Callable, Hashable

from bcdtool.errors import (BcdToolError, MediaError, UnsafePathError, VerifyError, WriteError,
                            write_failure)
from bcdtool.write import audit, observe
from bcdtool.write import journal as journals
from bcdtool.write.fileio import next_step
from bcdtool.write.refuse import Facts, in_place_files, refusal

#: Bytes read back at a time when a file is compared or hashed (never a whole hive at once).
_CHUNK = 1 << 20
#: Bytes of a file's backed-up start the writer compares before writing it (a hive's base
#: block, a log's header: what any other writer of the file changes first).
HEAD = 4096


@dataclass
class Step:
    """One write: `data` at `offset` of `file` (in place), the whole file (`offset` None: a
    replacement through a temporary file), or a new symlink `file` -> `link`."""

    file: str
    data: bytes = b""
    offset: int | None = None
    link: str | None = None
    #: In place: the file's size afterwards (a hive file that grows or shrinks).
    size: int | None = None


@dataclass(frozen=True)
class Prefix:
    """What a file held when the plan was made, when only its start matters: `data` is its
    first bytes and `size` its length (a hive: base block and bins, then slack).  The slack is
    neither compared nor backed up; only the bytes a step overwrites there are."""

    data: bytes
    size: int


class Expect(NamedTuple):
    """What a file was when the transaction checked and backed it up: the sink's `identity` of
    it (None: absent), and `head`, its bytes at `offset` as backed up (b"": nothing to compare,
    e.g. a file the write creates)."""

    identity: Hashable
    offset: int = 0
    head: bytes = b""
    #: Written in place (at offsets), not replaced whole through a temporary file.
    in_place: bool = False


class Writer(Protocol):
    """A sink opened for writing."""

    def write(self, file: str, offset: int, data: bytes, *, size: int | None = None) -> None: ...
    def replace(self, file: str, data: bytes) -> None: ...
    def symlink(self, file: str, target: str) -> None: ...
    def remove(self, file: str) -> None: ...
    def flush(self) -> None: ...


class Sink(Protocol):
    """Where bytes live: a hive file, a folder, a file's extents on a disk, libguestfs, ..."""

    kind: str
    target: str         # the target as the user named it
    key: str            # identity of the store, for interrupted-write markers
    marks_pending: bool  # whether opens of this store look for those markers

    def spec(self) -> dict: ...                             # how to reopen it (for undo)
    def facts(self, phases: list[list[Step]]) -> Facts: ...  # for the refusal policy
    def lock(self) -> contextlib.AbstractContextManager: ...
    def read(self, file: str) -> bytes | None: ...          # None: no such file
    def read_range(self, file: str, offset: int, length: int) -> bytes: ...
    def size(self, file: str) -> int | None: ...            # None: no such file
    def lstat_link(self, file: str) -> str | None: ...      # a symlink's target, else None
    def owns(self, path: str | os.PathLike) -> bool: ...    # a local file is part of the target
    def identity(self, file: str) -> Hashable: ...          # where its bytes live (None: absent)
    # Opened for writing; with `expect`, every file in it is first checked to be what it says
    # (UnsafePathError otherwise, before any byte is written).
    def writer(self, expect: dict[str, Expect] | None = None
               ) -> contextlib.AbstractContextManager[Writer]: ...
    def reopen(self) -> Sink: ...
    def close(self) -> None: ...


@dataclass
class Audit:
    """What the audit line says about a write (None: no line, e.g. undo)."""

    store: dict | str
    changes: list
    path: str | os.PathLike | None = None


class Transaction:
    """One write to one sink, done the one way (see the module docstring)."""

    def __init__(self, sink: Sink, *, operation: str, backup_dir=None, diff: list | None = None,
                 audit_info: Audit | None = None) -> None:
        self.sink = sink
        self.operation = operation or "commit"
        self.backup_dir = backup_dir
        self.diff = diff
        self.audit_info = audit_info
        self.journal: journals.Journal | None = None
        #: Warnings about a write that succeeded (its journal or audit line failed after it).
        self.notices: list[str] = []

    def refusal(self, phases: list[list[Step]]) -> BcdToolError | None:
        """Why the policy forbids writing `phases` (dry runs raise it just as `run` does)."""
        return refusal(self.sink.facts(phases), self.sink.target)

    def run(self, phases: list[list[Step]], *, originals: dict[str, bytes | Prefix | None],
            verify: Callable[[Sink], object], result=None, extra: dict | None = None):
        """Write `phases` (flushing between them); `originals` holds what each file held when
        the plan was made (whole, or its `Prefix`).  Returns (what `verify` returned, the
        journal)."""
        log = self._audit_log()
        if self.backup_dir is not None:
            self._not_in_target(self.backup_dir, "the undo journal folder", "--backup-dir DIR")
        with contextlib.ExitStack() as held:
            if log is not None:
                held.callback(log.close)
            held.enter_context(self.sink.lock())
            refused = self.refusal(phases)
            if refused is not None:
                raise refused
            # Identities first: a file swapped after this reads differently below, or is
            # refused by the writer; one swapped before it is the one checked and backed up.
            identities = {file: self.sink.identity(file) for file in _files(phases)}
            for file, before in originals.items():
                if not _holds(self.sink, file, before):
                    raise WriteError("the file changed since it was read (another writer?); "
                                     "nothing was written: run the command again",
                                     path=f"{self.sink.target}:{file}")
            journal = self._journal(phases, originals, extra)
            if result is not None:
                result.journal = str(journal.path)
            expect = _expectations(journal, identities, in_place_files(phases))
            verified = self._write(journal, phases, expect, verify)
            if result is not None:
                result.verified = True
                result.notices.extend(self.notices)
            if log is not None and result is not None:
                result.audit = log.record(target=self.sink.target, store=self.audit_info.store,
                                          operation=self.operation,
                                          changes=self.audit_info.changes, result=result)
                if result.audit is None:
                    result.notices.append(log.failure)
        return verified, journal

    def _audit_log(self) -> audit.Log | None:
        """The audit log opened for appending before anything else happens: a log that is part
        of the target, not a regular file, or on a full or read-only file system refuses the
        write with nothing written."""
        if self.audit_info is None:
            return None
        audit.check(self.audit_info.path)
        self._not_in_target(self.audit_info.path or audit.default_path(), "the audit log",
                            "--audit-log FILE")
        return audit.Log.open(self.audit_info.path)

    def _write(self, journal: journals.Journal, phases: list[list[Step]],
               expect: dict[str, Expect], verify: Callable[[Sink], object]):
        """Mark the journal "writing", write `phases`, verify; restore on any failure."""
        try:
            journal.mark("writing")
        except BaseException:
            journal.discard()           # nothing written: no journal to undo
            raise
        writer = None
        try:
            with self.sink.writer(expect) as writer:
                for phase in phases:
                    for step in phase:
                        _do(writer, step)
                    writer.flush()
            fresh = self.sink.reopen()
            try:
                verified = verify(fresh)
                self._record_after(journal, fresh)
            finally:
                fresh.close()
        except BaseException as exc:
            if getattr(writer, "wrote", writer is not None) is False and \
                    isinstance(exc, BcdToolError):
                try:
                    journal.mark("restored")    # refused before its first byte
                except BcdToolError:
                    journal.discard()           # nothing to undo: the refusal is the news
                    journal.drop_marker()
                raise
            self._fail(journal, exc)
        try:
            journal.mark("done")
        except BcdToolError as exc:
            # The write stands (verified); only the journal's own medium failed.  Its backups
            # still undo it, and without the marker the next open does not call it interrupted.
            journal.drop_marker()
            self.notices.append(f"the write succeeded and was verified, but its undo journal "
                                f"could not be marked done ({exc.message}); it still undoes "
                                f"the write: bcdtool undo {journal.path}")
        return verified

    def _not_in_target(self, path, what: str, option: str) -> None:
        """UnsafePathError if bcdtool's own output file `path` is part of the target (lines
        appended to the store, a journal written into the guest it undoes)."""
        if self.sink.owns(path):
            raise UnsafePathError(f"{what} is part of the target being written; nothing was "
                                  f"written: give {option} outside the target", path=str(path))

    # -- journal --------------------------------------------------------------------------------
    def _journal(self, phases, originals, extra) -> journals.Journal:
        journal = journals.Journal.start(self.sink.target, self.operation, sink=self.sink.spec(),
                                         backup_dir=self.backup_dir, diff=self.diff,
                                         target_key=self.sink.key if self.sink.marks_pending
                                         else "")
        self.journal = journal
        try:
            self._fill(journal, phases, originals, extra)
        except BaseException:
            journal.discard()           # a full or failing journal medium: nothing left behind
            raise
        return journal

    def _fill(self, journal: journals.Journal, phases, originals, extra) -> None:
        """Back up everything `phases` overwrites into `journal`."""
        journal.extra.update(extra or {})
        seen: set[str] = set()
        for phase in phases:
            for step in phase:
                if step.file in originals:
                    if step.file in seen:
                        continue
                    seen.add(step.file)
                    before = originals[step.file]
                    if isinstance(before, Prefix):
                        journal.add(*_prefix_entry(self.sink, step.file, before, phases))
                        continue
                    entry = journals.Entry(
                        kind="file", file=step.file, backup="", sha256_before="",
                        existed=before is not None and step.link is None, link=step.link,
                        size=len(before) if step.offset is not None and before is not None
                        else None)
                    journal.add(entry, before or b"")
                else:
                    # Only part of this file is written (a log's header): back up that range.
                    before = self.sink.read_range(step.file, step.offset, len(step.data))
                    journal.add(journals.Entry(kind="range", file=step.file, backup="",
                                               sha256_before="", offset=step.offset,
                                               length=len(step.data)), before)
        ranges = getattr(self.sink, "device_ranges", None)
        for entry in journal.entries if ranges is not None else ():
            length = entry.length if entry.kind == "range" else entry.size or 0
            entry.device = [list(r) for r in ranges(entry.file, entry.offset, length)]

    def _record_after(self, journal: journals.Journal, fresh: Sink) -> None:
        """What undo will expect to find (so it notices later edits by someone else)."""
        for entry in journal.entries:
            entry.sha256_after = current_sha(fresh, entry)

    # -- failure ----------------------------------------------------------------------------------
    def _fail(self, journal: journals.Journal, exc: BaseException) -> None:
        """Put every original byte back, then re-raise saying so (or naming the journal)."""
        try:
            rewritten = restore(self.sink, journal, check=False)
            journal.mark("restored")
        except BcdToolError as failed:
            medium = isinstance(exc, MediaError) or isinstance(failed, MediaError) or \
                (isinstance(exc, OSError) and isinstance(write_failure(exc, ""), MediaError))
            kind = MediaError if medium else WriteError
            when = ("the disk fails: copy it with ddrescue, then run `bcdtool undo "
                    f"{journal.path}` on the copy" if medium else
                    f"run `bcdtool undo {journal.path}` once the target is writable")
            raise kind(f"the write failed ({_text(exc)}) and restoring the original bytes failed "
                       f"too ({failed.message}); {when}", path=self.sink.target) from None
        done = ("the original bytes were restored" if rewritten else
                "the original bytes read back unchanged")
        if isinstance(exc, VerifyError):
            raise VerifyError(f"{exc.message}; {done}", path=exc.path, offset=exc.offset) from None
        if isinstance(exc, BcdToolError):
            kind = MediaError if isinstance(exc, MediaError) else WriteError
            raise kind(f"{exc.message}; {done}", path=exc.path or self.sink.target) from None
        if isinstance(exc, OSError):
            failure = write_failure(exc, "write failed", path=self.sink.target)
            raise type(failure)(f"{failure.message}; {done}", path=self.sink.target) from None
        raise exc


def _text(exc: BaseException) -> str:
    """An error's message without its context (one line)."""
    return exc.message if isinstance(exc, BcdToolError) else \
        next_step(exc) if isinstance(exc, OSError) else str(exc)


def _files(phases: list[list[Step]]) -> list[str]:
    """Every file `phases` writes, once, in order."""
    return list(dict.fromkeys(step.file for phase in phases for step in phase))


def _expectations(journal: journals.Journal, identities: dict[str, Hashable],
                  in_place: set[str]) -> dict[str, Expect]:
    """What the writer must find before writing each file: its identity when checked, and the
    start of what the journal backed up of it."""
    expect = {file: Expect(identity, in_place=file in in_place)
              for file, identity in identities.items()}
    for entry in journal.entries:
        if entry.file in expect and not expect[entry.file].head and entry.existed and \
                entry.link is None:
            head = journal.backup_bytes(entry)[:HEAD]
            expect[entry.file] = expect[entry.file]._replace(offset=entry.offset, head=head)
    return expect


def _holds(sink: Sink, file: str, before: bytes | Prefix | None) -> bool:
    """Whether `file` still holds `before` (a Prefix: its size and first bytes, compared a
    chunk at a time)."""
    if not isinstance(before, Prefix):
        return sink.read(file) == before
    return sink.size(file) == before.size and same_bytes(sink, file, before.data)


def same_bytes(sink: Sink, file: str, data: bytes) -> bool:
    """Whether `file` starts with `data`, read back a chunk at a time (no second copy)."""
    view = memoryview(data)
    for offset in range(0, len(data), _CHUNK):
        part = view[offset:offset + _CHUNK]
        if sink.read_range(file, offset, len(part)) != part:
            return False
    return True


def _prefix_entry(sink: Sink, file: str, before: Prefix,
                  phases: list[list[Step]]) -> tuple[journals.Entry, bytes]:
    """The journal entry of a Prefix file: its first bytes up to the last byte any step
    overwrites inside the old file, and its old size (restore cuts off what a write added)."""
    end = len(before.data)
    for phase in phases:
        for step in phase:
            if step.file == file and step.offset is not None:
                end = max(end, min(before.size, step.offset + len(step.data)))
    extra = sink.read_range(file, len(before.data), end - len(before.data)) \
        if end > len(before.data) else b""
    entry = journals.Entry(kind="range", file=file, backup="", sha256_before="", offset=0,
                           length=end, size=before.size)
    return entry, before.data + extra if extra else before.data


def _do(writer: Writer, step: Step) -> None:
    """One step, shown to the observers first; OSError becomes WriteError."""
    try:
        observe.before_write(step.file)
        if step.link is not None:
            writer.symlink(step.file, step.link)
        elif step.offset is None:
            writer.replace(step.file, step.data)
        else:
            writer.write(step.file, step.offset, step.data, size=step.size)
    except OSError as exc:
        raise write_failure(exc, "write failed", path=step.file) from None


def current_sha(sink: Sink, entry: journals.Entry) -> str | None:
    """sha256 of what `entry`'s place holds now (a link's target for links; "" hashed for an
    absent file the write created; None for an absent file that existed)."""
    if entry.kind == "range":
        digest = hashlib.sha256()
        _hash_range(digest, sink, entry.file, entry.offset, entry.offset + entry.length)
        if entry.size is not None:
            # A file written in place may have grown: what lies past its old size is cut off by
            # a restore, so it belongs to what undo must find unchanged (nothing there: the
            # digest is the backup's own, as after a restore).
            now = sink.size(entry.file) or 0
            _hash_range(digest, sink, entry.file, entry.size, now)
        return digest.hexdigest()
    link = sink.lstat_link(entry.file)
    if link is not None:
        return journals.sha256(link.encode())
    data = sink.read(entry.file)
    if data is None:
        return None if entry.existed else journals.sha256(b"")
    return journals.sha256(data)


def _hash_range(digest, sink: Sink, file: str, start: int, end: int) -> None:
    """Feed bytes `start`..`end` of `file` to `digest`, a chunk at a time (a short read ends
    it: the file is shorter now)."""
    for offset in range(start, end, _CHUNK):
        part = sink.read_range(file, offset, min(_CHUNK, end - offset))
        digest.update(part)
        if len(part) < min(_CHUNK, end - offset):
            break


def pin(sink: Sink, entries: list[journals.Entry]) -> dict[str, Expect]:
    """What each file of `entries` is now (identity, and the first bytes a restore overwrites),
    for a restore's writer to find again before its first byte."""
    expect: dict[str, Expect] = {}
    for entry in entries:
        if entry.file in expect:
            continue
        identity = sink.identity(entry.file)
        in_place = entry.kind == "range" or entry.size is not None
        offset = entry.offset if entry.kind == "range" else 0
        head = sink.read_range(entry.file, offset, HEAD) \
            if in_place and identity is not None and sink.lstat_link(entry.file) is None else b""
        expect[entry.file] = Expect(identity, offset, head, in_place)
    return expect


def restore(sink: Sink, journal: journals.Journal, *, check: bool,
            expect: dict[str, Expect] | None = None) -> int:
    """Put back every entry of `journal` through `sink`, newest first, each read back after;
    entries that already read back as the original are left alone (a write the medium refused
    changed nothing).  Returns how many entries were written.  `expect` (else pinned now, see
    `pin`): what the files must still be when the writer opens them — a file swapped in
    between is not written.

    With `check`, first make sure nobody changed the bytes since bcdtool wrote them (the
    caller holds the sink's lock, so nobody can between this check and the writes)."""
    if expect is None:
        expect = pin(sink, journal.entries)
    if check:
        for entry in journal.entries:
            now = current_sha(sink, entry)
            if now not in (entry.sha256_after, entry.sha256_before):
                raise BcdToolError(f"{entry.file} changed after bcdtool wrote it; undoing would "
                                   "discard those changes (use --force to restore anyway)",
                                   path=str(journal.path))
    pending = [entry for entry in journal.entries if not _restored(sink, entry)]
    if pending:
        with sink.writer({e.file: expect[e.file] for e in pending if e.file in expect}) \
                as writer:
            for entry in reversed(pending):
                original = journal.backup_bytes(entry)
                step = _restore_step(sink, entry, original)
                if step is None:
                    observe.before_write(entry.file)
                    writer.remove(entry.file)
                else:
                    _do(writer, step)
            writer.flush()
    for entry in journal.entries:
        if not _restored(sink, entry):
            raise VerifyError("restored bytes do not read back as the original",
                              path=f"{sink.target}:{entry.file}")
    return len(pending)


def _restored(sink: Sink, entry: journals.Entry) -> bool:
    """Whether `entry`'s place holds what it held before the write (a file the write created:
    nothing there)."""
    if entry.kind != "range" and not entry.existed:
        return sink.lstat_link(entry.file) is None and sink.size(entry.file) is None
    if current_sha(sink, entry) != entry.sha256_before:
        return False
    return entry.kind != "range" or entry.size is None or sink.size(entry.file) == entry.size


def _restore_step(sink: Sink, entry: journals.Entry, original: bytes) -> Step | None:
    """The step that puts `entry` back (None: remove what the write created)."""
    if entry.kind == "range":       # with a size: a hive's start, and the file's old length
        return Step(entry.file, original, offset=entry.offset, size=entry.size)
    if not entry.existed:
        return None
    if entry.size is not None:
        if sink.lstat_link(entry.file) is not None:
            raise WriteError("is a symbolic link now; bcdtool never replaces a link by a file "
                             "(restore by hand from the journal's backup)",
                             path=f"{sink.target}:{entry.file}")
        return Step(entry.file, original, offset=0, size=entry.size)
    return Step(entry.file, original)
