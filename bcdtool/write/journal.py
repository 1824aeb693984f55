"""Undo journals: the original bytes of everything a transaction is about to change, saved first.

A journal is a private folder `<state>/journal/<id>/` (0700) holding `journal.json` and one
backup file per entry (0600: backups hold whole hives).  journal.json is signed with this
user's key (write/signing.py): nothing unsigned is trusted without `undo --trust-journal`.
`journal.json` names the sink the bytes belong to (`sink`: how to reopen the target) and, per
entry, a file *relative to that target* — a whole file (`kind="file"`) or a byte range of one
(`kind="range"`).  Restoring goes back through the same sink, so an entry can never reach
outside the target it was written for; `load` checks every field's type and every path before
anything is restored.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import stat
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bcdtool.errors import (BcdToolError, FormatError, NotFoundError, UntrustedJournalError,
                            VerifyError, WriteError, write_failure)
from bcdtool.limits import MAX_HIVE_BYTES
from bcdtool.urls import redact, scrub
from bcdtool.write import signing
from bcdtool.write.fileio import (READ_FLAGS, TEMP_SUFFIX, create_new, fsync_folder, read_fd,
                                  replace_file)
from bcdtool.write.pending import (MAX_DEPTH, marker_doc, marker_path, nesting, started,
                                   state_dir)

JOURNAL_VERSION = 2
#: Largest journal.json we agree to parse (a hostile or broken file must not exhaust memory).
MAX_JOURNAL_BYTES = 16 * 1024 * 1024
STATES = ("planned", "writing", "done", "undoing", "restored")
_BACKUP_NAME = re.compile(r"^[0-9]{4}\.bak$")


def sha256(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def private_folder(folder: Path) -> None:
    """Create `folder` (and parents) 0700; an existing one of ours is tightened to 0700."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = os.stat(folder, follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode):
            raise WriteError("the state folder is not a folder (a symlink?): remove it (bcdtool "
                             "creates it again) or set XDG_STATE_HOME", path=str(folder))
        if info.st_uid == os.geteuid() and info.st_mode & 0o077:
            os.chmod(folder, 0o700)
    except OSError as exc:
        raise write_failure(exc, "cannot create the folder (or set XDG_STATE_HOME to a writable "
                            "folder)", path=str(folder)) from None


@dataclass
class Entry:
    """One thing backed up: a whole file, or a byte range of one, relative to the sink's target."""

    kind: str                      # "file" or "range"
    file: str                      # path inside the target (posix, relative)
    backup: str                    # backup file name inside the journal folder
    sha256_before: str
    sha256_after: str | None = None
    existed: bool = True           # files only: False when the transaction creates the file
    link: str | None = None        # files only: the symlink the transaction creates
    offset: int = 0                # ranges only
    length: int = 0                # ranges only
    size: int | None = None        # files written in place: the size to restore
    device: list = field(default_factory=list)  # disks: [offset, length] on the device (shown)


