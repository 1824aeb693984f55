"""Field-aware corruption of real regf hives and their logs (seeded, deterministic).

Each mutator takes a random.Random and the hive's bytes and returns new bytes plus a label of
what it did (the failure class).  They aim at what the format's readers trust: base-block fields
(with the checksum fixed so the edit is not refused at the door), hbin headers, every field of
nk/vk/lf/lh/li/ri/sk/db cells, cell references that form loops (a subkey list naming an
ancestor, an ri naming itself, an sk list closing on itself), huge counts in tiny cells,
negative or odd cell sizes, and dirty hives whose LOG1/LOG2 lie.
"""

from __future__ import annotations

import random
import struct

from bcdtool.errors import BcdToolError
from bcdtool.regf.checksums import regf_checksum
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.hive import Hive

BASE = 0x1000
INTERESTING_32 = [0, 1, 2, 3, 7, 0x7F, 0xFF, 0x400, 0x1000, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFF8,
                  0x7FFFFFFF, 0x80000000, 0x80000008, 0xFFFFFFF8, 0xFFFFFFFF, 0xFFFFFFFE,
                  0x3FFFFFFF, 0x100000, 0x4000000, 0x40000000]
INTERESTING_16 = [0, 1, 0x7F, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0xFFFE]

#: field offsets (within a cell's data, after its 4-byte size) and widths, by signature.
FIELDS = {
    b"nk": [(2, 2), (16, 4), (20, 4), (24, 4), (28, 4), (32, 4), (36, 4), (40, 4), (44, 4),
            (48, 4), (52, 4), (56, 4), (60, 4), (64, 4), (72, 2), (74, 2)],
    b"vk": [(2, 2), (4, 4), (8, 4), (12, 4), (16, 2)],
    b"lf": [(2, 2), (4, 4), (8, 4)],
    b"lh": [(2, 2), (4, 4), (8, 4)],
    b"li": [(2, 2), (4, 4)],
    b"ri": [(2, 2), (4, 4)],
    b"sk": [(4, 4), (8, 4), (12, 4), (16, 4), (20, 4)],
    b"db": [(2, 2), (4, 4)],
}
#: base-block fields: seq1, seq2, major, minor, type, format, root cell, hbins size, clustering.
BASE_FIELDS = [4, 8, 20, 24, 28, 32, 36, 40, 44]


def cells(data: bytes) -> list[tuple[int, int, bytes]]:
    """(file offset of the cell's size field, signed size, signature) of each cell, walking
    hbins as the file lays them out (tolerant: stops at the first thing that is not an hbin)."""
    out = []
    pos = BASE
    while pos + 32 <= len(data) and data[pos:pos + 4] == b"hbin":
        size = struct.unpack_from("<I", data, pos + 8)[0]
        if size < 32 or size % 4096 or pos + size > len(data):
            break
        cell = pos + 32
        while cell + 4 <= pos + size:
            raw = struct.unpack_from("<i", data, cell)[0]
            length = abs(raw)
            if length < 8 or length % 8:
                break
            out.append((cell, raw, bytes(data[cell + 4:cell + 6])))
            cell += length
        pos += size
    return out


def fix_checksum(data: bytearray) -> None:
    if len(data) >= 512:
        struct.pack_into("<I", data, 508, regf_checksum(bytes(data[:512])))


