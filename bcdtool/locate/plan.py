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


def verify_image(data: bytes, expected: bytes, *, original: bytes, planned: Planned | None,
                 name: str) -> Hive:
    """Bytes read back from a target (or, in a dry run, the planned image itself) must equal the
    plan and pass `regf.verify.verify_commit` against the original; returns the hive they hold."""
    if data != expected:
        raise VerifyError("the store does not read back as written "
                          f"(sha256 {sha256(data)[:16]}, planned {sha256(expected)[:16]})", path=name)
    try:
        verify_commit(original, data, planned=planned, name=name)
        return Hive.from_bytes(data, name=name)
    except BcdToolError as exc:
        raise VerifyError(f"the written store does not verify: {exc.message}", path=name) from None
