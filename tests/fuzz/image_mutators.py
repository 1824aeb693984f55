"""Field-aware corruption of real disk images (seeded, deterministic), by layer: partition
tables (MBR with extended-partition loops, GPT with absurd counts, overlapping or out-of-disk
partitions, CRCs fixed so the lie is believed), image formats (qcow2, VHD, VHDX, VMDK headers,
maps and descriptors) and filesystems (FAT chains, copies, directories, LFNs, sizes; NTFS boot
sector, MFT records, fixups, attributes, runlists).

Each mutator takes (rng, data, info) and returns (bytes, label); `info` says where the layers
of that seed lie (found once by `describe()`).
"""

from __future__ import annotations

import random
import re
import struct
import zlib

from bcdtool.blockdev.vhdx import crc32c

SECTOR = 512
I32 = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x1000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000,
       0xFFFFFFF0, 0xFFFFFFFE, 0xFFFFFFFF, 0x00100000, 0x3FFFFFFF]
I64 = [0, 1, 0x200, 0x10000, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 62, 2 ** 63, 2 ** 64 - 1,
       2 ** 64 - 512, 2 ** 63 - 1]


def put(data: bytearray, pos: int, width: int, value: int, order: str = "little") -> None:
    if 0 <= pos and pos + width <= len(data):
        data[pos:pos + width] = (value % (1 << (8 * width))).to_bytes(width, order)


def hostile(rng: random.Random, width: int, near: list[int] = ()) -> int:
    roll = rng.random()
    if roll < 0.3 and near:
        return rng.choice(near) + rng.choice((0, 0, 1, -1, 8, 512, 4096))
    if roll < 0.85:
        return rng.choice(I64 if width == 8 else I32) % (1 << (8 * width))
    return rng.randrange(1 << (8 * width))


def flips(rng: random.Random, data: bytes, start: int = 0, length: int | None = None):
    out = bytearray(data)
    end = min(len(out), start + (length or len(out)))
    for _ in range(rng.randint(1, 24)):
        pos = rng.randrange(start, max(start + 1, end))
        if pos < len(out):
            out[pos] ^= 1 << rng.randrange(8)
    return bytes(out), "flips"


# -- partition tables (on raw disk bytes at `base`) ---------------------------------------------

