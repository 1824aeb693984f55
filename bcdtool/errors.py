"""The one exception tree of bcdtool; the CLI maps each class to a stable exit code.

Every error carries a message a user can act on, plus optional `path` (file, key or
element path) and `offset` (byte offset in the file or hive) for context.  Codes are
documented in README.md ("Exit codes") and must never be renumbered.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator

from bcdtool.urls import redact, scrub


class BcdToolError(Exception):
    """Root of all errors bcdtool raises on purpose."""

    exit_code = 10

    def __init__(self, message: str, *, path: str | None = None, offset: int | None = None):
        # A URL's secret (SAS, presigned signature) never enters an error: whatever prints,
        # logs or stores this exception sees only the redacted form.
        message = scrub(message)
        super().__init__(message)
        self.message = message
        self.path = redact(path) if isinstance(path, str) else path
        self.offset = offset

    def __str__(self) -> str:
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if self.offset is not None:
            where.append(f"offset {self.offset:#x}")
        return f"{self.message} ({', '.join(where)})" if where else self.message


class FormatError(BcdToolError):
    """Input is not in the expected format (bad signature, impossible layout)."""

    exit_code = 11


class ChecksumError(FormatError):
    """A stored checksum does not match the data it covers."""

    exit_code = 12


class CorruptionError(BcdToolError):
    """Structurally recognisable input whose pointers, counts or links are broken (incl. cycles)."""

    exit_code = 13


class DirtyHiveError(BcdToolError):
    """A hive needs transaction-log recovery that cannot be done safely."""

    exit_code = 14


class NotFoundError(BcdToolError, KeyError):
    """A key, value, object, element, file or store does not exist."""

    exit_code = 15

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return BcdToolError.__str__(self)


class ReadOnlyError(BcdToolError):
    """A write was asked of something opened read-only (or of read-only media)."""

    exit_code = 16


class UnsupportedError(BcdToolError):
    """Valid input that bcdtool deliberately does not handle (yet)."""

    exit_code = 17


class ImageError(BcdToolError):
    """A disk image, partition table or block device is unusable."""

    exit_code = 18


class UnsafeVolumeError(BcdToolError):
    """Writing would be unsafe: BitLocker, hibernated or dirty filesystem, in-use hive."""

    exit_code = 19


class BcdError(BcdToolError):
    """A BCD-level problem (the store is a valid hive but the request makes no sense for it)."""

    exit_code = 20


class InvalidIdentifierError(BcdError):
    """An object identifier is neither a GUID nor a known alias, or does not resolve."""

    exit_code = 21


class ElementError(BcdError):
    """An element name or code is unknown, or does not apply to the object."""

    exit_code = 22


class InvalidArgumentError(BcdToolError):
    """A command-line argument or value has the wrong syntax."""

    exit_code = 24


class WriteError(BcdToolError):
    """An I/O error during a write; the original bytes were restored where possible."""

    exit_code = 25


class VerifyError(BcdToolError):
    """What was written does not read back as planned; the original bytes were restored."""

    exit_code = 26


class InterruptedWriteError(BcdToolError):
    """A previous write was interrupted; the message names the undo journal to restore."""

    exit_code = 27


class GuestError(BcdToolError):
    """A Linux guest root is unusable or hostile (escaping symlink, oversized file, ...)."""

    exit_code = 28


class HiveSpaceError(BcdToolError):
    """The edited hive does not fit in the space it must keep (same-size, in-place writes)."""

    exit_code = 29


class LimitError(BcdToolError):
    """Input exceeds a bound bcdtool keeps: a declared size over its cap, nesting too deep,
    or more memory than the machine gives."""

    exit_code = 30


class UnsafePathError(BcdToolError):
    """A file the write would touch is not a plain file inside the target (a symlink, FIFO or
    device, or a path leading out of it); nothing outside a target is opened, backed up or
    followed."""

    exit_code = 31


class LockedError(BcdToolError):
    """Another writer holds the store or image; nothing was written."""

    exit_code = 32


class AccessDeniedError(BcdToolError):
    """A remote disk's server refused the credentials (HTTP 401/403), or they only allow reading."""

    exit_code = 33


class ExpiredCredentialError(AccessDeniedError):
    """The URL's signature (Azure SAS `se=`, presigned URL) has expired."""

    exit_code = 34


