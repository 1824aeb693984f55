"""The lazy hive reader: base block, root, keys by path, subkeys, values and their data.

Cells are decoded on access; every pointer is checked against the allocated-cell map of
`cells.py`, every count against the cell that holds it, and walks refuse cycles and depth >= 512.
A dirty hive is recovered from its transaction logs (`logs.recover`) or refused with
DirtyHiveError unless `allow_dirty=True` (forensic reading of the primary as it is).
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import stat
import struct
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from bcdtool.errors import (CorruptionError, DirtyHiveError, FormatError, LimitError,
                            NotFoundError, UnsafePathError, UnsupportedError)
from bcdtool.limits import MAX_HIVE_BYTES, hive_cap
from bcdtool.log import get_logger
from bcdtool.regf import layout_packed as L
from bcdtool.regf import logs as _logs
from bcdtool.regf.checksums import regf_checksum
from bcdtool.regf.cells import NK, SK, VK, CellMap
from bcdtool.regf.values import decode_value, type_name
from bcdtool.wintext import filetime_to_datetime, upcase

log = get_logger(__name__)

#: Windows refuses key trees this deep (regf.md 6.1).
MAX_DEPTH = 512
#: Keys whose decoded nk record stays cached (lookups by path revisit the same keys).
NK_CACHE_SIZE = 4096
#: Keys whose upcased-name -> subkey map stays cached (lookups by name under the same parents).
NAME_MAP_CACHE_SIZE = 64

# Positions of nk/vk fields in the tuples of the fast readers.
_NK_FLAGS = NK.index("flags")
_NK_STAMP = NK.index("last_written_timestamp")
_NK_PARENT = NK.index("parent")
_NK_NSUB = NK.index("number_of_subkeys")
_NK_SUBLIST = NK.index("subkeys_list_offset")
_NK_NVAL = NK.index("number_of_key_values")
_NK_VALLIST = NK.index("key_values_list_offset")
_NK_SK = NK.index("key_security_offset")
_NK_CLASS = NK.index("class_name_offset")
_NK_NAMELEN = NK.index("key_name_length")
_NK_CLASSLEN = NK.index("class_name_length")
_VK_NAMELEN = VK.index("name_length")
_VK_SIZE = VK.index("data_size")
_VK_OFFSET = VK.index("data_offset")
_VK_TYPE = VK.index("data_type")
_VK_FLAGS = VK.index("flags")
_LEAVES = (b"li", b"lf", b"lh")


class Security(NamedTuple):
    """An `sk` record: ring links, reference count and the self-relative security descriptor."""

    offset: int
    flink: int
    blink: int
    reference_count: int
    descriptor: bytes


class Key:
    """A key node (`nk`), decoded on creation; subkeys and values are read when asked for."""

    __slots__ = ("hive", "offset", "parent", "name", "depth", "_f")

    def __init__(self, hive: Hive, offset: int, parent: Key | None, fields: tuple,
                 name: str) -> None:
        self.hive = hive
        self.offset = offset
        self.parent = parent
        self.name = name
        self.depth = 0 if parent is None else parent.depth + 1
        self._f = fields

    def __repr__(self) -> str:
        return f"<Key {self.path or '(root)'!r} at {self.offset:#x}>"

    @property
    def path(self) -> str:
        """Backslash path relative to the root ("" for the root itself)."""
        parts = []
        key: Key | None = self
        while key is not None and key.parent is not None:
            parts.append(key.name)
            key = key.parent
        return "\\".join(reversed(parts))

    @property
    def flags(self) -> int:
        """The nk flags (KEY_COMP_NAME, KEY_HIVE_ENTRY, ...)."""
        return self._f[_NK_FLAGS]

    @property
    def filetime(self) -> int:
        """Last-written time as a raw FILETIME."""
        return self._f[_NK_STAMP]

    @property
    def timestamp(self) -> _dt.datetime | None:
        """Last-written time (UTC), or None when the stored FILETIME is out of range."""
        return filetime_to_datetime(self._f[_NK_STAMP])

    @property
    def parent_offset(self) -> int:
        """The Parent field as stored (meaningless for the root)."""
        return self._f[_NK_PARENT]

    @property
    def subkey_count(self) -> int:
        """Number of stable subkeys recorded in the nk."""
        return self._f[_NK_NSUB]

    @property
    def value_count(self) -> int:
        """Number of values recorded in the nk (0 for predefined-handle keys)."""
        return 0 if self._f[_NK_FLAGS] & L.KEY_PREDEF_HANDLE else self._f[_NK_NVAL]

    @property
    def security_offset(self) -> int:
        """Cell offset of the key's `sk` record."""
        return self._f[_NK_SK]

    @property
    def fields(self) -> dict[str, int | bytes]:
        """Every fixed nk field by its layout name (for validators and editors)."""
        return dict(zip(NK.names, self._f, strict=True))

    @property
    def class_name(self) -> str | None:
        """The class string, or None when the key has none."""
        raw = self.class_raw
        return None if raw is None else raw.decode("utf-16-le", "replace")

    @property
    def class_raw(self) -> bytes | None:
        """The class bytes exactly as stored (UTF-16LE), or None when the key has none."""
        length, offset = self._f[_NK_CLASSLEN], self._f[_NK_CLASS]
        if length == 0 or offset in (L.NIL, 0):
            return None  # Windows resets the length when the offset is NIL
        return self.hive.cells.read(offset, "class name", length)

    def subkeys(self) -> list[Key]:
        """The subkeys in index order (Windows' sorted order in a valid hive)."""
        hive = self.hive
        if self.depth + 1 >= MAX_DEPTH:
            raise CorruptionError(f"key tree deeper than {MAX_DEPTH} levels", offset=self.offset)
        offsets = hive._subkey_offsets(self)
        if len(set(offsets)) != len(offsets):
            raise CorruptionError(f"subkey index of {self!r} lists a key twice",
                                  offset=self.offset)
        return [hive._child(off, self) for off in offsets]

    def subkey(self, name: str) -> Key:
        """The subkey called `name` (Windows case rules); NotFoundError when absent."""
        offset = self.hive._name_map(self.offset).get(upcase(name))
        if offset is None:
            where = "\\".join(p for p in (self.path, name) if p)
            raise NotFoundError("no such key", path=where)
        return self.hive._child(offset, self)

    def values(self) -> list[Value]:
        """The values in list order."""
        hive = self.hive
        return [hive._value(off) for off in hive._value_offsets(self)]

    def value(self, name: str) -> Value:
        """The value called `name` ("" = the default value); NotFoundError when absent."""
        target = upcase(name)
        for value in self.values():
            if upcase(value.name) == target:
                return value
        shown = name or "(default)"
        raise NotFoundError(f"no value {shown!r}", path=self.path or "(root)")