@dataclass
class Journal:
    """An undo journal being written or read back."""

    id: str
    dir: Path
    target: str
    operation: str
    created: str
    sink: dict
    state: str = "planned"
    diff: list = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    #: Identifies the store being written; while writing (or undoing), a marker under
    #: `<state>/pending/` lets the next open of the same store notice the interruption.
    target_key: str = ""

    @classmethod
    def start(cls, target: str, operation: str, *, sink: dict,
              backup_dir: str | os.PathLike | None = None, diff: list | None = None,
              target_key: str = "") -> Journal:
        """Create a new private journal folder (under `backup_dir`, else the state folder)."""
        now = _dt.datetime.now(_dt.timezone.utc)
        jid = now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]
        root = Path(backup_dir) if backup_dir else state_dir() / "journal"
        if backup_dir is None:
            private_folder(root)
        folder = root / jid
        try:
            folder.mkdir(parents=True, exist_ok=False, mode=0o700)
            os.chmod(folder, 0o700)         # whatever the umask: backups hold whole hives
            fsync_folder(root)              # the pending marker will name it: it must last
        except OSError as exc:
            with contextlib.suppress(OSError):
                folder.rmdir()              # made by the mkdir above, if it got that far
            raise write_failure(exc, "cannot create the undo journal folder (or give "
                                "--backup-dir DIR on another file system)",
                                path=str(folder)) from None
        # A target URL is kept without its secret, and so is any URL the operation quotes.
        journal = cls(id=jid, dir=folder, target=redact(target), operation=scrub(operation),
                      created=now.isoformat(), sink=dict(sink), diff=list(diff or []),
                      target_key=target_key)
        try:
            journal.save()
        except BaseException:
            journal.discard()
            raise
        return journal

    def discard(self) -> None:
        """Remove this journal's folder and the files bcdtool put there (journal.json, its
        backups, a temporary of journal.json) when the journal could not be completed before
        the first write: a full or failing medium leaves nothing behind.  Anything else in the
        folder keeps it (and is left alone); errors are ignored — the write is failing already."""
        try:
            fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return
        try:
            for name in os.listdir(fd):
                if name == "journal.json" or _BACKUP_NAME.match(name) or (
                        name.startswith(".journal.json.") and name.endswith(TEMP_SUFFIX)):
                    with contextlib.suppress(OSError):
                        os.unlink(name, dir_fd=fd)
        finally:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.rmdir(self.dir)

    @property
    def path(self) -> Path:
        """The journal.json file (what `bcdtool undo` takes)."""
        return self.dir / "journal.json"

    def add(self, entry: Entry, before: bytes) -> Entry:
        """Save `before` (the original bytes of `entry`) in the journal folder, 0600, fsynced;
        journal.json itself is rewritten by the next `mark`."""
        entry.backup = f"{len(self.entries):04d}.bak"
        entry.sha256_before = sha256(before)
        path = self.dir / entry.backup
        try:
            create_new(path, before, mode=0o600)
        except OSError as exc:
            raise write_failure(exc, "cannot write the backup; nothing was written",
                                path=str(path)) from None
        self.entries.append(entry)
        return entry

    def mark(self, state: str) -> None:
        """Record progress durably; "writing" and "undoing" raise the pending marker, others
        drop it."""
        self.state = state
        self.save()
        if self.target_key:
            if state in ("writing", "undoing"):
                folder = state_dir() / "pending"
                private_folder(folder)
                replace_file(marker_path(self.target_key),
                             json.dumps({"key": self.target_key,
                                         "journal": str(self.path.resolve()),
                                         "pid": os.getpid(),
                                         "started": started(os.getpid())}).encode())
            else:
                marker_path(self.target_key).unlink(missing_ok=True)

    def drop_marker(self) -> None:
        """Remove the pending marker (the write it announces is over) without touching
        journal.json: for when the journal's own medium fails after the write."""
        if self.target_key:
            with contextlib.suppress(OSError):
                marker_path(self.target_key).unlink(missing_ok=True)

    def save(self) -> None:
        """Write journal.json atomically (0600)."""
        doc = {"version": JOURNAL_VERSION, "id": self.id, "target": self.target,
               "operation": self.operation, "created": self.created, "state": self.state,
               "sink": self.sink, "diff": self.diff, "extra": self.extra,
               "target_key": self.target_key, "entries": [asdict(e) for e in self.entries]}
        doc[signing.FIELD] = signing.sign(doc, key_folder())
        replace_file(self.path, json.dumps(doc, indent=2).encode())

    def backup_bytes(self, entry: Entry) -> bytes:
        """The saved original bytes of `entry`, checked against the recorded sha256."""
        where = self.dir / entry.backup
        try:
            fd = os.open(where, READ_FLAGS)
        except OSError as exc:
            raise NotFoundError(f"backup file missing from the journal: {exc.strerror}",
                                path=str(where)) from None
        # A backup holds what its entry says (a range's length, a file's size): a larger one was
        # not written by bcdtool, and is refused before it is read (a sparse 3 GiB backup was
        # read whole).
        expected = entry.length if entry.kind == "range" else entry.size
        cap = MAX_HIVE_BYTES if expected is None else min(expected, MAX_HIVE_BYTES)
        try:
            data = read_fd(fd, str(where), cap=cap)
        finally:
            os.close(fd)
        if sha256(data) != entry.sha256_before:
            raise VerifyError("backup file does not match the journal's checksum", path=str(where))
        return data


