"""What every commit shares: the ordered byte plan of a new hive image, and its verification."""

from __future__ import annotations

import io

from bcdtool.errors import BcdToolError, VerifyError
from bcdtool.journal import sha256
from bcdtool.regf.commit import commit_steps, finalize
from bcdtool.regf.hive import Hive

PAGE = 512


def plan_commit(original: bytes, new_image: bytes) -> tuple[bytes, list[tuple[int, bytes]]]:
    """The finalized image and its writes in protocol order (a size change rewrites everything)."""
    final = finalize(new_image, original)
    if len(final) != len(original):
        return final, [(0, final)]
    return final, commit_steps(original, final)


def pages_in(steps: list[tuple[int, bytes]]) -> int:
    """Distinct 512-byte pages touched by `steps`."""
    pages: set[int] = set()
    for offset, data in steps:
        pages.update(range(offset // PAGE, (offset + len(data) + PAGE - 1) // PAGE))
    return len(pages)


def verify_image(data: bytes, expected: bytes, *, name: str) -> Hive:
    """Check bytes read back from a target: equal to the plan, clean, valid, python-registry readable."""
    if data != expected:
        raise VerifyError("the store does not read back as written "
                          f"(sha256 {sha256(data)[:16]}, planned {sha256(expected)[:16]})", path=name)
    try:
        hive = Hive.from_bytes(data, name=name)
    except BcdToolError as exc:
        raise VerifyError(f"the written store does not parse: {exc}", path=name) from None
    from bcdtool.regf.check import check

    errors = [f for f in check(hive) if f.severity == "error"]
    if errors:
        raise VerifyError(f"the written store fails validation: {errors[0].message}", path=name,
                          offset=errors[0].offset)
    _compare_with_python_registry(hive, data, name)
    return hive


def _compare_with_python_registry(hive: Hive, data: bytes, name: str) -> None:
    """Walk the tree with python-registry (an independent reader) and compare every key and value."""
    from Registry import Registry

    ours = {}
    for key in hive.walk():
        ours[key.path.lower()] = sorted((v.name.lower(), v.type, v.raw) for v in key.values())
    theirs = {}
    try:
        reg = Registry.Registry(io.BytesIO(data))
        root = reg.root()
        stack = [(root, "")]
        while stack:
            key, path = stack.pop()
            theirs[path.lower()] = sorted((v.name().lower(), v.value_type(), v.raw_data())
                                          for v in key.values())
            if len(theirs) > len(ours):
                break  # python-registry sees keys we do not: no need to walk further
            stack.extend((sub, f"{path}\\{sub.name()}" if path else sub.name())
                         for sub in key.subkeys())
    except Exception as exc:  # python-registry raises its own and plain exceptions on bad data
        raise VerifyError(f"python-registry cannot read the written store: {exc}", path=name) from None
    if ours != theirs:
        missing = sorted(set(ours) ^ set(theirs)) or sorted(k for k in ours if ours[k] != theirs.get(k))
        raise VerifyError(f"python-registry reads the written store differently (at {missing[0]!r})",
                          path=name)
