"""Journals provably written by this user's bcdtool: an HMAC-SHA256 over every journal.json,
keyed by a per-user secret in the state folder (`journal.key`, 32 random bytes, 0600).

`bcdtool undo` checks the signature before anything else, so a journal forged or edited by
someone who cannot read the key (another user, a hostile image's files, a copied folder) is
refused with `UntrustedJournalError` (exit 38) however consistent it looks.  A journal copied
from another machine (a rescue system that was rebooted, a fleet's worker) is trusted only when
the user says so (`undo --trust-journal`), and every path, offset and target check still
applies to it.

The key file is read and created without following links, and only a regular 0600 file owned by
this user is accepted: a key others can read, or one placed there by someone else, would let
them forge journals.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from pathlib import Path

from bcdtool.errors import UnsafePathError, WriteError
from bcdtool.write.fileio import read_fd

KEY_NAME = "journal.key"
KEY_BYTES = 32
#: The journal.json field holding the signature (hex HMAC-SHA256 of the rest).
FIELD = "mac"


def canonical(doc: dict) -> bytes:
    """The bytes a journal's signature covers: the document without its signature, keys sorted,
    no whitespace (identical after a JSON round trip)."""
    rest = {k: v for k, v in doc.items() if k != FIELD}
    return json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(doc: dict, folder: Path) -> str:
    """The signature of `doc` with this user's key in state folder `folder` (created if none)."""
    return hmac.new(key(folder, create=True), canonical(doc), hashlib.sha256).hexdigest()


def signed_here(doc: dict, folder: Path) -> bool:
    """Whether `doc` carries a valid signature by this user's key (no key yet: False)."""
    mac = doc.get(FIELD)
    secret = key(folder, create=False)
    if not isinstance(mac, str) or secret is None:
        return False
    return hmac.compare_digest(mac, hmac.new(secret, canonical(doc), hashlib.sha256).hexdigest())


def key(folder: Path, *, create: bool) -> bytes | None:
    """This user's journal key from `folder` (None when absent and not `create`)."""
    path = folder / KEY_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        if not create:
            return None
        return _create(path)
    except OSError as exc:
        raise _unsafe(path, exc.strerror or "cannot be opened") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _unsafe(path, "is not a regular file")
        if info.st_uid != os.geteuid():
            raise _unsafe(path, "is owned by another user")
        if stat.S_IMODE(info.st_mode) != 0o600:
            raise _unsafe(path, f"has mode {stat.S_IMODE(info.st_mode):04o}, not 0600")
        data = read_fd(fd, str(path), cap=KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) != KEY_BYTES:
        raise _unsafe(path, f"holds {len(data)} bytes, not {KEY_BYTES}")
    return data


def _create(path: Path) -> bytes:
    """A new random key at `path`, written to a private temporary file and linked into place
    (two bcdtools creating it at once: the first link wins, the other reads that one)."""
    secret = secrets.token_bytes(KEY_BYTES)
    temp = path.with_name(f"{KEY_NAME}.{os.getpid()}.new")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        try:
            os.fchmod(fd, 0o600)             # whatever the umask
            os.write(fd, secret)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, path)
        except FileExistsError:
            existing = key(path.parent, create=False)
            if existing is None:
                raise WriteError("the journal key vanished while it was created; run the "
                                 "command again", path=str(path)) from None
            return existing
        finally:
            temp.unlink(missing_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot create the journal key: {exc.strerror}", path=str(path)) from None
    return secret


def _unsafe(path: Path, why: str) -> UnsafePathError:
    return UnsafePathError(
        f"the journal key {why}: only a regular 0600 file owned by you is used (anyone who can "
        "write or read it could forge undo journals); remove it (`rm` it: new journals get a new "
        "key, older ones then need `bcdtool undo --trust-journal`)", path=str(path))