# --- reading a journal back: every field checked -------------------------------------------------

_ENTRY_TYPES = {"kind": str, "file": str, "backup": str, "sha256_before": str,
                "sha256_after": (str, type(None)), "existed": bool, "link": (str, type(None)),
                "offset": int, "length": int, "size": (int, type(None)), "device": list}
_TOP_TYPES = {"version": int, "id": str, "target": str, "operation": str, "created": str,
              "state": str, "sink": dict, "diff": list, "extra": dict, "target_key": str,
              "entries": list}



def key_folder() -> Path:
    """Where this user's journal key lives (the state folder, created 0700)."""
    folder = state_dir()
    private_folder(folder)
    return folder


def load(path: str | os.PathLike, *, trust: bool = False) -> Journal:
    """Read a journal from its journal.json (or its folder): `read_doc`, then `from_doc`."""
    path = journal_file(path)
    return from_doc(read_doc(path, trust=trust), path)


def journal_file(path: str | os.PathLike) -> Path:
    """The journal.json a path names (the file itself, or its folder)."""
    path = Path(path)
    return path / "journal.json" if path.is_dir() else path


def read_doc(path: Path, *, trust: bool = False) -> dict:
    """The JSON document of journal.json `path`, size and nesting capped, its signature checked
    before anything else is looked at: `UntrustedJournalError` unless this user's bcdtool wrote
    it, or `trust` (a journal copied from another machine, or written before journals were
    signed: `undo --trust-journal`)."""
    try:
        fd = os.open(path, READ_FLAGS & ~os.O_NOFOLLOW)
    except FileNotFoundError:
        raise NotFoundError("no such undo journal", path=str(path)) from None
    except OSError as exc:
        raise FormatError(f"unreadable undo journal: {exc.strerror}", path=str(path)) from None
    try:
        raw = read_fd(fd, str(path), cap=MAX_JOURNAL_BYTES)
    finally:
        os.close(fd)
    if nesting(raw) > MAX_DEPTH:
        raise FormatError("undo journal nests too deeply to be one of bcdtool's", path=str(path))
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise FormatError(f"unreadable undo journal: {exc}", path=str(path)) from None
    if not isinstance(doc, dict):
        raise FormatError("malformed undo journal: not a JSON object", path=str(path))
    if not trust and doc.get("version") == 1:
        raise UntrustedJournalError(
            "this is a version 1 undo journal of an older bcdtool, which signed no journals; "
            "nothing was restored.  If you (or that bcdtool on this machine) wrote it, run "
            "`bcdtool undo --trust-journal JOURNAL`: it is read as version 2 and every path, "
            "offset and target check applies", path=str(path))
    if not trust and not signing.signed_here(doc, key_folder()):
        raise UntrustedJournalError(
            "this undo journal does not carry your bcdtool's signature: it was edited, forged, "
            "copied from another machine or user, or written by a bcdtool older than journal "
            "signing; nothing was restored.  If you know where it came from and trust it, run "
            "`bcdtool undo --trust-journal JOURNAL` (every path, offset and target check still "
            "applies), or copy the state folder key (journal.key) of the user and machine that "
            "wrote it here", path=str(path))
    return doc