def _put(data: bytearray, pos: int, width: int, value: int) -> None:
    if 0 <= pos and pos + width <= len(data):
        data[pos:pos + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")


def _value(rng: random.Random, width: int, data: bytes, offsets: list[int]) -> int:
    roll = rng.random()
    if roll < 0.35 and offsets:                 # a real cell offset: links that are plausible
        return rng.choice(offsets) - BASE
    if width == 2:
        return rng.choice(INTERESTING_16) if roll < 0.8 else rng.randrange(1 << 16)
    if roll < 0.8:
        return rng.choice(INTERESTING_32)
    return rng.randrange(len(data))


def field_edit(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Set one field of a random structured cell to a hostile value."""
    found = [c for c in cells(data) if c[2] in FIELDS]
    if not found:
        return bit_flips(rng, data)
    cell, _, sig = rng.choice(found)
    offset, width = rng.choice(FIELDS[sig])
    out = bytearray(data)
    if sig in (b"lf", b"lh", b"li", b"ri") and offset == 4:   # some entry, not just the first
        count = struct.unpack_from("<H", data, cell + 6)[0]
        step = 8 if sig in (b"lf", b"lh") else 4
        offset += step * rng.randrange(max(1, min(count, 64)))
    _put(out, cell + 4 + offset, width, _value(rng, width, data, [c[0] for c in found]))
    return bytes(out), f"field {sig.decode()}+{offset}"


def loop_edit(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Make references form a cycle: a subkey list naming an ancestor (or itself), an ri naming
    itself, an sk list closing on itself, a value list naming the key, a parent loop."""
    all_cells = cells(data)
    by_sig: dict[bytes, list[int]] = {}
    for cell, raw, sig in all_cells:
        if raw < 0:
            by_sig.setdefault(sig, []).append(cell)
    out = bytearray(data)
    root = struct.unpack_from("<I", data, 36)[0]
    kind = rng.choice(["list-to-root", "list-to-self", "ri-self", "sk-self", "nk-sublist-self",
                       "values-to-nk", "parent-self", "db-self", "list-to-list"])
    nks = by_sig.get(b"nk", [])
    lists = by_sig.get(b"lf", []) + by_sig.get(b"lh", []) + by_sig.get(b"li", []) + \
        by_sig.get(b"ri", [])
    if kind in ("list-to-root", "list-to-self", "list-to-list") and lists:
        cell = rng.choice(lists)
        target = {"list-to-root": root, "list-to-self": cell - BASE,
                  "list-to-list": rng.choice(lists) - BASE}[kind]
        sig = data[cell + 4:cell + 6]
        step = 8 if sig in (b"lf", b"lh") else 4
        count = struct.unpack_from("<H", data, cell + 6)[0]
        _put(out, cell + 8 + step * rng.randrange(max(1, count)), 4, target)
    elif kind == "ri-self" and lists:
        cell = rng.choice(lists)
        out[cell + 4:cell + 6] = b"ri"
        _put(out, cell + 8, 4, cell - BASE)
    elif kind == "sk-self" and by_sig.get(b"sk"):
        cell = rng.choice(by_sig[b"sk"])
        other = rng.choice(by_sig[b"sk"])
        _put(out, cell + 4 + rng.choice((4, 8)), 4, other - BASE)
    elif kind == "nk-sublist-self" and nks:
        cell = rng.choice(nks)
        # a one-entry lf list that names the key itself, written over its own subkey list
        sub = struct.unpack_from("<I", data, cell + 4 + 28)[0]
        if sub != 0xFFFFFFFF and BASE + sub + 16 <= len(out):
            out[BASE + sub + 4:BASE + sub + 8] = b"lf\x01\x00"
            _put(out, BASE + sub + 8, 4, cell - BASE)
            _put(out, cell + 4 + 20, 4, 1)
        else:
            _put(out, cell + 4 + 28, 4, cell - BASE)
            _put(out, cell + 4 + 20, 4, 1)
    elif kind == "values-to-nk" and nks:
        cell = rng.choice(nks)
        _put(out, cell + 4 + 40, 4, cell - BASE)
        _put(out, cell + 4 + 36, 4, rng.choice((1, 2, 1000, 0x7FFFFFFF)))
    elif kind == "parent-self" and nks:
        cell = rng.choice(nks)
        _put(out, cell + 4 + 16, 4, cell - BASE)
    elif kind == "db-self" and by_sig.get(b"vk"):
        cell = rng.choice(by_sig[b"vk"])
        _put(out, cell + 4 + 4, 4, 40000)           # big data needs > 16344 bytes
        _put(out, cell + 4 + 8, 4, cell - BASE)
    else:
        return field_edit(rng, data)
    return bytes(out), f"loop {kind}"


def cell_size_edit(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """A cell size that is negative, odd, zero, tiny, huge, or runs past its hbin."""
    found = cells(data)
    if not found:
        return bit_flips(rng, data)
    cell, raw, _ = rng.choice(found)
    value = rng.choice([0, 1, 3, 4, 7, 8, -8, -4, -1, 0x7FFFFFFF, -0x7FFFFFFF, -0x80000000,
                        raw * 2, -abs(raw) * 64, abs(raw) + 4, -(abs(raw) + 8)])
    out = bytearray(data)
    struct.pack_into("<i", out, cell, value)
    return bytes(out), "cell size"


def base_block_edit(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """One base-block field set to a hostile value, checksum recomputed (so it is believed)."""
    out = bytearray(data)
    field = rng.choice(BASE_FIELDS)
    value = rng.choice(INTERESTING_32 + [len(data) - BASE, len(data), len(data) - BASE + 4096,
                                          0x40000000, 0x4000000 + 4096])
    _put(out, field, 4, value)
    if rng.random() < 0.85:
        fix_checksum(out)
    return bytes(out), f"base +{field}"


def hbin_edit(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """An hbin header's offset or size made hostile."""
    starts = [pos for pos in range(BASE, len(data) - 32, 4096) if data[pos:pos + 4] == b"hbin"]
    if not starts:
        return bit_flips(rng, data)
    pos = rng.choice(starts)
    out = bytearray(data)
    field = rng.choice((4, 8))
    _put(out, pos + field, 4, rng.choice(INTERESTING_32 + [len(data), 4096 * 3]))
    return bytes(out), f"hbin +{field}"


def bit_flips(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    out = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        pos = rng.randrange(len(out))
        out[pos] ^= 1 << rng.randrange(8)
    return bytes(out), "bit flips"


def truncate(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    cut = rng.choice([0, 1, 511, 512, 4095, 4096, 4097, BASE + 32, len(data) // 2,
                      len(data) - 1, rng.randrange(len(data))])
    return data[:cut], "truncated"


HIVE_MUTATORS = [field_edit, field_edit, field_edit, loop_edit, loop_edit, cell_size_edit,
                 base_block_edit, hbin_edit, bit_flips, truncate, "bcd", "bcd", "bcd"]


def mutate_hive(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """One or two mutations of `data`; the label names the first."""
    first = rng.choice(HIVE_MUTATORS)
    out, label = (bcd_element_edit if first == "bcd" else first)(rng, data)
    if rng.random() < 0.3 and out:
        again = rng.choice(HIVE_MUTATORS[:-3])
        out, _ = again(rng, out)
    return out, label


def make_dirty(data: bytes, rng: random.Random) -> bytes:
    """The hive with seq1 != seq2 (a write was interrupted), checksum fixed."""
    out = bytearray(data)
    seq = struct.unpack_from("<I", out, 4)[0]
    _put(out, 8, 4, seq - rng.choice((1, 2)))
    fix_checksum(out)
    return bytes(out)


def mutate_log(rng: random.Random, log: bytes, hive_len: int) -> tuple[bytes, str]:
    """A transaction log that lies: sequence numbers, HvLE sizes, dirty page counts and offsets
    beyond the hive, old-format dirty vectors bigger than the hive, truncation."""
    out = bytearray(log)
    if len(out) < 1024:
        return bit_flips(rng, bytes(out)) if out else (log, "empty log")
    kind = rng.choice(["base", "entry", "page", "dirt", "flips", "trunc"])
    if kind == "base":
        _put(out, rng.choice((4, 8, 28, 32, 36, 40)), 4,
             rng.choice(INTERESTING_32 + [hive_len, hive_len * 64]))
        fix_checksum(out)
    elif kind == "entry" and out[512:516] == b"HvLE":
        # size, flags, sequence, hive bins data size, dirty pages count
        _put(out, 512 + rng.choice((4, 8, 12, 16, 20)), 4,
             rng.choice(INTERESTING_32 + [hive_len, hive_len * 16, 0x1000]))
    elif kind == "page" and out[512:516] == b"HvLE":
        count = struct.unpack_from("<I", out, 512 + 20)[0]
        slot = 512 + 40 + 8 * rng.randrange(max(1, min(count, 32)))
        _put(out, slot + rng.choice((0, 4)), 4,
             rng.choice(INTERESTING_32 + [hive_len, hive_len - 0x1000, hive_len + 0x1000]))
    elif kind == "dirt" or (kind in ("entry", "page") and out[512:516] == b"DIRT"):
        out[512:516] = b"DIRT"
        # a dirty vector claiming every page of a hive far larger than the log
        for pos in range(516, min(len(out), 516 + rng.choice((8, 512, 4096))), 1):
            out[pos] = 0xFF
        _put(out, 40, 4, rng.choice((hive_len * 64, 0x7FFFF000, 0x40000000)))
        fix_checksum(out)
    elif kind == "trunc":
        del out[rng.choice((512, 516, 560, 4096, len(out) // 2)):]
    else:
        return bit_flips(rng, bytes(out))
    return bytes(out), f"log {kind}"


# -- BCD elements: wrong types, lengths and hostile device blobs ---------------------------------

REG_SZ, REG_BINARY, REG_DWORD, REG_MULTI_SZ, REG_QWORD = 1, 3, 4, 7, 11


def _device_blob(rng: random.Random, depth: int = 0) -> bytes:
    """A device element (options GUID + descriptor) whose nested sizes and offsets lie."""
    kind = rng.choice([0, 5, 6, 8, 3, 0xFFFFFFFF])
    size = rng.choice([0, 1, 15, 16, 17, 0x48, 0x58, 0x7FFFFFFF, 0xFFFFFFFF, 0x10000])
    head = struct.pack("<IIII", kind, rng.choice((0, 1, 0xFFFFFFFF)), size, 0)
    if kind == 0:        # local: ramdisk / file / vhd with a nested parent descriptor
        sub = struct.pack("<I", rng.choice((3, 5, 6, 0xFFFF)))
        path = struct.pack("<III", 1, rng.choice((0, 12, 0xFFFFFFFF, 0x7FFFFFF0)), 5)
        nested = _device_blob(rng, depth + 1)[16:] if depth < 40 and rng.random() < 0.8 else b""
        body = sub + struct.pack("<QQI", 0, 2 ** 63, 0xFFFFFFFF) + path + nested
    elif kind == 8:      # locate: parent offset into itself, before itself, past the end
        body = struct.pack("<III", 0, 0x12000002, rng.choice((0, 8, 16, 0xFFFFFFFF, 0x10)))
        body += "\\x".encode("utf-16-le") * rng.choice((0, 1, 5000))
    elif kind == 6:
        body = bytes(16) + struct.pack("<II", 0, rng.choice((0, 1, 2, 0xFFFFFFFF))) + bytes(32)
    else:
        body = bytes(rng.randrange(0, 64))
    return bytes(16) + head + body


def _object_list(rng: random.Random, own: str, others: list[str]) -> bytes:
    """REG_MULTI_SZ of object ids: itself (an inherit or display loop), garbage, many."""
    pick = rng.choice(["self", "loop", "garbage", "many", "empty", "dups"])
    items = {"self": [own], "loop": others[:2] + [own], "many": others * 2000, "empty": [""],
             "garbage": ["{not-a-guid}", "\x00", "x" * 5000], "dups": [own] * 50}[pick]
    return ("\x00".join(items) + "\x00\x00").encode("utf-16-le", "surrogatepass")


def bcd_element_edit(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """One BCD element's value replaced: a wrong registry type or length, a hostile device blob,
    an object list naming itself (inherit/recovery loops) or garbage."""
    try:
        objects = Hive.from_bytes(data, name="seed").key("Objects").subkeys()
    except BcdToolError:        # not a BCD store: plain corruption instead
        return field_edit(rng, data)
    if not objects:
        return field_edit(rng, data)
    names = [o.name for o in objects]
    obj = rng.choice(objects)
    elements = obj.subkey("Elements").subkeys() if "Elements" in \
        [k.name for k in obj.subkeys()] else []
    code = rng.choice([e.name for e in elements] or ["14000006"]) if rng.random() < 0.7 else \
        rng.choice(["11000001", "21000001", "12000002", "14000006", "24000001", "23000003",
                    "25000004", "16000009", "15000011", "11000043", "21000022", "31000003"])
    klass = int(code, 16) >> 24 & 0x0F if len(code) == 8 else 0
    roll = rng.random()
    if klass == 1 and roll < 0.6:
        vtype, raw, what = REG_BINARY, _device_blob(rng), "device"
    elif klass == 4 and roll < 0.6:
        vtype, raw, what = REG_MULTI_SZ, _object_list(rng, obj.name, names), "object list"
    elif klass == 3 and roll < 0.6:
        vtype, raw, what = REG_SZ, rng.choice([obj.name, "{bad}", "", "x" * 10000]).encode(
            "utf-16-le") + b"\0\0", "object"
    else:
        vtype = rng.choice([REG_SZ, REG_BINARY, REG_DWORD, REG_MULTI_SZ, REG_QWORD, 0, 0xFFFF])
        raw = rng.choice([b"", b"\x01", b"\x01\x02\x03", bytes(7), bytes(9), b"\xff" * 16,
                          b"\xff" * 60000, "x\x00".encode("utf-16-le"), b"\x00\xd8"])
        what = f"type {vtype} len {len(raw)}"
    editor = HiveEditor.from_bytes(data)
    path = f"Objects\\{obj.name}\\Elements\\{code}"
    editor.create_key(path)
    editor.set_value(path, "Element", vtype, raw)
    return editor.to_bytes(), f"bcd {code} {what}"
