"""Fixed-size layouts read and written with `struct`, generated from their construct declarations.

Layer: bottom (imports only `errors`).  The layouts every command reads (regf, BCD devices,
partition tables, boot sectors) are declared once with construct in their `*layout.py` module;
`_construct.packed_source` turns each declaration into a `Packed` of the same fields in a
generated `*layout_packed.py` sibling, which is what the code imports.  A test keeps each
generated module current and checks that it parses and builds exactly as construct does.

Why: importing construct costs about a fifth of a read-only command's whole run (issue 12's
start-up goal: `serial-console status` under 0.1 s); the generated modules need only `struct`.
Construct stays the declaration, and the reader of the layouts that only some commands open
(VHD, VHDX, qcow2, VMDK, NTFS, UKI, U-Boot).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence

from bcdtool.errors import FormatError

#: A field: its name (None for padding) and its `struct` code ("I", "16s", "4x"), or for an
#: array of records, (count, the record's `Packed`).
Field = tuple["str | None", "str | tuple[int, Packed]"]


class Record(dict):
    """A parsed layout: a dict of its fields, also readable as attributes (`hdr.my_lba`), like
    construct's `Container`."""

    __slots__ = ()

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class Packed:
    """One fixed-size little-endian layout: parse bytes into a `Record`, build bytes from a dict.

    Errors are construct's, as `_construct.parse`/`build` report them: a short buffer or a
    constant that does not match is a `FormatError` naming `what`.
    """

    def __init__(self, name: str, fields: Sequence[Field], *,
                 consts: dict[str, bytes | int] | None = None) -> None:
        self.name = name
        self.fields = tuple(fields)
        self.consts = dict(consts or {})
        self._struct = struct.Struct("<" + self._codes())
        self.size = self._struct.size
        #: The fields `unpack_from` returns, in order (flat layouts: the named fields).
        self.names = tuple(name for name, code in self.fields if name is not None)

    def _codes(self) -> str:
        return "".join(code if isinstance(code, str) else code[1]._codes() * code[0]
                       for _, code in self.fields)

    def sizeof(self) -> int:
        """The layout's size in bytes (construct's name for it)."""
        return self.size

    def parse(self, data: bytes | bytearray | memoryview | Sequence, *, offset: int = 0,
              what: str = "structure", path: str | None = None) -> Record:
        """Parse the layout from `data` at `offset`.

        Raises:
            FormatError: when `data` is too short there or a constant field does not match.
        """
        if offset < 0 or offset > len(data):
            raise FormatError(f"{what} lies outside the data", path=path, offset=offset)
        if len(data) - offset < self.size:
            raise FormatError(f"invalid {what}: stream read less than specified amount, expected "
                              f"{self.size}, found {len(data) - offset}", path=path, offset=offset)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            # a sliceable source that reads on demand (a log file: regf.logs.LogSource)
            data, offset = bytes(data[offset:offset + self.size]), 0
        values = iter(self._struct.unpack_from(data, offset))
        record = self._record(values)
        for name, expected in self.consts.items():
            if record[name] != expected:
                raise FormatError(f"invalid {what}: parsing expected {expected!r} but parsed "
                                  f"{record[name]!r}", path=path, offset=offset)
        return record

    def unpack_from(self, data: bytes | bytearray | memoryview, offset: int = 0) -> tuple:
        """The raw field values at `offset`, in order, unchecked: for the hive's hot records
        (nk, vk, sk, bin headers), whose readers bound-check the cell first and check what they
        use.  Raises `struct.error` on short data."""
        return self._struct.unpack_from(data, offset)

    def index(self, name: str) -> int:
        """Position of field `name` in the tuples `unpack_from` returns (flat layouts)."""
        return self.names.index(name)

    def _record(self, values: Iterator) -> Record:
        record = Record()
        for name, code in self.fields:
            if isinstance(code, str):
                if name is not None:
                    record[name] = next(values)
            else:
                record[name] = [code[1]._record(values) for _ in range(code[0])]
        return record

    def build(self, obj: dict, *, what: str = "structure") -> bytes:
        """The layout's bytes for the field values in `obj` (constants may be left out).

        Raises:
            FormatError: when a field is missing, of the wrong size or out of range.
        """
        try:
            return self._struct.pack(*self._flat(obj, what))
        except struct.error as exc:
            raise FormatError(f"cannot encode {what}: {exc}") from None

    def _flat(self, obj: dict, what: str) -> list:
        flat: list = []
        for name, code in self.fields:
            if name is None:
                continue
            if name not in obj and name not in self.consts:
                raise FormatError(f"cannot encode {what}: no value for {name}")
            value = obj.get(name)
            if value is None and name in self.consts:
                value = self.consts[name]  # as construct's Const: left out or None builds it
            if name in self.consts and value != self.consts[name]:
                raise FormatError(f"cannot encode {what}: building expected "
                                  f"{self.consts[name]!r} but got {value!r} for {name}")
            if isinstance(code, tuple):
                count, sub = code
                if len(value) != count:
                    raise FormatError(f"cannot encode {what}: {name} needs {count} items")
                for item in value:
                    flat += sub._flat(item, what)
            elif code.endswith("s") and (not isinstance(value, (bytes, bytearray))
                                         or len(value) != int(code[:-1])):
                # struct pads or cuts a bytes field silently; construct refuses, and so do we
                raise FormatError(f"cannot encode {what}: {name} needs {code[:-1]} bytes")
            else:
                flat.append(value)
        return flat

    def __repr__(self) -> str:
        return f"Packed({self.name!r}, {self.size} bytes)"