class NetworkError(BcdToolError):
    """A remote disk could not be reached or kept failing (timeouts, resets, 5xx after retries)."""

    exit_code = 35


class UnfixableGuestError(BcdToolError):
    """`linux fix` refuses a guest layout it cannot edit safely offline (immutable or read-only
    by design, LILO, a unified kernel image); the message names the next step."""

    exit_code = 36


class LiveSystemError(UnsupportedError):
    """A bcdedit command that only means something on a running Windows (its system store,
    firmware NVRAM, the running system's `{current}`); the message says what to do offline."""

    exit_code = 37


class UntrustedJournalError(BcdToolError):
    """An undo journal does not carry this user's signature (forged, edited, or copied from
    another machine); nothing was restored."""

    exit_code = 38


class MediaError(WriteError):
    """The medium failed under a write (EIO: a failing disk, a lost USB or network device); the
    message says whether the original bytes are intact and names the journal and `ddrescue`."""

    exit_code = 39


def from_input_failure(exc: BaseException) -> BcdToolError | None:
    """The BcdToolError for a failure that input, not a bug, can cause (exhausted memory or
    recursion, undecodable text, a NUL byte in a path); None for anything else.

    The CLI and batch workers map through this one function, so no input ends as exit 1.
    """
    if isinstance(exc, MemoryError):
        return LimitError("the input needs more memory than is available (a hostile size or "
                          "count?)")
    if isinstance(exc, RecursionError):
        return LimitError("the input is nested too deeply to process")
    if isinstance(exc, UnicodeError):
        return FormatError(f"text that is not valid in its encoding: {exc}")
    if isinstance(exc, ValueError) and "null byte" in str(exc):
        return InvalidArgumentError("a name or path contains a NUL byte")
    return None


@contextlib.contextmanager
def next_step(step: str, *kinds: type[BcdToolError]) -> Iterator[None]:
    """Append `step` (what a user can do next, e.g. "check it with `fsck.fat -n`") to an error
    of `kinds` raised in the block whose message does not name its tool (the first `quoted`
    command) yet.  Layers wrap their entry points in this (it also decorates) so that every
    refusal from inside them names a next step."""
    tool = step.split("`")[1] if step.count("`") >= 2 else step
    try:
        yield
    except kinds as exc:
        if tool not in exc.message:
            exc.message = f"{exc.message}; {step}"
            exc.args = (exc.message,)
        raise


#: What a user can do about an error the medium gives while bcdtool writes.
MEDIUM_STEPS = {
    errno.ENOSPC: "free space on that file system (df -h), then run the command again",
    errno.EDQUOT: "free space within your quota (quota -s), then run the command again",
    errno.EROFS: "the file system is read-only, or turned read-only after an error (see "
                 "dmesg): remount it read-write, or work on a copy elsewhere",
    errno.EIO: "the disk reports I/O errors: copy it with ddrescue and work on the copy",
    errno.EACCES: "check the permissions and attributes (ls -l, lsattr; chattr -i)",
    errno.EPERM: "check the permissions and attributes (ls -l, lsattr; chattr -i)",
}


def medium_text(exc: OSError) -> str:
    """`exc`'s text with what to do about it (for the errors of a full, read-only or failing
    medium; the bare text for others)."""
    hint = MEDIUM_STEPS.get(exc.errno or 0)
    return f"{exc.strerror}: {hint}" if hint else str(exc.strerror or exc)


def write_failure(exc: OSError, what: str, *, path: str | None = None,
                  offset: int | None = None) -> WriteError:
    """The error for OSError `exc` while writing (`what`: "write failed"): MediaError when the
    medium itself failed (EIO), else WriteError; the message names the next step."""
    kind = MediaError if exc.errno == errno.EIO else WriteError
    return kind(f"{what}: {medium_text(exc)}", path=path, offset=offset)


#: Exit code of commands that ran fine but found problems (check, doctor, linux check).
EXIT_PROBLEMS = 3
#: Exit code of an unexpected internal error (a bug).
EXIT_INTERNAL = 1


def all_error_classes() -> list[type[BcdToolError]]:
    """Every error class, root first; used to document and test the exit-code table."""
    seen: list[type[BcdToolError]] = []
    stack: list[type[BcdToolError]] = [BcdToolError]
    while stack:
        cls = stack.pop(0)
        if cls not in seen:
            seen.append(cls)
            stack.extend(cls.__subclasses__())
    return seen