def mbr_edit(rng, data: bytes, base: int = 0):
    out = bytearray(data)
    slot = base + 446 + 16 * rng.randrange(4)
    kind = rng.choice(["type", "start", "count", "ext-self", "ext-chain", "overlap", "beyond",
                       "active"])
    size = len(data) // SECTOR
    if kind == "type":
        out[slot + 4] = rng.choice((0x05, 0x0F, 0x85, 0xEE, 0xEF, 0x07, 0x0C, 0x00, 0xFF))
    elif kind in ("start", "count"):
        put(out, slot + (8 if kind == "start" else 12), 4,
            hostile(rng, 4, [size, size - 1, 1, 2048]))
    elif kind == "ext-self":
        # an extended partition whose EBR's link names the EBR itself (or the MBR)
        lba = rng.choice((1, 2, 63, 100))
        out[slot + 4] = 0x05
        put(out, slot + 8, 4, lba)
        put(out, slot + 12, 4, 64)
        ebr = lba * SECTOR
        if ebr + SECTOR <= len(out):
            out[ebr:ebr + SECTOR] = bytes(SECTOR)
            out[ebr + 510:ebr + 512] = b"\x55\xaa"
            out[ebr + 446 + 4] = 0x07
            put(out, ebr + 446 + 8, 4, 1)
            put(out, ebr + 446 + 12, 4, 8)
            out[ebr + 462 + 4] = 0x05
            put(out, ebr + 462 + 8, 4, rng.choice((0, 0, lba - lba, 0xFFFFFFFF - lba)))
            put(out, ebr + 462 + 12, 4, 64)
    elif kind == "ext-chain":
        # EBRs a -> b -> a (a two-step loop) or a long chain of distinct EBRs
        out[slot + 4] = 0x0F
        put(out, slot + 8, 4, 10)
        put(out, slot + 12, 4, 5000)
        loop = rng.random() < 0.5
        for n in range(4000 if not loop else 2):
            ebr = (10 + n) * SECTOR
            if ebr + SECTOR > len(out):
                break
            out[ebr:ebr + SECTOR] = bytes(SECTOR)
            out[ebr + 510:ebr + 512] = b"\x55\xaa"
            out[ebr + 446 + 4] = 0x07
            put(out, ebr + 446 + 8, 4, 1)
            put(out, ebr + 446 + 12, 4, 1)
            out[ebr + 462 + 4] = 0x05
            put(out, ebr + 462 + 8, 4, (n + 1) % 2 if loop else n + 1)
            put(out, ebr + 462 + 12, 4, 2)
    elif kind == "overlap":
        other = base + 446 + 16 * ((slot - base - 446) // 16 ^ 1)
        out[other:other + 16] = out[slot:slot + 16]
        if not out[other + 4]:
            out[other + 4] = 0x07
    elif kind == "beyond":
        put(out, slot + 8, 4, size + rng.choice((0, 1, 1000)))
        put(out, slot + 12, 4, rng.choice((1, 2048, 0xFFFFFFFF)))
        out[slot + 4] = out[slot + 4] or 0x07
    else:
        for n in range(4):
            out[base + 446 + 16 * n] = rng.choice((0x80, 0x00, 0x81, 0xFF))
    return bytes(out), f"mbr {kind}"


def _gpt_fix(out: bytearray, lba: int = 1) -> None:
    hdr = lba * SECTOR
    entries_lba = struct.unpack_from("<Q", out, hdr + 72)[0]
    count = struct.unpack_from("<I", out, hdr + 80)[0]
    esize = struct.unpack_from("<I", out, hdr + 84)[0]
    length = count * esize
    start = entries_lba * SECTOR
    if 0 < length <= 1 << 20 and start + length <= len(out):
        put(out, hdr + 88, 4, zlib.crc32(bytes(out[start:start + length])))
    hsize = struct.unpack_from("<I", out, hdr + 12)[0]
    if 92 <= hsize <= SECTOR:
        raw = bytearray(out[hdr:hdr + hsize])
        raw[16:20] = bytes(4)
        put(out, hdr + 16, 4, zlib.crc32(bytes(raw)))


def gpt_edit(rng, data: bytes):
    out = bytearray(data)
    hdr = SECTOR
    kind = rng.choice(["count", "esize", "entries-lba", "hsize", "first-last", "entry", "entry",
                       "overlap", "beyond", "alt"])
    size = len(data) // SECTOR
    if kind == "count":
        put(out, hdr + 80, 4, rng.choice((0, 1, 129, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF, 2 ** 20)))
    elif kind == "esize":
        put(out, hdr + 84, 4, rng.choice((0, 1, 8, 127, 129, 256, 0x10000, 0xFFFFFFFF)))
    elif kind == "entries-lba":
        put(out, hdr + 72, 8, hostile(rng, 8, [0, 1, size, size - 1]))
    elif kind == "hsize":
        put(out, hdr + 12, 4, rng.choice((0, 91, 513, 0xFFFFFFFF)))
    elif kind == "first-last":
        put(out, hdr + rng.choice((40, 48, 24, 32)), 8, hostile(rng, 8, [size, 0]))
    elif kind in ("entry", "overlap", "beyond"):
        entries = struct.unpack_from("<Q", out, hdr + 72)[0] * SECTOR
        esize = struct.unpack_from("<I", out, hdr + 84)[0] or 128
        n = rng.randrange(4)
        ent = entries + n * esize
        if kind == "entry":
            put(out, ent + rng.choice((32, 40, 48)), 8, hostile(rng, 8, [size, 2048]))
            if rng.random() < 0.3:
                out[ent:ent + 16] = bytes.fromhex("28732ac11ff8d211ba4b00a0c93ec93b")  # ESP
        elif kind == "overlap":
            out[ent + esize:ent + 2 * esize] = out[ent:ent + esize]
        else:
            put(out, ent + 32, 8, size + rng.choice((0, 10)))
            put(out, ent + 40, 8, size + rng.choice((100, 2 ** 40)))
    else:
        put(out, hdr + 32, 8, hostile(rng, 8, [size - 1, 1]))
    if rng.random() < 0.9:
        _gpt_fix(out)
    return bytes(out), f"gpt {kind}"


# -- FAT volumes ----------------------------------------------------------------------------------

def fat_geometry(data: bytes, start: int) -> dict | None:
    boot = data[start:start + SECTOR]
    if len(boot) < SECTOR or boot[510:512] != b"\x55\xaa":
        return None
    bps = struct.unpack_from("<H", boot, 11)[0]
    spc = boot[13]
    if bps not in (512, 1024, 2048, 4096) or not spc:
        return None
    reserved = struct.unpack_from("<H", boot, 14)[0]
    fats = boot[16]
    root_entries = struct.unpack_from("<H", boot, 17)[0]
    fat16 = struct.unpack_from("<H", boot, 22)[0]
    fat_size = (fat16 or struct.unpack_from("<I", boot, 36)[0]) * bps
    bits = 16 if fat16 else 32
    root_bytes = -(-root_entries * 32 // bps) * bps
    fat_start = start + reserved * bps
    data_start = fat_start + fats * fat_size + root_bytes
    return {"bps": bps, "cluster": bps * spc, "fat": fat_start, "fat_size": fat_size,
            "fats": fats, "bits": bits, "data": data_start,
            "root": fat_start + fats * fat_size, "start": start}


def _dir_entries(data: bytes, geo: dict) -> list[int]:
    """Offsets of 8.3 directory entries (files and folders) in the first clusters."""
    found = []
    region = range(geo["root"], min(len(data), geo["data"] + 64 * geo["cluster"]), 32)
    for pos in region:
        name = data[pos:pos + 11]
        attr = data[pos + 11] if pos + 11 < len(data) else 0
        if name[:1] in (b"\x00", b"\xe5") or attr == 0x0F or attr & 0x08:
            continue
        if re.fullmatch(rb"[A-Z0-9 ._~$-]{11}", name):
            found.append(pos)
    return found


def fat_edit(rng, data: bytes, start: int):
    geo = fat_geometry(data, start)
    if geo is None:
        return flips(rng, data, start, 4096)
    out = bytearray(data)
    entries = _dir_entries(data, geo)
    width = geo["bits"] // 8
    kind = rng.choice(["bpb", "chain-loop", "chain-self", "copies", "size", "first", "dir-loop",
                       "lfn", "fat-garbage", "free-in-chain", "count-fats"])

    def fat_at(copy, cluster):
        return geo["fat"] + copy * geo["fat_size"] + cluster * width

    def first_of(entry):
        return struct.unpack_from("<H", data, entry + 26)[0] | \
            struct.unpack_from("<H", data, entry + 20)[0] << 16
    if kind == "bpb":
        field, width_ = rng.choice([(11, 2), (13, 1), (14, 2), (16, 1), (17, 2), (19, 2),
                                    (22, 2), (32, 4), (36, 4), (44, 4)])
        put(out, start + field, width_, hostile(rng, width_))
    elif kind in ("chain-loop", "chain-self", "free-in-chain") and entries:
        entry = rng.choice(entries)
        first = first_of(entry)
        chain = [first]
        while len(chain) < 64:
            nxt = struct.unpack_from("<I" if width == 4 else "<H", data,
                                     fat_at(0, chain[-1]))[0] & 0x0FFFFFFF
            if nxt < 2 or nxt >= 0x0FFFFFF7 or (width == 2 and nxt >= 0xFFF7):
                break
            chain.append(nxt)
        last = rng.choice(chain)
        value = {"chain-loop": chain[0], "chain-self": last, "free-in-chain": 0}[kind]
        for copy in range(geo["fats"] if rng.random() < 0.8 else 1):
            put(out, fat_at(copy, last), width, value)
    elif kind == "copies":
        cluster = rng.randrange(2, 200)
        put(out, fat_at(1 if geo["fats"] > 1 else 0, cluster), width, hostile(rng, width))
    elif kind == "size" and entries:
        put(out, rng.choice(entries) + 28, 4, rng.choice((0, 1, 0x7FFFFFFF, 0xFFFFFFFF,
                                                         0x40000000, 0x4000000)))
    elif kind == "first" and entries:
        entry = rng.choice(entries)
        cluster = hostile(rng, 4, [0, 1, 2, first_of(rng.choice(entries))])
        put(out, entry + 26, 2, cluster & 0xFFFF)
        put(out, entry + 20, 2, cluster >> 16)
    elif kind == "dir-loop" and entries:
        # a folder entry (or any entry, made a folder) whose cluster is its parent's or root's
        entry = rng.choice(entries)
        out[entry + 11] = 0x10
        target = rng.choice([2, first_of(rng.choice(entries))])
        put(out, entry + 26, 2, target & 0xFFFF)
        put(out, entry + 20, 2, target >> 16)
    elif kind == "lfn" and entries:
        entry = rng.choice(entries)
        for back in range(1, rng.randint(2, 5)):
            pos = entry - 32 * back
            if pos < geo["root"]:
                break
            out[pos + 11] = 0x0F
            out[pos] = rng.choice((0x41, 0x4F, 0x7F, 0xFF, 0x01, back))
            for off in (1, 14, 28):
                out[pos + off:pos + off + 4] = rng.choice((b"\x00\xd8\x00\xdc", b"\xff\xff\xff\xff",
                                                           b"\x00\xd8A\x00", b"\x00\x00\x00\x00"))
            out[pos + 13] = rng.randrange(256)
    elif kind == "count-fats":
        out[start + 16] = rng.choice((0, 1, 3, 255))
    else:
        for _ in range(rng.randint(1, 64)):
            put(out, fat_at(0, rng.randrange(2, 4096)), width, hostile(rng, width))
    return bytes(out), f"fat {kind}"


# -- NTFS volumes ---------------------------------------------------------------------------------

def ntfs_geometry(data: bytes, start: int) -> dict | None:
    boot = data[start:start + SECTOR]
    if boot[3:11] != b"NTFS    ":
        return None
    bps = struct.unpack_from("<H", boot, 11)[0]
    cluster = bps * boot[13]
    mft = start + struct.unpack_from("<Q", boot, 0x30)[0] * cluster
    raw = struct.unpack_from("<b", boot, 0x40)[0]
    record = cluster * raw if raw > 0 else 1 << -raw
    return {"bps": bps, "cluster": cluster, "mft": mft, "record": record, "start": start}


def _attributes(data: bytes, rec: int, size: int) -> list[tuple[int, int, int]]:
    """(offset, type, length) of each attribute of the MFT record at `rec`."""
    out = []
    pos = rec + struct.unpack_from("<H", data, rec + 20)[0]
    while pos + 16 <= rec + size:
        kind, length = struct.unpack_from("<II", data, pos)
        if kind == 0xFFFFFFFF or length < 16 or pos + length > rec + size:
            break
        out.append((pos, kind, length))
        pos += length
    return out


def ntfs_edit(rng, data: bytes, start: int):
    geo = ntfs_geometry(data, start)
    if geo is None:
        return flips(rng, data, start, 4096)
    out = bytearray(data)
    size = geo["record"]
    records = [geo["mft"] + n * size for n in range(0, 64)
               if data[geo["mft"] + n * size:geo["mft"] + n * size + 4] == b"FILE"]
    kind = rng.choice(["boot", "record", "fixup", "attr", "runlist", "runlist", "mft-runlist",
                       "attrlist", "flips"])
    if kind == "boot":
        field, width = rng.choice([(11, 2), (13, 1), (0x28, 8), (0x30, 8), (0x38, 8), (0x40, 1),
                                   (0x44, 1)])
        put(out, start + field, width, hostile(rng, width))
    elif kind == "record" and records:
        rec = rng.choice(records)
        field, width = rng.choice([(4, 2), (6, 2), (20, 2), (22, 2), (24, 4), (28, 4), (32, 8)])
        put(out, rec + field, width, hostile(rng, width, [0, 1, size, 0x30]))
    elif kind == "fixup" and records:
        rec = rng.choice(records)
        usa = struct.unpack_from("<H", data, rec + 4)[0]
        put(out, rec + usa + rng.choice((0, 2, 4)), 2, rng.randrange(1 << 16))
        if rng.random() < 0.5:
            out[rec + 510] ^= 0xFF
    elif kind in ("attr", "runlist", "mft-runlist", "attrlist") and records:
        rec = records[0] if kind == "mft-runlist" else rng.choice(records)
        attrs = _attributes(data, rec, size)
        if not attrs:
            return flips(rng, data, rec, size)
        if kind == "attrlist":
            # turn a resident attribute into an $ATTRIBUTE_LIST naming the record itself
            pos, _, length = rng.choice(attrs)
            put(out, pos, 4, 0x20)
            if data[pos + 8] == 0 and length >= 56:
                voff = struct.unpack_from("<H", data, pos + 20)[0]
                entry = pos + voff
                put(out, entry, 4, rng.choice((0x80, 0x30, 0x20)))
                put(out, entry + 4, 2, 32)
                put(out, entry + 16, 8, (rec - geo["mft"]) // size)
        elif kind == "attr":
            pos, _, _ = rng.choice(attrs)
            field, width = rng.choice([(4, 4), (8, 1), (9, 1), (10, 2), (16, 8), (20, 2),
                                       (24, 8), (32, 2), (40, 8), (48, 8), (56, 8)])
            put(out, pos + field, width, hostile(rng, width, [0, size, 0x18]))
        else:
            nonres = [a for a in attrs if data[a[0] + 8] == 1]
            if not nonres:
                return flips(rng, data, rec, size)
            pos, _, length = rng.choice(nonres)
            runs = pos + struct.unpack_from("<H", data, pos + 32)[0]
            choice = rng.choice(["huge-len", "self", "neg", "nibbles", "overlap", "zero-len",
                                 "garbage"])
            if choice == "huge-len":
                out[runs:runs + 10] = bytes([0x48]) + (2 ** 62).to_bytes(8, "little") + b"\x01"
            elif choice == "self":   # the run's LCN is the cluster the MFT itself sits in
                lcn = (geo["mft"] - start) // geo["cluster"]
                out[runs:runs + 8] = bytes([0x41, 0x10]) + lcn.to_bytes(4, "little") + b"\x00\x00"
            elif choice == "neg":
                out[runs:runs + 6] = bytes([0x21, 0x04, 0x00, 0x80]) + b"\x00\x00"
            elif choice == "nibbles":
                out[runs] = rng.choice((0x0F, 0xF1, 0x88, 0x90, 0x09, 0xFF))
            elif choice == "overlap":
                out[runs:runs + 9] = bytes([0x11, 0x08, 0x04, 0x11, 0x08, 0xFC, 0x11, 0x08,
                                            0x00])
            elif choice == "zero-len":
                out[runs:runs + 4] = bytes([0x11, 0x00, 0x04, 0x00])
            else:
                for n in range(rng.randint(1, 8)):
                    if runs + n < pos + length:
                        out[runs + n] = rng.randrange(256)
    else:
        base = rng.choice(records) if records else start
        return flips(rng, data, base, size)
    return bytes(out), f"ntfs {kind}"


# -- image formats --------------------------------------------------------------------------------

def qcow2_edit(rng, data: bytes):
    out = bytearray(data)
    be = "big"
    cluster_bits = struct.unpack_from(">I", data, 20)[0]
    cluster = 1 << min(cluster_bits, 30)
    l1_off = struct.unpack_from(">Q", data, 40)[0]
    l1_size = struct.unpack_from(">I", data, 36)[0]
    rt_off = struct.unpack_from(">Q", data, 48)[0]
    kind = rng.choice(["header", "header", "l1", "l2", "l2-compressed", "refcount",
                       "backing-self", "crypt", "external-data", "incompat", "ext"])
    if kind == "header":
        field, width = rng.choice([(4, 4), (8, 8), (16, 4), (20, 4), (24, 8), (32, 4), (36, 4),
                                   (40, 8), (48, 8), (56, 4), (60, 4), (64, 8), (96, 4),
                                   (100, 4)])
        put(out, field, width, hostile(rng, width, [len(data), cluster]), be)
    elif kind == "l1":
        slot = l1_off + 8 * rng.randrange(max(1, min(l1_size, 16)))
        put(out, slot, 8, rng.choice([1 << 63 | l1_off, 1 << 63 | 0, len(data) * 4 | 1 << 63,
                                      hostile(rng, 8), 1 << 63 | (l1_off + 1)]), be)
    elif kind in ("l2", "l2-compressed"):
        l1 = struct.unpack_from(">Q", data, l1_off)[0] & 0x00FFFFFFFFFFFE00
        if not l1 or l1 + cluster > len(data):
            return flips(rng, data, 0, 4096)
        # entries that hold data (the first ones are usually the partition table's)
        slots = [l1 + 8 * n for n in range(cluster // 8)
                 if struct.unpack_from(">Q", data, l1 + 8 * n)[0]]
        slot = rng.choice(slots or [l1])
        if kind == "l2":
            value = rng.choice([hostile(rng, 8), 1 << 63 | len(data) * 8, 1 << 63 | l1,
                                1 << 63 | 0, 1, 1 << 63 | 0x201])
        else:
            value = 1 << 62 | rng.choice([(0x3FFF << 48) | 0x1000, len(data) * 2, 0x200,
                                          rng.randrange(1 << 62)])
        put(out, slot, 8, value, be)
    elif kind == "refcount":
        put(out, rt_off + 8 * rng.randrange(4), 8, hostile(rng, 8, [rt_off, 0, len(data)]), be)
    elif kind == "backing-self":
        # the header names a backing file: itself, the image's folder, /dev/zero, a long name
        name = rng.choice([b"SELF", b".", b"/dev/zero", b"x" * 4000, b"../../etc/passwd",
                           b"\x00\xff", b"nbd://127.0.0.1:1/x", b"http://127.0.0.1:9/x"])
        where = 0x1000 - len(name) - 8 if len(name) < 3000 else 0x200
        if cluster > 0x1000 or len(name) >= 3000:
            where = min(where, cluster - len(name) - 8) if cluster > len(name) + 8 else 0x200
        out[where:where + len(name)] = name
        put(out, 8, 8, where, be)
        put(out, 16, 4, len(name), be)
        return bytes(out), f"qcow2 backing {name[:20]!r}"
    elif kind == "crypt":
        put(out, 32, 4, rng.choice((1, 2, 3, 0xFFFFFFFF)), be)
    elif kind == "external-data":
        put(out, 72, 8, rng.choice((2, 4, 8, 1, 1 << 63)), be)
    elif kind == "incompat":
        put(out, 72, 8, hostile(rng, 8), be)
        put(out, 4, 4, 3, be)
    else:   # a header extension with a hostile length, or an external data file name
        hlen = struct.unpack_from(">I", data, 100)[0] if struct.unpack_from(">I", data, 4)[0] \
            >= 3 else 72
        pos = hlen if hlen < 4096 else 104
        ext = rng.choice([0x44415441, 0xE2792ACA, 0x6803F857, 0x0537BE77, 0x23852875, 0x12345])
        put(out, pos, 4, ext, be)
        put(out, pos + 4, 4, rng.choice((0, 4, 0x1000, 0xFFFFFFFF, 0x7FFFFFFF)), be)
        out[pos + 8:pos + 16] = b"SELF\x00\x00\x00\x00"
    return bytes(out), f"qcow2 {kind}"


def _vhd_checksum(raw: bytearray, start: int, length: int, field: int) -> None:
    raw[start + field:start + field + 4] = bytes(4)
    total = sum(raw[start:start + length]) & 0xFFFFFFFF
    put(raw, start + field, 4, ~total & 0xFFFFFFFF, "big")


def vhd_edit(rng, data: bytes):
    out = bytearray(data)
    foot = len(out) - 512
    dynamic = struct.unpack_from(">I", data, foot + 60)[0] in (3, 4)
    kind = rng.choice(["footer", "footer", "header", "bat", "locator", "mismatch", "type"]
                      if dynamic else ["footer", "footer", "type", "mismatch"])
    if kind == "footer":
        field, width = rng.choice([(8, 4), (12, 4), (16, 8), (40, 8), (48, 8), (56, 4)])
        put(out, foot + field, width, hostile(rng, width, [len(data), 0x200]), "big")
    elif kind == "type":
        put(out, foot + 60, 4, rng.choice((0, 1, 2, 3, 4, 5, 0xFFFFFFFF)), "big")
    elif kind == "mismatch":
        # the copy at offset 0 differs from the one at the end; or the size does
        if dynamic:
            out[0:512] = bytes(512) if rng.random() < 0.5 else out[0:8] + bytes(504)
        else:
            put(out, foot + 48, 8, len(data) * rng.choice((2, 1000)), "big")
    else:
        hdr = struct.unpack_from(">Q", data, foot + 16)[0]
        if hdr + 1024 > len(out):
            return flips(rng, data, foot, 512)
        bat = struct.unpack_from(">Q", data, hdr + 16)[0]
        if kind == "header":
            field, width = rng.choice([(8, 8), (16, 8), (24, 4), (28, 4), (32, 4)])
            put(out, hdr + field, width, hostile(rng, width, [len(data), 512, hdr]), "big")
        elif kind == "bat":
            entries = [bat + 4 * n for n in range(64)
                       if bat + 4 * n + 4 <= len(out) and data[bat + 4 * n:bat + 4 * n + 4]
                       != b"\xff\xff\xff\xff"]
            slot = rng.choice(entries or [bat])
            put(out, slot, 4, rng.choice([0, hdr // 512, bat // 512, foot // 512,
                                          len(data) // 512 + 10, 0xFFFFFFFE, 0x7FFFFFFF]),
                "big")
        else:   # parent locators of a non-differencing disk, or made differencing
            put(out, foot + 60, 4, 4, "big")
            _vhd_checksum(out, foot, 512, 64)
            loc = hdr + 576 + 24 * rng.randrange(8)
            put(out, loc, 4, rng.choice((0x57326B75, 0x57327275, 0x4D616358)), "big")
            put(out, loc + 8, 4, rng.choice((0, 24, 0xFFFFFFFF, 512)), "big")
            put(out, loc + 12, 4, rng.choice((0, 24, 0xFFFFFFFF, 512)), "big")
            put(out, loc + 16, 8, rng.choice((0, hdr, len(data), 2 ** 63)), "big")
        if rng.random() < 0.9:
            _vhd_checksum(out, hdr, 1024, 36)
    if rng.random() < 0.9:
        _vhd_checksum(out, foot, 512, 64)
        if dynamic and out[0:8] == b"conectix":
            out[0:512] = out[foot:foot + 512]
    return bytes(out), f"vhd {kind}"


def _vhdx_fix(out: bytearray, start: int, length: int) -> None:
    raw = bytearray(out[start:start + length])
    raw[4:8] = bytes(4)
    put(out, start + 4, 4, crc32c(bytes(raw)))


def vhdx_edit(rng, data: bytes):
    out = bytearray(data)
    MiB64 = 64 * 1024
    kind = rng.choice(["header", "region", "bat", "metadata", "log", "flips"])
    headers = [h for h in (MiB64, 2 * MiB64) if data[h:h + 4] == b"head"]
    if kind in ("header", "log") and headers:
        hdr = max(headers, key=lambda h: struct.unpack_from("<Q", data, h + 8)[0])
        if kind == "header":
            field, width = rng.choice([(8, 8), (64, 2), (66, 2), (68, 4), (72, 8)])
            put(out, hdr + field, width, hostile(rng, width, [len(data), 0x100000]))
        else:   # a non-empty log guid, log offset/length that lie
            out[hdr + 48:hdr + 64] = bytes(range(1, 17))
            put(out, hdr + rng.choice((68, 72)), rng.choice((4, 8)), hostile(rng, 4))
        _vhdx_fix(out, hdr, 4096)
    elif kind == "region":
        reg = 3 * MiB64 + rng.choice((0, MiB64))
        slot = rng.choice([8, 16 + 32 * rng.randrange(2)])
        if slot == 8:
            put(out, reg + 8, 4, rng.choice((0, 3, 2048, 0xFFFFFFFF)))
        else:
            put(out, reg + slot + rng.choice((16, 24, 28)), rng.choice((8, 4)),
                hostile(rng, 8, [len(data), 0]))
        _vhdx_fix(out, reg, MiB64)
    elif kind in ("bat", "metadata"):
        reg = 3 * MiB64
        count = struct.unpack_from("<I", data, reg + 8)[0]
        regions = {}
        for n in range(min(count, 8)):
            ent = reg + 16 + 32 * n
            regions[bytes(data[ent:ent + 16])] = struct.unpack_from("<Q", data, ent + 16)[0]
        bat_guid = bytes.fromhex("6677c22d23f600429d64115e9bfd4a08")
        base = regions.get(bat_guid) if kind == "bat" else \
            next((v for k, v in regions.items() if k != bat_guid), None)
        if base is None or base + 4096 > len(data):
            return flips(rng, data, 0, 4 * MiB64)
        if kind == "bat":
            put(out, base + 8 * rng.randrange(16), 8,
                rng.choice([(len(data) * 4 >> 20) << 20 | 6, 6 | (1 << 20), 7, 6,
                            hostile(rng, 8), (0xFFFFFFFFFFF << 20) | 6]))
        else:
            # metadata table: entry count, entries' offsets/lengths, the values they point at
            field = rng.choice([10, 32 + 16, 32 + 20, 32 + 24, 64 + 16, 64 + 20])
            put(out, base + field, 4, hostile(rng, 4, [0x10000, len(data)]))
            if rng.random() < 0.5:
                put(out, base + 0x10000 + rng.choice((0, 4, 8)), 4, hostile(rng, 4))
    else:
        return flips(rng, data, 0, 4 * MiB64)
    return bytes(out), f"vhdx {kind}"


def vmdk_edit(rng, data: bytes):
    out = bytearray(data)
    if data[:4] != b"KDMV":
        return flips(rng, data, 0, 4096)
    gd = struct.unpack_from("<Q", data, 56)[0] * SECTOR
    desc = struct.unpack_from("<Q", data, 28)[0] * SECTOR
    desc_len = struct.unpack_from("<Q", data, 36)[0] * SECTOR
    kind = rng.choice(["header", "header", "gd", "gt", "descriptor", "flags"])
    if kind == "header":
        field, width = rng.choice([(4, 4), (12, 8), (20, 8), (28, 8), (36, 8), (44, 4), (48, 8),
                                   (56, 8), (64, 8), (77, 2)])
        put(out, field, width, hostile(rng, width, [len(data) // SECTOR, 1, 0]))
    elif kind == "flags":
        put(out, 8, 4, rng.choice((0x30000, 0x10000, 0x3, 0xFFFFFFFF)))
    elif kind == "gd":
        put(out, gd + 4 * rng.randrange(4), 4,
            rng.choice([0, 1, gd // SECTOR, len(data) // SECTOR + 8, 0xFFFFFFFF]))
    elif kind == "gt":
        gt = struct.unpack_from("<I", data, gd)[0] * SECTOR
        if not gt or gt + 2048 > len(out):
            return flips(rng, data, 0, 4096)
        slots = [gt + 4 * n for n in range(512) if struct.unpack_from("<I", data, gt + 4 * n)[0]]
        put(out, rng.choice(slots or [gt]), 4,
            rng.choice([1, gd // SECTOR, gt // SECTOR, len(data) // SECTOR + 128, 0xFFFFFFFF]))
    else:
        if not desc or desc + desc_len > len(out):
            return flips(rng, data, 0, 4096)
        text = bytes(out[desc:desc + desc_len]).split(b"\x00")[0]
        text = re.sub(rb'RW \d+ SPARSE "[^"]*"', rng.choice([
            b'RW 409600 SPARSE "SELF"', b'RW 99999999999999 SPARSE "SELF"',
            b'RW 100 FLAT "/dev/zero" 0', b'RW 1 FLAT "SELF" 0\nRW 1 FLAT "SELF" 0',
            b'RW 100 VMFS "../../etc/passwd"', b'RW -5 SPARSE "SELF"', b'RW 1 ZERO',
            b'RW 100 SPARSE ""']), text)
        if rng.random() < 0.3:
            text = text.replace(b"parentCID=ffffffff",
                                b'parentCID=12345678\nparentFileNameHint="SELF"')
        if rng.random() < 0.2:
            text = text.replace(b"createType=", b"createType=\"twoGbMaxExtentSparse\"\n#")
        if rng.random() < 0.2:
            text = text + b"\n" * 10 + b"x" * rng.choice((100, 100000))
        text = text[:desc_len]
        out[desc:desc + desc_len] = text + bytes(desc_len - len(text))
    return bytes(out), f"vmdk {kind}"


def vmdk_descriptor_edit(rng, text: bytes, flat_name: str):
    """A monolithicFlat descriptor made hostile: extents that name the descriptor itself, each
    other, devices, paths outside, absurd sizes and offsets; duplicated lines; huge text."""
    choice = rng.choice([
        b'RW 409600 FLAT "SELF" 0', b'RW 409600 FLAT "%s" 0\nRW 409600 FLAT "SELF" 0',
        b'RW 409600 SPARSE "SELF"', b'RW 99999999999999999 FLAT "%s" 0',
        b'RW 409600 FLAT "%s" 99999999999999', b'RW 409600 FLAT "%s" -1',
        b'RW 409600 FLAT "/dev/zero" 0', b'RW 409600 FLAT "/dev/stdin" 0',
        b'RW 409600 FLAT "../../../etc/passwd" 0', b'RW 0 FLAT "%s" 0',
        b'RW 409600 FLAT "%s\x00x" 0', b'RW 409600 FLAT "' + b"a" * 5000 + b'" 0',
        b"\n".join([b'RW 1 FLAT "%s" 0'] * 20000), b'RW 409600 FLAT %s 0',
        b'RW 409600 FLAT "loop2.vmdk" 0'])
    choice = choice.replace(b"%s", flat_name.encode())
    out = re.sub(rb'RW \d+ FLAT "[^"]*" \d+', lambda m: choice, text)
    if rng.random() < 0.2:
        out = out.replace(b"ddb.geometry", b"\xff\xfe" * 10)
    if rng.random() < 0.2:
        out += b"\x00" * 10 + b"#" * rng.choice((10, 2_000_000))
    return out, "vmdk-desc " + choice[:30].decode("latin-1")
