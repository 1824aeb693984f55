"""The one choke point where construct parses untrusted bytes; its errors become FormatError."""

from __future__ import annotations

import construct

from bcdtool.errors import FormatError


def parse(struct: construct.Construct, data: bytes | memoryview, *, offset: int = 0,
          what: str = "structure", path: str | None = None) -> construct.Container:
    """Parse `struct` from `data` at `offset`, raising FormatError with context on failure."""
    if offset < 0 or offset > len(data):
        raise FormatError(f"{what} lies outside the data", path=path, offset=offset)
    try:
        return struct.parse(bytes(data[offset:offset + struct.sizeof()]) if _fixed(struct)
                            else bytes(data[offset:]))
    except construct.ConstructError as exc:
        raise FormatError(f"invalid {what}: {_short(exc)}", path=path, offset=offset) from None


def build(struct: construct.Construct, obj: dict, *, what: str = "structure") -> bytes:
    """Build bytes from `obj`; a failure here is a programming error, reported as FormatError."""
    try:
        return struct.build(obj)
    except construct.ConstructError as exc:
        raise FormatError(f"cannot encode {what}: {_short(exc)}") from None


def _fixed(struct: construct.Construct) -> bool:
    try:
        struct.sizeof()
    except construct.SizeofError:
        return False
    return True


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
