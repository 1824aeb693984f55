"""What every commit shares: the ordered byte plan of a new hive image, and its verification."""

from __future__ import annotations

from bcdtool.errors import BcdToolError, VerifyError
from bcdtool.journal import sha256
from bcdtool.regf import commit as regf_commit
from bcdtool.regf.hive import Hive
from bcdtool.regf.planned import Planned
from bcdtool.regf.verify import verify_commit

PAGE = 512


def plan_commit(original: bytes, new_image: bytes) -> tuple[bytes, list[tuple[int, bytes]]]:
    """The finalized image and its writes in protocol order (a size change rewrites everything)."""
    final = regf_commit.finalize(new_image, original)
    if len(final) != len(original):
        return final, [(0, final)]
    return final, regf_commit.commit_steps(original, final)


def pages_in(steps: list[tuple[int, bytes]]) -> int:
    """Distinct 512-byte pages touched by `steps`."""
    pages: set[int] = set()
    for offset, data in steps:
        pages.update(range(offset // PAGE, (offset + len(data) + PAGE - 1) // PAGE))
    return len(pages)


def verify_plan(original: bytes, final: bytes, *, planned: Planned | None, name: str) -> None:
    """The planned image must pass `regf.verify.verify_commit` against the original before
    anything is written, and in dry runs (so a dry run that says yes means the write passes)."""
    try:
        verify_commit(original, final, planned=planned, name=name)
    except VerifyError as exc:
        raise VerifyError(f"the planned store does not verify: {exc.message}; nothing was "
                          "written", path=name) from None


def read_back(data: bytes, expected: bytes, *, name: str) -> Hive:
    """Bytes read back from a target must equal the verified plan; returns the hive they hold."""
    if data != expected:
        raise VerifyError("the store does not read back as written (sha256 "
                          f"{sha256(data)[:16]}, planned {sha256(expected)[:16]})", path=name)
    try:
        return Hive.from_bytes(data, name=name)
    except BcdToolError as exc:
        raise VerifyError(f"the written store cannot be read: {exc.message}", path=name) from None