class Value:
    """A key value (`vk`); its data is read only when `raw` or `data` is asked for."""

    __slots__ = ("hive", "offset", "name", "type", "size_field", "data_offset", "flags")

    def __init__(self, hive: Hive, offset: int, name: str, fields: tuple) -> None:
        self.hive = hive
        self.offset = offset
        self.name = name
        self.type = fields[_VK_TYPE]
        self.size_field = fields[_VK_SIZE]
        self.data_offset = fields[_VK_OFFSET]
        self.flags = fields[_VK_FLAGS]

    def __repr__(self) -> str:
        return f"<Value {self.name!r} {self.type_name} at {self.offset:#x}>"

    @property
    def type_name(self) -> str:
        """`REG_SZ`-style name of the type."""
        return type_name(self.type)

    @property
    def size(self) -> int:
        """Length of the data in bytes."""
        return self.size_field & 0x7FFFFFFF

    @property
    def inline(self) -> bool:
        """True when the data lives in the vk's data-offset field."""
        return bool(self.size_field & L.DATA_INLINE)

    @property
    def raw(self) -> bytes:
        """The data bytes exactly as stored."""
        return self.hive._value_data(self)

    @property
    def data(self) -> str | int | list[str] | bytes:
        """The data decoded by type (str, int, list[str] or bytes)."""
        return decode_value(self.type, self.raw)


