"""The one choke point where construct parses untrusted bytes; its errors become FormatError.

The layouts every command reads run as generated `struct` forms instead (bcdtool/packed.py);
this parses the layouts of the inputs only some commands open (image formats, NTFS, UKI, U-Boot).
"""

from __future__ import annotations

import functools

import construct

from bcdtool.errors import FormatError


def parse(struct: construct.Construct, data: bytes | memoryview, *, offset: int = 0,
          what: str = "structure", path: str | None = None) -> construct.Container:
    """Parse `struct` from `data` at `offset`, raising FormatError with context on failure."""
    if offset < 0 or offset > len(data):
        raise FormatError(f"{what} lies outside the data", path=path, offset=offset)
    size = _fixed_size(struct)
    try:
        return struct.parse(bytes(data[offset:offset + size]) if size is not None
                            else bytes(data[offset:]))
    except construct.ConstructError as exc:
        raise FormatError(f"invalid {what}: {_short(exc)}", path=path, offset=offset) from None


def build(struct: construct.Construct, obj: dict, *, what: str = "structure") -> bytes:
    """Build bytes from `obj`; a failure here is a programming error, reported as FormatError."""
    try:
        return struct.build(obj)
    except construct.ConstructError as exc:
        raise FormatError(f"cannot encode {what}: {_short(exc)}") from None


@functools.lru_cache(maxsize=256)
def _fixed_size(struct: construct.Construct) -> int | None:
    """The byte size of a fixed-size layout, else None; cached per layout (they are module
    constants), as construct walks every field to compute it and a GPT parses 128 entries."""
    try:
        return struct.sizeof()
    except construct.SizeofError:
        return None


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
