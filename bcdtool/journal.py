"""Undo journals: the original bytes of everything a command is about to change, saved first.

A journal is a folder `<state>/journal/<id>/` holding `journal.json` and one backup file per
entry.  Two kinds of entry exist: a whole *file* (Linux guest configs, hive files) and a byte
*extent* of a device (a hive's data inside a disk image).  Restoring extents needs the device
layer, so `undo` takes an `open_device` callable instead of importing it (this module sits
below blockdev and knows nothing of image formats).
"""

from __future__ import annotations

import datetime as _dt
import glob
import hashlib
import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from bcdtool.errors import BcdToolError, FormatError, NotFoundError, VerifyError, WriteError
from bcdtool.fileio import TEMP_SUFFIX, replace_file
from bcdtool.urls import scrub, stored

JOURNAL_VERSION = 1
#: Largest journal.json we agree to parse (a hostile or broken file must not exhaust memory).
MAX_JOURNAL_BYTES = 16 * 1024 * 1024


def sha256(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def state_dir() -> Path:
    """bcdtool's state folder: $XDG_STATE_HOME/bcdtool, else ~/.local/state/bcdtool."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "bcdtool"


class WritableDevice(Protocol):
    """What undo needs of a device to put an extent back."""

    def read_at(self, offset: int, length: int) -> bytes: ...
    def write_at(self, offset: int, data: bytes) -> None: ...
    def flush_device(self) -> None: ...


@dataclass
class Entry:
    """One thing backed up: a file, or an extent of a device (offset/length set)."""

    kind: str                      # "file" or "extent"
    path: str                      # file path, or the target (image/device) path
    backup: str                    # backup file name inside the journal folder
    sha256_before: str
    sha256_after: str | None = None
    existed: bool = True           # files only: False when the command creates the file
    offset: int | None = None      # extents only: byte offset on the device
    length: int | None = None
    device: dict = field(default_factory=dict)  # extents only: how to reopen (partition, format)


@dataclass
class Journal:
    """An undo journal being written or read back."""

    id: str
    dir: Path
    target: str
    operation: str
    created: str
    state: str = "planned"         # planned -> writing -> done | restored
    diff: list = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    #: Identifies the store being written; while writing, a marker under `<state>/pending/` lets
    #: the next open of the same store notice an interrupted write (see `interrupted`).
    target_key: str = ""

    @classmethod
    def start(cls, target: str, operation: str, *, backup_dir: str | os.PathLike | None = None,
              diff: list | None = None, target_key: str = "") -> "Journal":
        """Create a new journal folder (under `backup_dir`, else the state folder)."""
        now = _dt.datetime.now(_dt.timezone.utc)
        jid = now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]
        root = Path(backup_dir) if backup_dir else state_dir() / "journal"
        folder = root / jid
        try:
            folder.mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            raise WriteError(f"cannot create the undo journal folder: {exc.strerror}",
                             path=str(folder)) from None
        # The operation may quote a command line naming a URL: stored without its secret.
        journal = cls(id=jid, dir=folder, target=stored(target), operation=scrub(operation),
                      created=now.isoformat(), diff=list(diff or []), target_key=target_key)
        journal.save()
        return journal

    @property
    def path(self) -> Path:
        """The journal.json file (what `bcdtool undo` takes)."""
        return self.dir / "journal.json"

    def backup_file(self, path: str | os.PathLike, after: bytes | None = None) -> Entry:
        """Save the current content of file `path` (which may not exist yet)."""
        path = Path(os.path.abspath(path))  # undo may run from another working folder
        try:
            before = path.read_bytes()
            existed = True
        except FileNotFoundError:
            before, existed = b"", False
        except OSError as exc:
            raise WriteError(f"cannot read the file to back it up: {exc.strerror}",
                             path=str(path)) from None
        entry = Entry(kind="file", path=str(path), backup=f"{len(self.entries):04d}.bak",
                      sha256_before=sha256(before), existed=existed,
                      sha256_after=sha256(after) if after is not None else None)
        self._store(entry, before)
        return entry

    def backup_extent(self, target: str, offset: int, before: bytes, after: bytes | None = None,
                      device: dict | None = None, *, save: bool = True) -> Entry:
        """Save `before`, the bytes currently at `offset` of device `target`.

        With save=False journal.json is not rewritten yet (the caller's `mark("writing")` does it,
        before anything is written): one fsync per extent instead of three.
        """
        entry = Entry(kind="extent", path=stored(target),
                      backup=f"{len(self.entries):04d}.bak",
                      sha256_before=sha256(before), offset=offset, length=len(before),
                      sha256_after=sha256(after) if after is not None else None,
                      device=dict(device or {}))
        self._store(entry, before, save=save)
        return entry

    def backup_data(self, kind: str, target: str, before: bytes, *, after: bytes | None = None,
                    existed: bool = True, device: dict | None = None) -> Entry:
        """Save `before`, bytes a backend reads itself (kind names the backend that restores them,
        `device` how it finds them again); undo() leaves such entries to that backend."""
        entry = Entry(kind=kind, path=os.path.abspath(target), backup=f"{len(self.entries):04d}.bak",
                      sha256_before=sha256(before), existed=existed,
                      sha256_after=sha256(after) if after is not None else None,
                      device=dict(device or {}))
        self._store(entry, before)
        return entry

    def _store(self, entry: Entry, data: bytes, *, save: bool = True) -> None:
        _write_new(self.dir / entry.backup, data)
        self.entries.append(entry)
        if save:
            self.save()     # also makes the new backup file's folder entry durable

    def mark(self, state: str) -> None:
        """Record progress (writing, done, restored) durably; "writing" raises the pending marker."""
        self.state = state
        self.save()
        if self.target_key:
            if state == "writing":
                replace_file(_marker_path(self.target_key, create=True),
                               json.dumps({"key": self.target_key,
                                           "journal": str(self.path.resolve())}).encode())
            else:
                _marker_path(self.target_key).unlink(missing_ok=True)

    def save(self) -> None:
        """Write journal.json atomically."""
        doc = {"version": JOURNAL_VERSION, "id": self.id, "target": self.target,
               "operation": self.operation, "created": self.created, "state": self.state,
               "diff": self.diff, "extra": self.extra, "target_key": self.target_key,
               "entries": [asdict(e) for e in self.entries]}
        replace_file(self.path, json.dumps(doc, indent=2).encode())

    def backup_bytes(self, entry: Entry) -> bytes:
        """The saved original bytes of `entry`, checked against the recorded sha256."""
        try:
            data = (self.dir / entry.backup).read_bytes()
        except OSError as exc:
            raise NotFoundError(f"backup file missing from the journal: {exc.strerror}",
                                path=str(self.dir / entry.backup)) from None
        if sha256(data) != entry.sha256_before:
            raise VerifyError("backup file does not match the journal's checksum",
                              path=str(self.dir / entry.backup))
        return data


def load(path: str | os.PathLike) -> Journal:
    """Read a journal from its journal.json (or its folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / "journal.json"
    try:
        if path.stat().st_size > MAX_JOURNAL_BYTES:
            raise FormatError("journal file is implausibly large", path=str(path))
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise NotFoundError("no such undo journal", path=str(path)) from None
    except (OSError, ValueError) as exc:
        raise FormatError(f"unreadable undo journal: {exc}", path=str(path)) from None
    try:
        if doc.get("version") != JOURNAL_VERSION:
            raise FormatError(f"unknown journal version {doc.get('version')!r}", path=str(path))
        entries = [Entry(**e) for e in doc["entries"]]
        return Journal(id=doc["id"], dir=path.parent, target=doc["target"],
                       operation=doc["operation"], created=doc["created"], state=doc["state"],
                       diff=doc.get("diff", []), entries=entries, extra=doc.get("extra", {}),
                       target_key=doc.get("target_key", ""))
    except (KeyError, TypeError, AttributeError) as exc:
        raise FormatError(f"malformed undo journal ({exc})", path=str(path)) from None


def _marker_path(target_key: str, *, create: bool = False) -> Path:
    folder = state_dir() / "pending"
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError(f"cannot create the pending-write folder: {exc.strerror}",
                             path=str(folder)) from None
    return folder / (hashlib.sha256(target_key.encode()).hexdigest()[:32] + ".json")


def interrupted(target_key: str) -> Journal | None:
    """The journal of an unfinished write to the store `target_key`, if one was left behind."""
    marker = _marker_path(target_key)
    try:
        if marker.stat().st_size > 64 * 1024:
            return None
        doc = json.loads(marker.read_bytes())
        journal = load(doc["journal"])
    except (OSError, ValueError, KeyError, TypeError, BcdToolError):
        return None  # no marker, or one pointing at a journal that is gone: nothing to report
    if journal.target_key != target_key or journal.state != "writing":
        return None
    return journal


def latest(target_key: str, *, limit: int = 1000) -> Journal | None:
    """The newest journal in the state folder written for store `target_key` (newest `limit` seen)."""
    folder = state_dir() / "journal"
    try:
        names = sorted((p.name for p in folder.iterdir()), reverse=True)[:limit]
    except OSError:
        return None
    for name in names:     # ids start with a UTC timestamp, so names sort by age
        try:
            journal = load(folder / name)
        except BcdToolError:
            continue
        if journal.target_key == target_key:
            return journal
    return None


def undo(path: str | os.PathLike,
         open_device: Callable[[Entry], WritableDevice] | None = None) -> Journal:
    """Put back every backed-up file and extent of a journal, newest first, and verify."""
    journal = load(path)
    for entry in reversed(journal.entries):
        original = journal.backup_bytes(entry)
        if entry.kind == "file":
            _restore_file(entry, original)
        elif entry.kind == "extent":
            if open_device is None:
                raise BcdToolError("this journal restores bytes inside a disk image; "
                                   "use `bcdtool undo`", path=entry.path)
            _restore_extent(entry, original, open_device)
        else:
            raise FormatError(f"unknown journal entry kind {entry.kind!r}", path=str(journal.path))
    journal.mark("restored")
    return journal


def _restore_file(entry: Entry, original: bytes) -> None:
    target = Path(entry.path)
    # A write killed between its temporary file and the rename leaves the temporary behind.
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*{TEMP_SUFFIX}"):
        leftover.unlink(missing_ok=True)
    if not entry.existed:
        try:
            target.unlink()
        except FileNotFoundError:
            pass
        return
    replace_file(target, original)
    if sha256(target.read_bytes()) != entry.sha256_before:
        raise VerifyError("restored file does not read back as the original", path=entry.path)


def _restore_extent(entry: Entry, original: bytes,
                    open_device: Callable[[Entry], WritableDevice]) -> None:
    device = open_device(entry)
    device.write_at(entry.offset, original)
    device.flush_device()
    if sha256(device.read_at(entry.offset, len(original))) != entry.sha256_before:
        raise VerifyError("restored bytes do not read back as the original",
                          path=entry.path, offset=entry.offset)


def _write_new(path: Path, data: bytes) -> None:
    """Create `path` (which must not exist) holding `data`, fsynced; the folder is fsynced by save."""
    try:
        with open(path, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise WriteError(f"cannot write the backup: {exc.strerror}", path=str(path)) from None


