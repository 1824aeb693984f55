"""Hive editor: add/delete keys and values on a private copy of a hive image, then emit bytes.

Layer: regf.  Follows the recipes of ../shared/reference/regf.md §11 (editing), §5 (record
rules), §4 (cells, through `alloc.CellAllocator`).  Every public operation runs on a snapshot:
if it raises, the image and the allocator return to their state before the call.  The base
block's sequence numbers are left for `commit.finalize`; `to_bytes` only refreshes the checksum
so the image is a valid hive on its own.

`to_bytes(same_size=True)` serves in-place writes inside filesystems: when the edited hive no
longer fits the original file, `_Compactor` re-lays every key and value out tightly (names,
classes, timestamps, flags, security descriptors, value order and types kept) and the result is
padded with free space to the original length, or `HiveSpaceError` says it cannot fit.
"""

from __future__ import annotations

import contextlib
import struct
import uuid
from collections.abc import Iterator

from bcdtool.errors import (CorruptionError, DirtyHiveError, HiveSpaceError,
                            InvalidArgumentError, NotFoundError)
from bcdtool.regf import layout_packed as L
from bcdtool.regf.alloc import CellAllocator
from bcdtool.regf.checksums import regf_checksum
from bcdtool.regf.logs import is_dirty
from bcdtool.regf.hive import Hive
from bcdtool.regf.planned import (CREATE_KEY, DELETE_KEY, DELETE_VALUE, SET_VALUE, Change,
                                  Planned)
from bcdtool.wintext import (decode_name, encode_name, filetime_now, lf_hint, lh_hash,
                             name_sort_key, utf16_length, utf16_units)


_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
B = L.BASE_BLOCK_SIZE
NIL = L.NIL
#: Entries per subkey leaf before it is split (Windows: CmpMaxIndexPerHblock, about 1012).
LEAF_MAX = 1012
MAX_DEPTH = 512
MAX_KEY_NAME = 255
MAX_VALUE_NAME = 16383
LEAF_SIGNATURES = (b"li", b"lf", b"lh")
BB_ROOT_CELL = 36


def _security_descriptor() -> bytes:
    """A self-relative SD: owner Administrators, group SYSTEM, DACL giving both full control."""
    admins = bytes.fromhex("01020000000000052000000020020000")   # S-1-5-32-544
    system = bytes.fromhex("010100000000000512000000")           # S-1-5-18
    aces = b""
    for sid in (admins, system):
        # ACCESS_ALLOWED_ACE, CONTAINER_INHERIT_ACE, KEY_ALL_ACCESS (0xF003F)
        aces += struct.pack("<BBHI", 0, 0x02, 8 + len(sid), 0xF003F) + sid
    dacl = struct.pack("<BBHHH", 2, 0, 8 + len(aces), 2, 0) + aces
    header_size = 20
    owner_at = header_size + len(dacl)
    group_at = owner_at + len(admins)
    # revision 1, control SE_SELF_RELATIVE | SE_DACL_PRESENT
    header = struct.pack("<BBHIIII", 1, 0, 0x8004, owner_at, group_at, 0, header_size)
    return header + dacl + admins + system


