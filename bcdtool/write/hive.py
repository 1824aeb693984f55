"""Committing a new hive image to its store through a sink: the regf commit protocol's plan (dirty
base block, changed pages, clean base block; stale logs neutralised first), the one call to the
hive verification, and the transaction that does the rest.

Hive content is verified in one place, `regf.verify.verify_commit`, called here on the planned
image before anything is written (and in dry runs, so a dry run that says yes means the write
is accepted); `verify_store` then checks that every sink's store reads back as those bytes.
"""

from __future__ import annotations

import posixpath

from bcdtool.errors import BcdToolError, UnsafePathError, UnsupportedError, VerifyError
from bcdtool.regf import commit as regf_commit
from bcdtool.regf.hive import Hive
from bcdtool.regf.planned import Planned
from bcdtool.regf.verify import verify_commit
from bcdtool.write.journal import sha256
from bcdtool.write.result import WriteResult
from bcdtool.write.transaction import Audit, Step, Transaction

PAGE = 512


def plan_commit(original: bytes, new_image: bytes) -> tuple[bytes, list[tuple[int, bytes]]]:
    """The finalized image and its in-place writes in protocol order (a file that changes size
    gets its new tail written and is cut or extended with the final base block)."""
    final = regf_commit.finalize(new_image, original)
    return final, regf_commit.commit_steps(original, final)


def pages_in(steps: list[tuple[int, bytes]]) -> int:
    """Distinct 512-byte pages touched by `steps`."""
    pages: set[int] = set()
    for offset, data in steps:
        pages.update(range(offset // PAGE, (offset + len(data) + PAGE - 1) // PAGE))
    return len(pages)


def verify_plan(original: bytes, final: bytes, planned: Planned | None, *, name: str) -> None:
    """The planned image must pass the hive verification (`regf.verify.verify_commit`: our reader
    and validator, the original plus the planned edits and nothing else, independent readers)."""
    try:
        verify_commit(original, final, planned=planned, name=name)
    except VerifyError as exc:
        raise VerifyError(f"the planned store does not verify: {exc.message}; nothing was "
                          "written", path=name) from None


def verify_store(data: bytes | None, expected: bytes, *, name: str) -> Hive:
    """Bytes read back from a target must equal the verified plan; returns the hive they hold."""
    if data != expected:
        got = sha256(data)[:16] if data is not None else "no file"
        raise VerifyError("the store does not read back as written "
                          f"(sha256 {got}, planned {sha256(expected)[:16]})", path=name)
    try:
        # The bytes are the verified plan's: each bin's cells are walked when first read.
        return Hive.from_bytes(data, name=name, lazy=True)
    except BcdToolError as exc:
        raise VerifyError(f"the written store cannot be read: {exc.message}", path=name) from None


def commit_hive(sink, *, store: str, logs: list[str], original: bytes, new_image: bytes,
                same_size: bool, dry_run: bool, backup_dir, operation: str, diff: list | None,
                audit: Audit | None = None, name: str | None = None,
                planned: Planned | None = None) -> tuple[WriteResult, Hive | None]:
    """Write `new_image` over `store` (whose content was `original`) through `sink`;
    `planned` is the editor's record of the edits (`HiveEditor.planned`)."""
    name = name or f"{sink.target}:{store}"
    if same_size and len(new_image) != len(original):
        raise UnsupportedError(
            f"the edited store is {len(new_image)} bytes but its file on the disk is "
            f"{len(original)}: inside disks bcdtool writes in place and keeps a file's exact "
            "size (so no filesystem metadata changes); nothing was written", path=sink.target)
    final, steps = plan_commit(original, new_image)
    verify_plan(original, final, planned, name=name)
    stale = _stale_logs(sink, logs)
    result = WriteResult(target=sink.target, dry_run=dry_run, size=len(final),
                         sha256_before=sha256(original), sha256_after=sha256(final),
                         plan=[(off, len(data)) for off, data in steps],
                         pages_written=pages_in(steps) + len(stale),
                         bytes_written=sum(len(d) for _, d in steps)
                         + sum(len(head) for _, head in stale))
    if len(final) != len(original):
        result.notices.append(f"the file changes size ({len(original)} -> {len(final)} bytes)")
    # Commit protocol order, with a flush between phases: stale log headers zeroed, base block
    # with Sequence1 bumped, the changed pages, then the final base block (and the final size).
    size = len(final) if len(final) != len(original) else None
    phases = [[Step(log, bytes(len(head)), offset=0) for log, head in stale],
              [Step(store, steps[0][1], offset=steps[0][0])],
              [Step(store, data, offset=off) for off, data in steps[1:-1]],
              [Step(store, steps[-1][1], offset=steps[-1][0], size=size)]]
    ranges = getattr(sink, "device_ranges", None)
    if ranges is not None:
        result.device_writes = [r for phase in phases for step in phase
                                for r in ranges(step.file, step.offset, len(step.data))]
    if stale:
        result.notices.append("makes stale transaction logs harmless (first 512 bytes zeroed): "
                              + ", ".join(log for log, _ in stale))
    transaction = Transaction(sink, operation=operation, backup_dir=backup_dir, diff=diff,
                              audit_info=audit)
    if dry_run:
        result.pages_written = result.bytes_written = 0
        refused = transaction.refusal(phases)     # the real run's question, and its answer
        if refused is not None:
            raise refused
        return result, None
    hive, _ = transaction.run(
        phases,
        originals={store: original},
        verify=lambda fresh: verify_store(fresh.read(store), final, name=name),
        result=result,
        extra={"size": len(original), "store": store},
    )
    return result, hive


def _stale_logs(sink, logs: list[str]) -> list[tuple[str, bytes]]:
    """Logs whose base block is not all zeros (they could be replayed later): (name, head).
    A log that is a symlink or special file refuses the write: it is never followed."""
    stale = []
    for log in logs:
        kind = sink.entry_kind(log) if hasattr(sink, "entry_kind") else "file"
        if kind not in (None, "file"):
            raise UnsafePathError(
                f"{posixpath.basename(log)} beside the store is a "
                f"{'symbolic link' if kind == 'link' else 'special file'}; bcdtool never follows "
                "or writes it: delete it (the store does not need it) and run the command again; "
                "nothing was written", path=f"{sink.target}:{log}")
        if kind is None:
            continue
        head = sink.read_range(log, 0, PAGE)
        if any(head):
            stale.append((log, head))
    return stale