def from_doc(doc: dict, path: Path) -> Journal:
    """The journal `doc` describes, every field's type and every path checked (FormatError)."""

    def bad(why: str) -> FormatError:
        return FormatError(f"malformed undo journal: {why}; it was not written by this bcdtool "
                           "or was edited by hand: restore the store from another backup",
                           path=str(path))

    if not isinstance(doc, dict):
        raise bad("not a JSON object")
    if doc.get("version") != JOURNAL_VERSION:
        raise FormatError(f"unknown journal version {doc.get('version')!r} (this bcdtool "
                          f"writes version {JOURNAL_VERSION}; `bcdtool undo` also reads the "
                          "version 1 journals of older bcdtools)", path=str(path))
    _check_types(doc, _TOP_TYPES, bad, "journal")
    if doc["state"] not in STATES:
        raise bad(f"unknown state {doc['state']!r}")
    entries = []
    for number, item in enumerate(doc["entries"]):
        if not isinstance(item, dict):
            raise bad(f"entry {number} is not an object")
        _check_types(item, _ENTRY_TYPES, bad, f"entry {number}")
        entry = Entry(**{k: item[k] for k in _ENTRY_TYPES})
        _check_entry(entry, bad, number)
        entries.append(entry)
    return Journal(id=doc["id"], dir=path.parent, target=doc["target"], operation=doc["operation"],
                   created=doc["created"], sink=doc["sink"], state=doc["state"], diff=doc["diff"],
                   entries=entries, extra=doc["extra"], target_key=doc["target_key"])


def _check_types(doc: dict, types: dict, bad, what: str) -> None:
    for key, kind in types.items():
        if key not in doc:
            raise bad(f"{what} has no {key!r}")
        value = doc[key]
        if isinstance(value, bool) and kind is int:
            raise bad(f"{what}: {key!r} must be a number")
        if not isinstance(value, kind):
            raise bad(f"{what}: {key!r} has the wrong type ({type(value).__name__})")


def _check_entry(entry: Entry, bad, number: int) -> None:
    if entry.kind not in ("file", "range"):
        raise bad(f"entry {number} has unknown kind {entry.kind!r}")
    if not _BACKUP_NAME.match(entry.backup):
        raise bad(f"entry {number} names a backup outside the journal folder")
    if not inside_target(entry.file):
        raise bad(f"entry {number} names {entry.file!r}, which is not a path inside the target")
    if entry.offset < 0 or entry.length < 0 or (entry.size is not None and entry.size < 0):
        raise bad(f"entry {number} has a negative offset or length")
    if entry.link is not None and ("\0" in entry.link or entry.existed):
        raise bad(f"entry {number} has an invalid symlink")


def inside_target(rel: str) -> bool:
    """A relative posix path without '..', NUL or empty components (a journal's entry path)."""
    parts = rel.split("/")
    return bool(rel) and not rel.startswith("/") and "\0" not in rel and \
        all(p not in ("", ".", "..") for p in parts)


# --- pending markers: interrupted writes and undos -----------------------------------------------

def interrupted(target_key: str) -> Journal | None:
    """The journal of an unfinished write (or undo) of store `target_key`, if one was left."""
    marker = marker_path(target_key)
    try:
        fd = os.open(marker, READ_FLAGS)
    except OSError:
        return None
    try:
        doc = marker_doc(read_fd(fd, str(marker), cap=64 * 1024))
        # Reporting an interrupted write only refuses to go on (undo checks the signature):
        # a journal whose key was lost or damaged must still stop the next write.
        journal = load(doc["journal"], trust=True)
    except (OSError, ValueError, KeyError, TypeError, BcdToolError):
        return None  # a marker pointing at a journal that is gone: nothing to report
    finally:
        os.close(fd)
    if journal.target_key != target_key or journal.state not in ("writing", "undoing"):
        return None
    return journal


def latest(target_key: str, *, limit: int = 1000) -> Journal | None:
    """The newest journal in the state folder written for store `target_key` (newest `limit`
    seen)."""
    folder = state_dir() / "journal"
    try:
        names = sorted((p.name for p in folder.iterdir()), reverse=True)[:limit]
    except OSError:
        return None
    for name in names:     # ids start with a UTC timestamp, so names sort by age
        try:
            journal = load(folder / name, trust=True)     # named in a report, not restored
        except BcdToolError:
            continue
        if journal.target_key == target_key:
            return journal
    return None