class Hive:
    """A registry hive image opened for reading."""

    def __init__(self, image: bytes, *, original: bytes, name: str = "", recovered: bool = False,
                 notices: Sequence[str] = (), strict: bool = True, lazy: bool = False,
                 file_size: int | None = None) -> None:
        self.data = image if isinstance(image, bytes) else bytes(image)
        self.original = original
        #: Length of the file holding the hive: `original` is its first `stored_length` bytes
        #: (the rest is slack that was never read; an in-place edit may grow into it).
        self.file_size = len(original) if file_size is None else max(file_size, len(original))
        self.name = name
        self.recovered = recovered
        self.notices = list(notices)
        if len(image) < L.BASE_BLOCK_SIZE:
            raise FormatError("truncated hive: the base block needs 4096 bytes", path=name or None)
        self.header = L.BaseBlock.parse(image, what="regf base block",
                                       path=name or None)
        h = self.header
        if h.major_version != 1 or not 2 <= h.minor_version <= 6:
            raise UnsupportedError(f"regf version {h.major_version}.{h.minor_version} is not "
                                   "supported (1.2 to 1.6 are)", path=name or None)
        if h.file_type != 0:
            raise FormatError(f"file type {h.file_type}: a transaction log, not a primary hive",
                              path=name or None)
        length = h.hive_bins_data_size
        if length == 0 or length % 4096:
            raise CorruptionError(f"hive bins data size {length:#x} is not a positive multiple "
                                  "of 4096", path=name or None, offset=L.BB_HIVE_BINS_DATA_SIZE)
        self.minor_version = h.minor_version
        # lazy: each bin's cells are walked when first read (a verified image, a few keys).
        self.cells = CellMap.lazy(image, length) if lazy else CellMap.scan(image, length)
        problems = self.cells.header_problems if lazy else self.cells.problems
        if strict and problems:
            where, message = problems[0]
            raise CorruptionError(message, path=name or None, offset=where)
        self._nk = functools.lru_cache(maxsize=NK_CACHE_SIZE)(self._decode_nk)
        self._name_map = functools.lru_cache(maxsize=NAME_MAP_CACHE_SIZE)(self._build_name_map)
        self.root_offset = h.root_cell_offset
        fields, root_name = self._nk(self.root_offset, "root key")
        self.root = Key(self, self.root_offset, None, fields, root_name)

    # --- opening ------------------------------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes, *, name: str = "", logs: Sequence[tuple[str, bytes]] = (),
                   allow_dirty: bool = False, strict: bool = True,
                   lazy: bool = False, file_size: int | None = None,
                   max_size: int | None = None) -> Hive:
        """Open a hive image; a dirty one is recovered from `logs` ((name, bytes) pairs, the
        bytes possibly a `logs.LogSource`), to at most `max_size` bytes when given.
        `file_size`: the length of the file when `data` is only its `stored_length` prefix.

        With `lazy`, only the bin headers are walked now and each bin's cells when first read
        (tiling problems then surface when their bin is read, as CorruptionError)."""
        original = bytes(data)
        image, recovered, notices = _recover_if_dirty(original, name, logs, allow_dirty,
                                                      max_size)
        return cls(image, original=original, name=name, recovered=recovered, notices=notices,
                   strict=strict, lazy=lazy, file_size=file_size)

    @classmethod
    def open(cls, path: str | os.PathLike, *, logs: str = "auto", allow_dirty: bool = False,
             strict: bool = True, cap: int = MAX_HIVE_BYTES) -> Hive:
        """Open a hive file the user named; logs="auto" replays NAME.LOG/.LOG1/.LOG2 when it is
        dirty.  The file and its logs are capped at `cap` bytes (LimitError before reading),
        and only its base block and declared bins are read (`stored_length`, at most
        `limits.hive_cap(cap)` bytes)."""
        if logs not in ("auto", "ignore"):
            raise ValueError(f"logs must be 'auto' or 'ignore', not {logs!r}")
        path = Path(path)
        data, size = _read_capped(path, cap)
        log_files: list[tuple[str, bytes]] = []
        if logs == "auto" and len(data) >= 512 and data[:4] == b"regf" and _logs.is_dirty(data):
            log_files = _logs.read_log_files(path, max_size=cap)
        return cls.from_bytes(data, name=str(path), logs=log_files, allow_dirty=allow_dirty,
                              strict=strict, file_size=size, max_size=hive_cap(cap))

    # --- navigation ---------------------------------------------------------------------------
    def key(self, path: str) -> Key:
        """The key at backslash `path` relative to the root (case-insensitive); NotFoundError."""
        key = self.root
        for part in path.split("\\"):
            if part:
                key = key.subkey(part)
        return key

    def walk(self, top: Key | None = None) -> Iterator[Key]:
        """Every key from `top` (default: the root) downwards, depth first, parents first."""
        start = self.root if top is None else top
        visited = {start.offset}
        stack = [start]
        while stack:
            key = stack.pop()
            yield key
            children = key.subkeys()
            for child in children:
                if child.offset in visited:
                    raise CorruptionError(f"key at {child.offset:#x} is reached twice (cycle)",
                                          offset=child.offset)
                visited.add(child.offset)
            stack.extend(reversed(children))

    def security(self, offset: int) -> Security:
        """The `sk` record at cell `offset`."""
        payload = self.cells.payload(offset, "security offset", L.SK_FIXED_SIZE)
        signature, _, flink, blink, refcount, length = SK.unpack_from(payload, 0)
        if signature != b"sk":
            raise CorruptionError(f"security offset {offset:#x} does not point to an sk record",
                                  offset=offset)
        if L.SK_FIXED_SIZE + length > len(payload):
            raise CorruptionError(f"security descriptor of {length} bytes overflows its cell",
                                  offset=offset)
        return Security(offset, flink, blink, refcount,
                        bytes(payload[L.SK_FIXED_SIZE:L.SK_FIXED_SIZE + length]))

    # --- cell decoding (internal, shared with check.py) ---------------------------------------
    def _decode_nk(self, offset: int, what: str) -> tuple[tuple, str]:
        cell_size = self.cells.allocated_size(offset)
        if cell_size is None:
            raise CorruptionError(f"{what} points to {offset:#x}, which is not an allocated cell",
                                  offset=offset)
        start = L.BASE_BLOCK_SIZE + offset + 4
        if cell_size - 4 < L.NK_FIXED_SIZE:
            raise CorruptionError(f"{what} at {offset:#x} is too small for a key node",
                                  offset=offset)
        fields = NK.unpack_from(self.data, start)
        if fields[0] != b"nk":
            raise CorruptionError(f"{what} at {offset:#x} is not a key node (nk)", offset=offset)
        length = fields[_NK_NAMELEN]
        if length == 0 or L.NK_FIXED_SIZE + length > cell_size - 4:
            raise CorruptionError(f"key name of {length} bytes does not fit its cell",
                                  offset=offset)
        raw = self.data[start + L.NK_FIXED_SIZE:start + L.NK_FIXED_SIZE + length]
        if fields[_NK_FLAGS] & L.KEY_COMP_NAME:
            name = raw.decode("latin-1")
        elif length % 2:
            raise CorruptionError("UTF-16 key name has an odd length", offset=offset)
        else:
            name = raw.decode("utf-16-le", "surrogatepass")
        return fields, name

    def _child(self, offset: int, parent: Key) -> Key:
        if offset == self.root_offset:
            raise CorruptionError(f"subkey index of {parent!r} points back to the root (cycle)",
                                  offset=offset)
        fields, name = self._nk(offset, "subkey index entry")
        if fields[_NK_PARENT] != parent.offset:
            raise CorruptionError(f"key {name!r} at {offset:#x} names {fields[_NK_PARENT]:#x} "
                                  f"as its parent, but is listed under {parent.offset:#x}",
                                  offset=offset)
        return Key(self, offset, parent, fields, name)

    def _leaves(self, key: Key) -> list[tuple[int, bytes, bytes, int]]:
        """(offset, signature, payload, count) of each leaf of the key's subkey index."""
        if key.subkey_count == 0:
            return []
        top = key._f[_NK_SUBLIST]
        signature, payload, count = self._list(top, "subkey index")
        if signature in _LEAVES:
            return [(top, signature, payload, count)]
        if signature != b"ri":
            raise CorruptionError(f"subkey index of {key!r} has signature {signature!r}",
                                  offset=top)
        leaves = []
        for leaf in struct.unpack_from(f"<{count}I", payload, 4):
            sig, leaf_payload, leaf_count = self._list(leaf, "index root entry")
            if sig not in _LEAVES:
                raise CorruptionError(f"index root of {key!r} points to a {sig!r} record",
                                      offset=leaf)
            leaves.append((leaf, sig, leaf_payload, leaf_count))
        return leaves

    def _list(self, offset: int, what: str) -> tuple[bytes, bytes, int]:
        payload = self.cells.payload(offset, what, L.LIST_HEADER_SIZE)
        signature = payload[:2]
        (count,) = struct.unpack_from("<H", payload, 2)
        element = L.LEAF_ELEMENT_SIZE.get(signature)
        if element is None:
            raise CorruptionError(f"{what} at {offset:#x} is not a subkey list ({signature!r})",
                                  offset=offset)
        if L.LIST_HEADER_SIZE + count * element > len(payload):
            raise CorruptionError(f"{what} at {offset:#x} claims {count} entries, more than its "
                                  "cell holds", offset=offset)
        return signature, payload, count

    def _subkey_offsets(self, key: Key) -> list[int]:
        offsets: list[int] = []
        for _, signature, payload, count in self._leaves(key):
            if signature == b"li":
                offsets.extend(struct.unpack_from(f"<{count}I", payload, 4))
            else:
                offsets.extend(struct.unpack_from(f"<{2 * count}I", payload, 4)[::2])
        return offsets

    def _build_name_map(self, offset: int) -> dict[str, int]:
        """Upcased subkey name -> offset for the key at `offset` (first wins, like a scan)."""
        fields, name = self._nk(offset, "key")
        key = Key(self, offset, None, fields, name)
        names: dict[str, int] = {}
        for child in self._subkey_offsets(key):
            try:
                _, child_name = self._decode_nk(child, "subkey index entry")
            except CorruptionError:
                continue  # a broken sibling must not hide the others; subkeys() reports it
            names.setdefault(upcase(child_name), child)
        return names

    def _value_offsets(self, key: Key) -> tuple[int, ...]:
        count = key.value_count
        if count == 0:
            return ()
        payload = self.cells.payload(key._f[_NK_VALLIST], "value list", 4 * count)
        return struct.unpack_from(f"<{count}I", payload, 0)

    def _value(self, offset: int) -> Value:
        cell_size = self.cells.allocated_size(offset)
        if cell_size is None:
            raise CorruptionError(f"value list entry points to {offset:#x}, which is not an "
                                  "allocated cell", offset=offset)
        if cell_size - 4 < L.VK_FIXED_SIZE:
            raise CorruptionError(f"value cell at {offset:#x} is too small", offset=offset)
        start = L.BASE_BLOCK_SIZE + offset + 4
        fields = VK.unpack_from(self.data, start)
        if fields[0] != b"vk":
            raise CorruptionError(f"value list entry {offset:#x} is not a vk record",
                                  offset=offset)
        length = fields[_VK_NAMELEN]
        if L.VK_FIXED_SIZE + length > cell_size - 4:
            raise CorruptionError(f"value name of {length} bytes does not fit its cell",
                                  offset=offset)
        raw = self.data[start + L.VK_FIXED_SIZE:start + L.VK_FIXED_SIZE + length]
        if fields[_VK_FLAGS] & L.VALUE_COMP_NAME:
            name = raw.decode("latin-1")
        elif length % 2:
            raise CorruptionError("UTF-16 value name has an odd length", offset=offset)
        else:
            name = raw.decode("utf-16-le", "surrogatepass")
        return Value(self, offset, name, fields)

    def is_big_data(self, size: int) -> bool:
        """True when data of `size` bytes is stored as big data (db) in this hive's version."""
        return self.minor_version >= 4 and size > L.BIG_DATA_SEGMENT_SIZE

    def _value_data(self, value: Value) -> bytes:
        size = value.size
        offset = value.data_offset
        if value.inline:
            if size > 4:
                raise CorruptionError(f"inline data of {size} bytes (at most 4 fit)",
                                      offset=value.offset)
            return offset.to_bytes(4, "little")[:size]
        if size == 0:
            return b""
        what = "value data"
        if self.is_big_data(size):
            if self.cells.read(offset, what, 2) == b"db":
                return self._big_data(offset, size, what)
            # hivex writes big values into one cell; Windows would misread them, check() says so.
        return self.cells.read(offset, what, size)

    def _big_data(self, offset: int, size: int, what: str) -> bytes:
        payload = self.cells.payload(offset, what, 8)
        count, segments_offset = struct.unpack_from("<HI", payload, 2)
        needed = -(-size // L.BIG_DATA_SEGMENT_SIZE)
        if count < needed:
            raise CorruptionError(f"big data of {size} bytes has {count} segments, needs {needed}",
                                  offset=offset)
        segments = struct.unpack_from(f"<{needed}I", self.cells.payload(
            segments_offset, "big data segment list", 4 * count), 0)
        if len(set(segments)) != needed:
            raise CorruptionError("big data uses the same segment twice", offset=offset)
        chunks = []
        left = size
        for segment in segments:
            part = min(left, L.BIG_DATA_SEGMENT_SIZE)
            chunks.append(self.cells.read(segment, "big data segment", part))
            left -= part
        return b"".join(chunks)


def _read_capped(path: Path, cap: int) -> tuple[bytes, int]:
    """(the hive's bytes, the file's size) of regular file `path`, checked against `cap` and
    `hive_cap(cap)` before they are read; never blocks on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFoundError("no such file", path=str(path)) from None
    except OSError as exc:
        raise NotFoundError(f"cannot read: {exc.strerror}", path=str(path)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePathError("not a regular file (a FIFO, device, socket or folder); a hive "
                                  "is read only from a regular file: name the file itself",
                                  path=str(path))
        if info.st_size > cap:
            raise LimitError(f"the file is {info.st_size} bytes, more than the {cap}-byte cap "
                             "for it; it is not read", path=str(path))
        length = stored_length(os.pread(fd, 512, 0), info.st_size,
                               lambda offset, length: os.pread(fd, length, offset))
        if length > hive_cap(cap):
            raise LimitError(f"the hive declares {length} bytes, more than the "
                             f"{hive_cap(cap)}-byte cap for the hive in such a file; it is not "
                             "read", path=str(path))
        return os.pread(fd, length, 0), info.st_size
    except OSError as exc:
        raise NotFoundError(f"cannot read: {exc.strerror}", path=str(path)) from None
    finally:
        os.close(fd)


def stored_length(head: bytes, file_size: int,
                  read: Callable[[int, int], bytes] | None = None) -> int:
    """How many bytes at the start of a hive file of `file_size` bytes hold the hive, given its
    first 512 bytes or more (`head`): the base block and the hive bins it declares.  What follows
    (slack, zero padding up to a size cap) is no part of the hive: it is never read, copied or
    rewritten.  When the base block cannot say (not a regf, a bad checksum, a bins size that is
    not a positive multiple of 4096), the whole file — or, given `read(offset, length)`, up to
    the end of the last hive bin found in it (`hbins_end`), so a damaged base block in front of
    zero padding does not make the padding read; a file shorter than it declares is read as it
    is (the reader reports it).  A dirty hive's intact base block counts: what a write added
    past the size it declares is in the logs (Windows logs every dirty page first)."""
    intact = len(head) >= 512 and head[:4] == b"regf" and regf_checksum(
        head[:L.CHECKSUM_COVERED]) == struct.unpack_from("<I", head, L.BB_CHECKSUM)[0]
    length = struct.unpack_from("<I", head, L.BB_HIVE_BINS_DATA_SIZE)[0] if len(head) >= 512 \
        else 0
    plausible = length and not length % 4096
    if intact and plausible:
        return min(file_size, L.BASE_BLOCK_SIZE + length)
    if read is None or head[:4] != b"regf":
        return file_size
    end = hbins_end(read, file_size)
    if plausible and L.BASE_BLOCK_SIZE + length <= file_size:
        end = max(end, L.BASE_BLOCK_SIZE + length)     # what the damaged block still says
    return end if end > L.BASE_BLOCK_SIZE else file_size


#: hbins_end reads the file this much at a time (every 4 KiB boundary is looked at).
_SCAN = 1 << 20


def hbins_end(read: Callable[[int, int], bytes], file_size: int) -> int:
    """The end (a file offset) of the last hive bin in a hive file: every 4 KiB boundary after
    the base block holding an hbin header whose offset field names that very place and whose
    size fits the file, read `_SCAN` bytes at a time; 0 when there is none."""
    end = 0
    for start in range(L.BASE_BLOCK_SIZE, file_size, _SCAN):
        chunk = read(start, min(_SCAN, file_size - start))
        for at in range(0, len(chunk) - 12 + 1, 4096):
            if chunk[at:at + 4] != b"hbin":
                continue
            offset, size = struct.unpack_from("<II", chunk, at + 4)
            place = start + at
            if offset == place - L.BASE_BLOCK_SIZE and size >= 4096 and not size % 4096 \
                    and place + size <= file_size:
                end = max(end, place + size)
        if len(chunk) < min(_SCAN, file_size - start):
            break
    return end


def _recover_if_dirty(original: bytes, name: str, logs: Sequence[tuple[str, bytes]],
                      allow_dirty: bool, max_size: int | None = None
                      ) -> tuple[bytes, bool, list[str]]:
    """The image to read: the primary, or its log-recovered form when it is dirty."""
    if len(original) < 512 or original[:4] != b"regf":
        raise FormatError("not a registry hive (no 'regf' signature)", path=name or None)
    if not _logs.is_dirty(original):
        return original, False, []
    label = name or "hive"
    if logs:
        try:
            recovery = _logs.recover(original, list(logs), max_size=max_size)
        except DirtyHiveError as exc:
            if not allow_dirty:
                raise
            return original, False, [f"{label}: dirty and not recoverable ({exc}); reading the "
                                     "primary as it is"]
        notice = (f"{label}: dirty hive recovered in memory from {', '.join(recovery.used_logs)} "
                  f"({len(recovery.applied)} log entries replayed)")
        log.info(notice)
        return recovery.data, True, [notice, *recovery.notices]
    if allow_dirty:
        return original, False, [f"{label}: dirty (interrupted write) and no transaction logs; "
                                 "reading the primary as it is"]
    raise DirtyHiveError("the hive is dirty (an interrupted write: sequence numbers differ or "
                         "the checksum is wrong) and no transaction logs were given to replay",
                         path=name or None)