class HiveEditor:
    """Staged edits of one hive image; `to_bytes()` gives the new image.

    Paths are backslash-separated, relative to the root and case-insensitive the Windows way;
    value name "" is the default value.  Invalid names raise InvalidArgumentError, missing keys
    or values NotFoundError, broken input CorruptionError, always with nothing changed.
    """

    def __init__(self, hive: Hive):
        if not getattr(hive, "recovered", False) and is_dirty(hive.data):
            raise DirtyHiveError("the hive is dirty and its transaction logs were not replayed; "
                                 "open it with its logs before editing")
        original = getattr(hive, "original", None)
        self._setup(hive.data, len(original) if original is not None else len(hive.data),
                    hive, room=getattr(hive, "file_size", None))

    @classmethod
    def from_bytes(cls, data: bytes) -> HiveEditor:
        """An editor over a clean hive image given as bytes."""
        if is_dirty(data):
            raise DirtyHiveError("the hive is dirty; replay its transaction logs first")
        editor = cls.__new__(cls)
        editor._setup(bytes(data), len(data))
        return editor

    def _setup(self, data: bytes, original_size: int, hive: Hive | None = None, *,
               room: int | None = None) -> None:
        if len(data) < B + 4096 or data[:4] != b"regf":
            raise CorruptionError("not a regf hive image (too small or bad signature)")
        self._buf = bytearray(data)
        self._original = data
        self._original_size = original_size
        # An image kept the same size may still grow into the file's slack after the hive.
        self._room = max(room or 0, original_size)
        self._original_length = _U32.unpack_from(data, L.BB_HIVE_BINS_DATA_SIZE)[0]
        # The reader already walked these cells: its map saves the allocator a second scan.
        same = hive is not None and hive.data is data
        self._base_hive = hive if same else None
        self._alloc = CellAllocator(self._buf, hive.cells if same else None)
        self._minor = _U32.unpack_from(data, L.BB_MINOR_VERSION)[0]
        self._root = _U32.unpack_from(data, BB_ROOT_CELL)[0]
        self._poisoned = False
        self._compacted = False
        self._changes: list[Change] = []
        self._names: dict[int, bytes] = {}
        self._nk(self._root)
        if not self._flags(self._root) & L.KEY_HIVE_ENTRY:
            raise CorruptionError("root key lacks KEY_HIVE_ENTRY", offset=self._root)

    @classmethod
    def new(cls, minor: int = 5, name: str = "", *, root_name: str = "ROOT") -> HiveEditor:
        """A brand-new empty hive: base block, one hbin, root nk at 0x20 and one sk."""
        if minor not in (3, 4, 5, 6):
            raise InvalidArgumentError(f"unsupported hive minor version {minor}")
        _check_key_name(root_name)
        buf = bytearray(B + 4096)
        now = filetime_now()
        # Windows gives each new hive fresh KTM resource-manager and transaction-manager GUIDs.
        rm_id, tm_id = uuid.uuid4().bytes_le, uuid.uuid4().bytes_le
        base = {"signature": b"regf", "primary_sequence_number": 1,
                "secondary_sequence_number": 1, "last_written_timestamp": now,
                "major_version": 1, "minor_version": minor, "file_type": 0, "file_format": 1,
                "root_cell_offset": 0x20, "hive_bins_data_size": 4096, "clustering_factor": 1,
                "file_name": name[-31:].encode("utf-16-le", "surrogatepass").ljust(64, b"\0"),
                "rm_id": rm_id, "log_id": rm_id, "flags": 0, "tm_id": tm_id,
                "guid_signature": b"rmtm", "last_reorganized_timestamp": 0,
                "reserved": bytes(L.CHECKSUM_COVERED - 176), "checksum": 0,
                "reserved2": bytes(3528), "thaw_tm_id": bytes(16), "thaw_rm_id": bytes(16),
                "thaw_log_id": bytes(16), "boot_type": 0, "boot_recover": 0}
        buf[:B] = L.BaseBlock.build(base)
        builder = cls._blank(buf, minor)
        _U64.pack_into(buf, B + 0x14, now)     # the first bin backs up the base block's stamp
        root = builder._new_nk(root_name, parent=0, now=now, sk=NIL)
        if root != 0x20:
            raise CorruptionError("new hive: root key not at 0x20")
        builder._w16(root, L.NK_FLAGS,
                     builder._flags(root) | L.KEY_HIVE_ENTRY | L.KEY_NO_DELETE)
        sd = _security_descriptor()
        sk = builder._alloc.alloc(L.SK_FIXED_SIZE + len(sd))
        p = builder._pos(sk)
        buf[p:p + L.SK_FIXED_SIZE + len(sd)] = L.KeySecurity.build(dict(
            reserved=0, flink=sk, blink=sk, reference_count=1,
            security_descriptor_size=len(sd)), what="sk record") + sd
        builder._w32(root, L.NK_SECURITY, sk)
        return cls.from_bytes(_with_checksum(buf))

    @classmethod
    def _blank(cls, buf: bytearray, minor: int) -> HiveEditor:
        """A bare editor over a base block and one empty bin, for building images from scratch."""
        buf[B:B + 4] = b"hbin"
        struct.pack_into("<II", buf, B + 4, 0, 4096)
        struct.pack_into("<I", buf, L.BB_HIVE_BINS_DATA_SIZE, 4096)
        struct.pack_into("<i", buf, B + 0x20, 4096 - 0x20)     # one free cell: the whole bin
        del buf[B + 4096:]
        editor = cls.__new__(cls)
        editor._buf = buf
        editor._alloc = CellAllocator(buf)
        editor._minor = minor
        editor._base_hive = None
        editor._names = {}
        return editor

    # --- raw access -------------------------------------------------------------------------
    def _pos(self, off: int) -> int:
        return B + off + 4

    def _cell(self, off: int, sig: bytes | None = None, need: int = 0) -> int:
        """Buffer position of the data of the allocated cell at `off`, checked."""
        size = self._alloc.size(off)
        if need + 4 > size:
            raise CorruptionError("record does not fit its cell", offset=off)
        p = B + off + 4
        if sig is not None and self._buf[p:p + 2] != sig:
            raise CorruptionError(f"{sig.decode()} record expected", offset=off)
        return p

    def _r16(self, off: int, field: int) -> int:
        return _U16.unpack_from(self._buf, B + off + 4 + field)[0]

    def _r32(self, off: int, field: int) -> int:
        return _U32.unpack_from(self._buf, B + off + 4 + field)[0]

    def _w16(self, off: int, field: int, value: int) -> None:
        _U16.pack_into(self._buf, B + off + 4 + field, value)

    def _w32(self, off: int, field: int, value: int) -> None:
        _U32.pack_into(self._buf, B + off + 4 + field, value)

    def _raise32(self, off: int, field: int, value: int) -> None:
        if value > self._r32(off, field):
            self._w32(off, field, value)

    # --- keys -------------------------------------------------------------------------------
    def _nk(self, off: int) -> int:
        p = self._cell(off, b"nk", L.NK_FIXED_SIZE)
        name_len = self._r16(off, L.NK_KEY_NAME_LENGTH)
        if name_len == 0:
            raise CorruptionError("key with an empty name", offset=off)
        self._cell(off, None, L.NK_FIXED_SIZE + name_len)
        return p

    def _flags(self, off: int) -> int:
        return self._r16(off, L.NK_FLAGS)

    def _key_name(self, off: int) -> str:
        p = self._nk(off)
        n = self._r16(off, L.NK_KEY_NAME_LENGTH)
        raw = bytes(self._buf[p + L.NK_FIXED_SIZE:p + L.NK_FIXED_SIZE + n])
        return decode_name(raw, bool(self._flags(off) & L.KEY_COMP_NAME))

    def _sort_key(self, off: int) -> bytes:
        key = self._names.get(off)
        if key is None:
            key = self._names[off] = name_sort_key(self._key_name(off))
        return key

    def _list(self, off: int, sig: bytes | None, count: int, width: int) -> list[bytes]:
        """The `count` elements (each `width` bytes) of a list cell, bounds-checked."""
        head = 4 if sig is not None else 0
        p = self._cell(off, sig, head + count * width)
        raw = bytes(self._buf[p + head:p + head + count * width])
        return [raw[i:i + width] for i in range(0, count * width, width)]

    def _leaves(self, nk: int) -> tuple[int | None, list[int]]:
        """(ri offset or None, leaf offsets) of a key's subkey index."""
        if self._r32(nk, L.NK_NUMBER_OF_SUBKEYS) == 0:
            return None, []
        idx = self._r32(nk, L.NK_SUBKEYS_LIST)
        p = self._cell(idx, None, 4)
        sig = bytes(self._buf[p:p + 2])
        if sig in LEAF_SIGNATURES:
            return None, [idx]
        if sig != b"ri":
            raise CorruptionError("unknown subkey index signature", offset=idx)
        count = _U16.unpack_from(self._buf, p + 2)[0]
        leaves = [_U32.unpack_from(e)[0] for e in self._list(idx, b"ri", count, 4)]
        for leaf in leaves:
            q = self._cell(leaf, None, 4)
            if bytes(self._buf[q:q + 2]) not in LEAF_SIGNATURES:
                raise CorruptionError("index root entry is not a leaf", offset=leaf)
        return idx, leaves

    def _leaf(self, leaf: int) -> tuple[bytes, bytes, int]:
        """(signature, raw elements, element width) of a leaf."""
        p = self._cell(leaf, None, 4)
        sig = bytes(self._buf[p:p + 2])
        count = _U16.unpack_from(self._buf, p + 2)[0]
        width = L.LEAF_ELEMENT_SIZE[sig]
        self._cell(leaf, None, 4 + count * width)
        return sig, bytes(self._buf[p + 4:p + 4 + count * width]), width

    def _children(self, nk: int) -> list[int]:
        """Offsets of a key's subkeys in index order."""
        _, leaves = self._leaves(nk)
        result = []
        for leaf in leaves:
            p = self._cell(leaf, None, 4)
            width = L.LEAF_ELEMENT_SIZE[bytes(self._buf[p:p + 2])]
            count = _U16.unpack_from(self._buf, p + 2)[0]
            self._cell(leaf, None, 4 + count * width)
            result.extend(struct.unpack_from(f"<{count * width // 4}I", self._buf, p + 4)
                          [::width // 4])
        if len(result) != self._r32(nk, L.NK_NUMBER_OF_SUBKEYS):
            raise CorruptionError("subkey count differs from the subkey index", offset=nk)
        return result

    def _find_child(self, nk: int, name: str) -> tuple[int, int | None]:
        """(insert position, child offset or None) for `name` among a key's subkeys."""
        children = self._children(nk)
        want = name_sort_key(name)
        lo, hi = 0, len(children)
        while lo < hi:
            mid = (lo + hi) // 2
            key = self._sort_key(children[mid])
            if key == want:
                return mid, children[mid]
            if key < want:
                lo = mid + 1
            else:
                hi = mid
        return lo, None

    def _resolve(self, path: str) -> list[int]:
        """The chain of key offsets from the root to `path` (NotFoundError if missing)."""
        chain = [self._root]
        for part in _split_path(path):
            _, child = self._find_child(chain[-1], part)
            if child is None:
                raise NotFoundError("no such key", path=path)
            self._nk(child)
            chain.append(child)
        return chain

    def _element(self, sig: bytes, child: int, name: str) -> bytes:
        if sig == b"lh":
            return struct.pack("<II", child, lh_hash(name))
        if sig == b"lf":
            return struct.pack("<I", child) + lf_hint(name)
        return struct.pack("<I", child)

    def _write_list(self, old: int | None, sig: bytes | None, body: bytes, count: int = 0) -> int:
        """Store a list cell (in place when it fits, else in a new cell); returns its offset.

        `body` holds the elements; `count` goes into the header of signed lists.
        """
        if sig is not None:
            body = sig + _U16.pack(count) + body
        if old is not None and self._alloc.size(old) - 4 >= len(body):
            p = self._pos(old)
            end = B + old + self._alloc.size(old)
            self._buf[p:end] = body + bytes(end - p - len(body))
            return old
        # A list that outgrows its cell gets half again its size in spare room, as Windows
        # does, so that adding n entries one by one costs O(log n) moves, not O(n).
        new = self._alloc.alloc(len(body), spare=len(body) // 2 if old is not None else 0)
        p = self._pos(new)
        self._buf[p:p + len(body)] = body
        if old is not None:
            self._alloc.free_cell(old)
        return new

    def _new_nk(self, name: str, *, parent: int, now: int, sk: int) -> int:
        raw, compressed = encode_name(name)
        off = self._alloc.alloc(L.NK_FIXED_SIZE + len(raw))
        p = self._pos(off)
        self._buf[p:p + L.NK_FIXED_SIZE + len(raw)] = L.KeyNode.build(dict(
            flags=L.KEY_COMP_NAME if compressed else 0, last_written_timestamp=now,
            access_bits=0, parent=parent, number_of_subkeys=0, number_of_volatile_subkeys=0,
            subkeys_list_offset=NIL, volatile_subkeys_list_offset=NIL, number_of_key_values=0,
            key_values_list_offset=NIL, key_security_offset=sk, class_name_offset=NIL,
            largest_subkey_name_length=0, user_virtualization_flags=0, debug=0,
            largest_subkey_class_name_length=0, largest_value_name_length=0,
            largest_value_data_size=0, workvar=0, key_name_length=len(raw),
            class_name_length=0), what="nk record") + raw
        return off

    def _add_subkey(self, parent: int, pos: int, name: str, now: int) -> int:
        sk = self._r32(parent, L.NK_SECURITY)
        self._cell(sk, b"sk", L.SK_FIXED_SIZE)
        child = self._new_nk(name, parent=parent, now=now, sk=sk)
        self._w32(sk, L.SK_REFERENCE_COUNT, self._r32(sk, L.SK_REFERENCE_COUNT) + 1)
        self._index_insert(parent, pos, child, name)
        self._w32(parent, L.NK_NUMBER_OF_SUBKEYS, self._r32(parent, L.NK_NUMBER_OF_SUBKEYS) + 1)
        if utf16_length(name) > self._r16(parent, L.NK_LARGEST_SUBKEY_NAME):
            self._w16(parent, L.NK_LARGEST_SUBKEY_NAME, utf16_length(name))
        _U64.pack_into(self._buf, self._pos(parent) + L.NK_LAST_WRITTEN, now)
        return child

    def _index_insert(self, parent: int, pos: int, child: int, name: str) -> None:
        ri, leaves = self._leaves(parent)
        if not leaves:
            sig = b"lh" if self._minor >= 5 else b"lf"
            leaf = self._write_list(None, sig, self._element(sig, child, name), 1)
            self._w32(parent, L.NK_SUBKEYS_LIST, leaf)
            return
        start = 0
        for i, leaf in enumerate(leaves):
            sig, raw, width = self._leaf(leaf)
            if pos < start + len(raw) // width or i == len(leaves) - 1:
                break
            start += len(raw) // width
        at = (pos - start) * width
        raw = raw[:at] + self._element(sig, child, name) + raw[at:]
        count = len(raw) // width
        if count <= LEAF_MAX:
            new_leaves = [self._write_list(leaf, sig, raw, count)]
        else:
            half = count // 2
            new_leaves = [self._write_list(None, sig, raw[:half * width], half),
                          self._write_list(None, sig, raw[half * width:], count - half)]
            self._alloc.free_cell(leaf)
        if new_leaves == [leaf]:
            return
        if ri is None and len(new_leaves) == 1:
            self._w32(parent, L.NK_SUBKEYS_LIST, new_leaves[0])
            return
        leaves[i:i + 1] = new_leaves
        new_ri = self._write_list(ri, b"ri", _pack(leaves), len(leaves))
        self._w32(parent, L.NK_SUBKEYS_LIST, new_ri)

    def _index_remove(self, parent: int, child: int) -> None:
        ri, leaves = self._leaves(parent)
        for i, leaf in enumerate(leaves):
            sig, raw, width = self._leaf(leaf)
            offsets = struct.unpack(f"<{len(raw) // 4}I", raw)[::width // 4]
            if child not in offsets:
                continue
            at = offsets.index(child) * width
            raw = raw[:at] + raw[at + width:]
            if raw:
                self._write_list(leaf, sig, raw, len(raw) // width)
            else:
                self._alloc.free_cell(leaf)
                del leaves[i]
                if ri is not None and leaves:
                    self._write_list(ri, b"ri", _pack(leaves), len(leaves))
                elif ri is not None:
                    self._alloc.free_cell(ri)
            break
        else:
            raise CorruptionError("key missing from its parent's subkey index", offset=child)
        count = self._r32(parent, L.NK_NUMBER_OF_SUBKEYS) - 1
        self._w32(parent, L.NK_NUMBER_OF_SUBKEYS, count)
        if count == 0:
            self._w32(parent, L.NK_SUBKEYS_LIST, NIL)
            self._w16(parent, L.NK_LARGEST_SUBKEY_NAME, 0)
            self._w32(parent, L.NK_LARGEST_SUBKEY_CLASS, 0)

    def _release_sk(self, sk: int) -> None:
        self._cell(sk, b"sk", L.SK_FIXED_SIZE)
        refs = self._r32(sk, L.SK_REFERENCE_COUNT)
        if refs == 0:
            raise CorruptionError("security record reference count underflow", offset=sk)
        self._w32(sk, L.SK_REFERENCE_COUNT, refs - 1)
        if refs > 1 or sk == self._r32(self._root, L.NK_SECURITY):
            return
        flink, blink = self._r32(sk, L.SK_FLINK), self._r32(sk, L.SK_BLINK)
        self._cell(flink, b"sk", L.SK_FIXED_SIZE)
        self._cell(blink, b"sk", L.SK_FIXED_SIZE)
        self._w32(blink, L.SK_FLINK, flink)
        self._w32(flink, L.SK_BLINK, blink)
        self._alloc.free_cell(sk)

    def _free_key(self, nk: int) -> None:
        """Free one key's own cells (values, security ref, class, index, nk)."""
        for vk in self._values(nk):
            self._free_data(vk)
            self._alloc.free_cell(vk)
        if self._r32(nk, L.NK_NUMBER_OF_VALUES):
            self._alloc.free_cell(self._r32(nk, L.NK_VALUES_LIST))
        self._release_sk(self._r32(nk, L.NK_SECURITY))
        cls = self._r32(nk, L.NK_CLASS_NAME)
        if self._r16(nk, L.NK_CLASS_NAME_LENGTH) and cls in self._alloc.allocated:
            self._alloc.free_cell(cls)
        ri, leaves = self._leaves(nk)
        for cell in leaves + ([ri] if ri is not None else []):
            self._alloc.free_cell(cell)
        self._names.pop(nk, None)
        self._alloc.free_cell(nk)

    # --- values -----------------------------------------------------------------------------
    def _values(self, nk: int) -> list[int]:
        count = self._r32(nk, L.NK_NUMBER_OF_VALUES)
        if count == 0:
            return []
        entries = self._list(self._r32(nk, L.NK_VALUES_LIST), None, count, 4)
        values = [_U32.unpack_from(e)[0] for e in entries]
        for vk in values:
            self._cell(vk, b"vk", L.VK_FIXED_SIZE)
        return values

    def _value_name(self, vk: int) -> str:
        p = self._cell(vk, b"vk", L.VK_FIXED_SIZE)
        n = self._r16(vk, 2)
        self._cell(vk, None, L.VK_FIXED_SIZE + n)
        raw = bytes(self._buf[p + L.VK_FIXED_SIZE:p + L.VK_FIXED_SIZE + n])
        return decode_name(raw, bool(self._r16(vk, 0x10) & L.VALUE_COMP_NAME))

    def _find_value(self, nk: int, name: str) -> tuple[int, int | None]:
        want = name_sort_key(name)
        values = self._values(nk)
        for i, vk in enumerate(values):
            if name_sort_key(self._value_name(vk)) == want:
                return i, vk
        return len(values), None

    def _is_big(self, vk: int) -> bool:
        size = self._r32(vk, L.VK_DATA_SIZE)
        if size & L.DATA_INLINE or self._minor < 4 or size <= L.BIG_DATA_SEGMENT_SIZE:
            return False
        p = self._cell(self._r32(vk, L.VK_DATA_OFFSET), None, 2)
        return self._buf[p:p + 2] == b"db"

    def _segments(self, vk: int) -> tuple[int, int, list[int]]:
        """(db offset, segment list offset, segment offsets) of a big-data value."""
        db = self._r32(vk, L.VK_DATA_OFFSET)
        self._cell(db, b"db", 8)
        count, seglist = self._r16(db, 2), self._r32(db, 4)
        size = self._r32(vk, L.VK_DATA_SIZE)
        if count != -(-size // L.BIG_DATA_SEGMENT_SIZE):
            raise CorruptionError("big data segment count does not match the size", offset=db)
        segs = [_U32.unpack_from(e)[0] for e in self._list(seglist, None, count, 4)]
        return db, seglist, segs

    def _value_data(self, vk: int) -> bytes:
        size = self._r32(vk, L.VK_DATA_SIZE)
        n = size & 0x7FFFFFFF
        if size & L.DATA_INLINE:
            return bytes(self._buf[self._pos(vk) + 8:self._pos(vk) + 8 + min(n, 4)])
        if n == 0:
            return b""
        if self._is_big(vk):
            _, _, segs = self._segments(vk)
            out = bytearray()
            for seg in segs:
                take = min(L.BIG_DATA_SEGMENT_SIZE, n - len(out))
                p = self._cell(seg, None, take)
                out += self._buf[p:p + take]
            return bytes(out)
        p = self._cell(self._r32(vk, L.VK_DATA_OFFSET), None, n)
        return bytes(self._buf[p:p + n])

    def _free_data(self, vk: int) -> None:
        size = self._r32(vk, L.VK_DATA_SIZE)
        if size & L.DATA_INLINE or size == 0:
            return
        if self._is_big(vk):
            db, seglist, segs = self._segments(vk)
            for cell in [*segs, seglist, db]:
                self._alloc.free_cell(cell)
        else:
            self._alloc.free_cell(self._r32(vk, L.VK_DATA_OFFSET))

    def _store_data(self, raw: bytes) -> tuple[int, int]:
        """Place value data; returns the vk's (data size, data offset) fields."""
        n = len(raw)
        if n <= 4:
            return L.DATA_INLINE | n, int.from_bytes(raw.ljust(4, b"\0"), "little")
        if self._minor >= 4 and n > L.BIG_DATA_SEGMENT_SIZE:
            segs = []
            for start in range(0, n, L.BIG_DATA_SEGMENT_SIZE):
                seg = self._alloc.alloc(L.BIG_DATA_SEGMENT_CELL - 4)
                chunk = raw[start:start + L.BIG_DATA_SEGMENT_SIZE]
                self._buf[self._pos(seg):self._pos(seg) + len(chunk)] = chunk
                segs.append(seg)
            seglist = self._write_list(None, None, _pack(segs))
            db = self._alloc.alloc(12)
            self._buf[self._pos(db):self._pos(db) + 12] = L.BigData.build(dict(
                number_of_segments=len(segs), segments_list_offset=seglist), what="db record")
            return n, db
        cell = self._alloc.alloc(n)
        self._buf[self._pos(cell):self._pos(cell) + n] = raw
        return n, cell

    # --- public operations ------------------------------------------------------------------
    @contextlib.contextmanager
    def _operation(self) -> Iterator[int]:
        """Run one edit atomically; yields the FILETIME to stamp changed keys with."""
        if self._poisoned:
            raise CorruptionError("the editor's state is inconsistent; start again from the hive")
        state = self._alloc.snapshot()
        try:
            yield filetime_now()
        except BaseException:
            try:
                self._alloc.restore(state)
                self._names.clear()
            except BaseException:
                self._poisoned = True
                raise
            raise

    def create_key(self, path: str) -> None:
        """Create the key at `path` and any missing parents (no change if it exists)."""
        parts = _split_path(path)
        for part in parts:
            _check_key_name(part)
        if len(parts) >= MAX_DEPTH:
            raise InvalidArgumentError("key path is deeper than 512 levels", path=path)
        with self._operation() as now:
            cur = self._root
            for part in parts:
                pos, child = self._find_child(cur, part)
                cur = child if child is not None else self._add_subkey(cur, pos, part, now)
            self._changes.append(Change(CREATE_KEY, path))

    def delete_key(self, path: str) -> None:
        """Delete the key at `path` with everything below it."""
        with self._operation() as now:
            chain = self._resolve(path)
            if len(chain) == 1:
                raise InvalidArgumentError("the root key cannot be deleted", path=path)
            target, parent = chain[-1], chain[-2]
            stack, order, seen = [target], [], set()
            while stack:
                off = stack.pop()
                if off in seen or len(seen) > len(self._alloc.allocated):
                    raise CorruptionError("cycle in the key tree", offset=off)
                seen.add(off)
                self._nk(off)
                if self._flags(off) & (L.KEY_NO_DELETE | L.KEY_HIVE_ENTRY):
                    raise InvalidArgumentError("key is marked as not deletable", path=path)
                order.append(off)
                stack.extend(self._children(off))
            for off in reversed(order):    # children before their parents
                self._free_key(off)
            self._index_remove(parent, target)
            _U64.pack_into(self._buf, self._pos(parent) + L.NK_LAST_WRITTEN, now)
            self._changes.append(Change(DELETE_KEY, path))

    def set_value(self, path: str, name: str, value_type: int, raw: bytes) -> None:
        """Create or replace value `name` ("" = default) of the key at `path`."""
        raw = bytes(raw)
        _check_value_name(name)
        if not 0 <= value_type <= 0xFFFFFFFF:
            raise InvalidArgumentError(f"value type {value_type} is not a 32-bit number")
        if len(raw) >= 0x80000000:
            raise InvalidArgumentError("value data is too large")
        with self._operation() as now:
            nk = self._resolve(path)[-1]
            _, vk = self._find_value(nk, name)
            if vk is not None:
                self._free_data(vk)
            size, where = self._store_data(raw)
            if vk is None:
                name_raw, compressed = encode_name(name) if name else (b"", False)
                vk = self._alloc.alloc(L.VK_FIXED_SIZE + len(name_raw))
                p = self._pos(vk)
                self._buf[p:p + L.VK_FIXED_SIZE + len(name_raw)] = L.KeyValue.build(dict(
                    name_length=len(name_raw), data_size=0, data_offset=0, data_type=0,
                    flags=L.VALUE_COMP_NAME if compressed else 0, spare=0),
                    what="vk record") + name_raw
                count = self._r32(nk, L.NK_NUMBER_OF_VALUES)
                old = self._r32(nk, L.NK_VALUES_LIST) if count else None
                entries = _pack(self._values(nk) + [vk])
                self._w32(nk, L.NK_VALUES_LIST, self._write_list(old, None, entries))
                self._w32(nk, L.NK_NUMBER_OF_VALUES, count + 1)
            self._w32(vk, L.VK_DATA_SIZE, size)
            self._w32(vk, L.VK_DATA_OFFSET, where)
            self._w32(vk, L.VK_DATA_TYPE, value_type)
            self._raise32(nk, L.NK_LARGEST_VALUE_NAME, utf16_length(name))
            self._raise32(nk, L.NK_LARGEST_VALUE_DATA, len(raw))
            _U64.pack_into(self._buf, self._pos(nk) + L.NK_LAST_WRITTEN, now)
            self._changes.append(Change(SET_VALUE, path, name, value_type, raw))

    def delete_value(self, path: str, name: str) -> None:
        """Delete value `name` ("" = default) of the key at `path`."""
        with self._operation() as now:
            nk = self._resolve(path)[-1]
            index, vk = self._find_value(nk, name)
            if vk is None:
                raise NotFoundError(f"no value named {name!r}", path=path)
            values = self._values(nk)
            self._free_data(vk)
            self._alloc.free_cell(vk)
            del values[index]
            listed = self._r32(nk, L.NK_VALUES_LIST)
            if values:
                self._write_list(listed, None, _pack(values))
            else:
                self._alloc.free_cell(listed)
                self._w32(nk, L.NK_VALUES_LIST, NIL)
                self._w32(nk, L.NK_LARGEST_VALUE_NAME, 0)
                self._w32(nk, L.NK_LARGEST_VALUE_DATA, 0)
            self._w32(nk, L.NK_NUMBER_OF_VALUES, len(values))
            _U64.pack_into(self._buf, self._pos(nk) + L.NK_LAST_WRITTEN, now)
            self._changes.append(Change(DELETE_VALUE, path, name))

    # --- output -----------------------------------------------------------------------------
    @property
    def minor_version(self) -> int:
        """Minor format version of the hive being edited."""
        return self._minor

    @property
    def planned(self) -> Planned:
        """The edits made so far and the image they started from (for `regf.verify`)."""
        return Planned(tuple(self._changes), self._original, self._compacted, self._base_hive)

    @property
    def hive(self) -> Hive:
        """A reader over the current state."""
        return Hive.from_bytes(self.to_bytes())

    def to_bytes(self, same_size: bool = False) -> bytes:
        """The edited hive image; with `same_size`, no longer than the file that holds it (it
        may grow into the file's slack after the original hive, never past the file's end)."""
        if self._poisoned:
            raise CorruptionError("the editor's state is inconsistent; refusing to emit a hive")
        self._self_check()
        length = self._alloc.length
        self._compacted = False
        if not same_size:
            return _with_checksum(self._buf)      # one copy: the checksum is set in place
        size, room = self._original_size, self._room
        if B + length <= room:
            image = self._buf[:B + length]      # a slice of a bytearray is a new bytearray
            image += _pad_from(self._original, len(image), size)
            return _with_checksum(image)
        compact = _Compactor(self).run()
        new_length = _U32.unpack_from(compact, L.BB_HIVE_BINS_DATA_SIZE)[0]
        if B + new_length > room:
            raise HiveSpaceError(
                f"the edited hive needs {B + new_length} bytes even when rebuilt compactly, "
                f"but the file must stay {room} bytes")
        target = self._original_length if B + self._original_length <= room else \
            (room - B) // 4096 * 4096
        compact = _pad_bins(compact, max(new_length, target))
        compact += _pad_from(self._original, len(compact), size)
        self._compacted = True
        return _with_checksum(compact)

    def _self_check(self) -> None:
        """Refuse to emit an image whose cell map disagrees with the allocator's bookkeeping."""
        if not self._alloc.consistent():
            self._poisoned = True
            raise CorruptionError("the editor's cell map is inconsistent; refusing to emit a hive")


def _pack(offsets: list[int]) -> bytes:
    return struct.pack(f"<{len(offsets)}I", *offsets)


def _split_path(path: str) -> list[str]:
    stripped = path.strip("\\")
    if not stripped:
        return []
    parts = stripped.split("\\")
    if any(not part for part in parts):
        raise InvalidArgumentError("empty key name in path", path=path)
    return parts


def _check_key_name(name: str) -> None:
    if not name or "\\" in name or "\0" in name or len(utf16_units(name)) > MAX_KEY_NAME:
        raise InvalidArgumentError(f"invalid key name {name!r} (1-255 characters, no '\\')")


def _check_value_name(name: str) -> None:
    if "\0" in name or len(utf16_units(name)) > MAX_VALUE_NAME:
        raise InvalidArgumentError(f"invalid value name {name[:40]!r}")


def _with_checksum(image: bytearray) -> bytes:
    _U32.pack_into(image, L.BB_CHECKSUM, regf_checksum(bytes(image[:L.CHECKSUM_COVERED])))
    return bytes(image)         # the one copy of the image


def _pad_from(original: bytes, start: int, size: int) -> bytes:
    """Bytes [start, size) of the original file (slack kept as it was), zero-extended."""
    if start >= size:
        return b""
    tail = original[start:size]
    return tail + bytes(size - start - len(tail))


def _pad_bins(image: bytearray, length: int) -> bytearray:
    """Extend the last bin of a compact image with free space up to `length` bytes of bins."""
    current = _U32.unpack_from(image, L.BB_HIVE_BINS_DATA_SIZE)[0]
    if length <= current:
        return image
    allocator = CellAllocator(image)
    last_start, last_end = allocator.bin_starts[-1], allocator.bin_ends[-1]
    image.extend(bytes(B + length - len(image)))
    _U32.pack_into(image, B + last_start + 8, length - last_start)
    _U32.pack_into(image, L.BB_HIVE_BINS_DATA_SIZE, length)
    tail = allocator.free_end.get(last_end)
    if tail is not None:
        struct.pack_into("<i", image, B + tail, length - tail)
    else:
        struct.pack_into("<i", image, B + last_end, length - last_end)
    return image


class _Compactor:
    """Copy every key and value of an editor's hive into a fresh, tightly packed image."""

    def __init__(self, source: HiveEditor):
        self.src = source
        buf = bytearray(source._buf[:B + 32]) + bytearray(4096 - 32)
        # The first bin's header is kept (its timestamp backs up the base block's).
        self.dst = HiveEditor._blank(buf, source._minor)
        self.sk_map: dict[int, int] = {}
        self.sk_refs: dict[int, int] = {}
        self.seen: set[int] = set()

    def run(self) -> bytearray:
        """The compact image (base block copied, root at 0x20, sk ring and refcounts rebuilt)."""
        root = self.copy_key(self.src._root, 0, 0)
        _U32.pack_into(self.dst._buf, BB_ROOT_CELL, root)
        ring = list(self.sk_map.values())
        for i, sk in enumerate(ring):
            self.dst._w32(sk, L.SK_FLINK, ring[(i + 1) % len(ring)])
            self.dst._w32(sk, L.SK_BLINK, ring[i - 1])
            self.dst._w32(sk, L.SK_REFERENCE_COUNT, self.sk_refs[sk])
        return self.dst._buf

    def cell(self, payload: bytes) -> int:
        off = self.dst._alloc.alloc(len(payload))
        self.dst._buf[B + off + 4:B + off + 4 + len(payload)] = payload
        return off

    def copy_key(self, old: int, parent: int, depth: int) -> int:
        src, dst = self.src, self.dst
        if depth >= MAX_DEPTH or old in self.seen:
            raise CorruptionError("key tree is cyclic or too deep", offset=old)
        self.seen.add(old)
        p = src._nk(old)
        new = self.cell(bytes(src._buf[p:p + L.NK_FIXED_SIZE
                                       + src._r16(old, L.NK_KEY_NAME_LENGTH)]))
        dst._w32(new, L.NK_PARENT, parent)
        dst._w32(new, L.NK_SECURITY, self.copy_sk(src._r32(old, L.NK_SECURITY)))
        class_length = src._r16(old, L.NK_CLASS_NAME_LENGTH)
        new_class = NIL
        if class_length:
            q = src._cell(src._r32(old, L.NK_CLASS_NAME), None, class_length)
            new_class = self.cell(bytes(src._buf[q:q + class_length]))
        dst._w32(new, L.NK_CLASS_NAME, new_class)
        values = []
        for vk in src._values(old):
            q = src._cell(vk, b"vk", L.VK_FIXED_SIZE)
            new_vk = self.cell(bytes(src._buf[q:q + L.VK_FIXED_SIZE + src._r16(vk, 2)]))
            size, where = dst._store_data(src._value_data(vk))
            dst._w32(new_vk, L.VK_DATA_SIZE, size)
            dst._w32(new_vk, L.VK_DATA_OFFSET, where)
            values.append(new_vk)
        dst._w32(new, L.NK_VALUES_LIST,
                 dst._write_list(None, None, _pack(values)) if values else NIL)
        children = src._children(old)
        kids = [(self.copy_key(c, new, depth + 1), src._key_name(c)) for c in children]
        dst._w32(new, L.NK_SUBKEYS_LIST, self.index(kids) if kids else NIL)
        return new

    def copy_sk(self, old: int) -> int:
        new = self.sk_map.get(old)
        if new is None:
            p = self.src._cell(old, b"sk", L.SK_FIXED_SIZE)
            length = self.src._r32(old, 0x10)
            self.src._cell(old, None, L.SK_FIXED_SIZE + length)
            new = self.sk_map[old] = self.cell(bytes(self.src._buf[p:p + L.SK_FIXED_SIZE + length]))
            self.sk_refs[new] = 0
        self.sk_refs[new] += 1
        return new

    def index(self, kids: list[tuple[int, str]]) -> int:
        sig = b"lh" if self.dst._minor >= 5 else b"lf"
        elements = [self.dst._element(sig, off, name) for off, name in kids]
        if len(elements) <= LEAF_MAX:
            return self.dst._write_list(None, sig, b"".join(elements), len(elements))
        leaves = [self.dst._write_list(None, sig, b"".join(elements[i:i + 512]),
                                       len(elements[i:i + 512]))
                  for i in range(0, len(elements), 512)]
        return self.dst._write_list(None, b"ri", _pack(leaves), len(leaves))
