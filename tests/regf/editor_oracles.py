"""Independent views of a hive for the editor tests: python-registry, hivexregedit, our reader.

Each view is a model: {key path tuple: [(value name, type, raw bytes), ...]} with the values in
stored order.  The readers' known quirks (regf.md §13.4) are normalised in `same_data`.
"""

from __future__ import annotations

import io
import re
import struct
import subprocess
from itertools import pairwise
from collections import Counter
from pathlib import Path

import pytest
from Registry import Registry

from bcdtool.regf.check import check
from bcdtool.regf.hive import Hive
from bcdtool.wintext import name_sort_key
from tests.helpers.common import need_tool

Model = dict[tuple[str, ...], list[tuple[str, int, bytes]]]


class ExpectedHive:
    """The in-test model: what a sequence of edits should leave in the hive."""

    def __init__(self, model: Model):
        self.keys: dict[tuple[bytes, ...], tuple[str, ...]] = {}
        self.values: dict[tuple[bytes, ...], list[tuple[str, int, bytes]]] = {}
        for path, values in model.items():
            self.keys[_fold(path)] = path
            self.values[_fold(path)] = list(values)

    def model(self) -> Model:
        """The expected content as a Model."""
        return {self.keys[k]: list(v) for k, v in self.values.items()}

    def has_key(self, path: tuple[str, ...]) -> bool:
        return _fold(path) in self.keys

    def create_key(self, path: tuple[str, ...]) -> None:
        for i in range(1, len(path) + 1):
            folded = _fold(path[:i])
            if folded not in self.keys:
                self.keys[folded] = self.keys[_fold(path[:i - 1])] + (path[i - 1],)
                self.values[folded] = []

    def delete_key(self, path: tuple[str, ...]) -> None:
        folded = _fold(path)
        for k in [k for k in self.keys if k[:len(folded)] == folded]:
            del self.keys[k], self.values[k]

    def set_value(self, path: tuple[str, ...], name: str, vtype: int, raw: bytes) -> None:
        values = self.values[_fold(path)]
        for i, (old, _, _) in enumerate(values):
            if name_sort_key(old) == name_sort_key(name):
                values[i] = (old, vtype, raw)       # Windows keeps the stored name
                return
        values.append((name, vtype, raw))

    def delete_value(self, path: tuple[str, ...], name: str) -> None:
        values = self.values[_fold(path)]
        values[:] = [v for v in values if name_sort_key(v[0]) != name_sort_key(name)]


def _fold(path: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(name_sort_key(p) for p in path)


def ours(image: bytes) -> Model:
    """Model read by bcdtool's own reader."""
    hive = Hive.from_bytes(image)
    model: Model = {}
    for key in hive.walk():
        path = tuple(p for p in key.path.split("\\") if p) if key.offset != hive.root_offset else ()
        model[path] = [(v.name, v.type, v.raw) for v in key.values()]
    return model


def python_registry(image: bytes) -> Model:
    """Model read by python-registry (an independent Python reader)."""
    reg = Registry.Registry(io.BytesIO(image))
    model: Model = {}
    stack = [((), reg.root())]
    while stack:
        path, key = stack.pop()
        model[path] = [(v.name() if v._vkrecord.has_name() else "", v.value_type(),
                        bytes(v.raw_data())) for v in key.values()]
        stack.extend((path + (sub.name(),), sub) for sub in key.subkeys())
    return model


def libregf(image: bytes) -> Model:
    """Model read by libregf (libyal's C reader).

    Every subkey must also be found by name through its parent (libregf's lookup compares
    names itself; hashes and hints are checked by `structure_problems` and our validator).
    Its `is_corrupted()` is not used: it is set on keys of untouched Windows-written stores.
    libregf-python is an optional test oracle (no wheel for every Python): the test is skipped,
    saying so, where it is missing.
    """
    pyregf = pytest.importorskip("pyregf", reason="libregf-python (pyregf) is not installed")

    handle = pyregf.file()
    handle.open_file_object(io.BytesIO(image))
    model: Model = {}
    stack = [((), handle.get_root_key())]
    while stack:
        path, key = stack.pop()
        model[path] = [(v.name or "", v.type, bytes(v.data or b"")) for v in key.values]
        for sub in key.sub_keys:
            found = key.get_sub_key_by_name(sub.name)
            assert found is not None and found.offset == sub.offset, ("libregf lookup", sub.name)
            stack.append((path + (sub.name,), sub))
    return model


_VALUE = re.compile(r'^(@|"((?:[^"\\]|\\.)*)")=(dword:([0-9a-f]{8})|hex(?:\(([0-9a-f]+)\))?:(.*))$')


def hivex(image: bytes, tmp: Path) -> Model:
    """Model read by `hivexregedit --export` (hivex, an independent C reader)."""
    need_tool("hivexregedit")      # an optional oracle: skip, never pass quietly
    path = tmp / "oracle.hiv"
    path.write_bytes(image)
    out = subprocess.run(["hivexregedit", "--export", str(path), "\\"], capture_output=True,
                         check=True).stdout
    model: Model = {}
    current: list | None = None
    for line in map(_perl_text, out.splitlines()):
        if line.startswith("[\\") and line.endswith("]"):
            inner = line[2:-1]
            current = model.setdefault(tuple(inner.split("\\")) if inner else (), [])
        elif line and current is not None:
            m = _VALUE.match(line)
            assert m, f"unparsed hivexregedit line: {line[:120]!r}"
            name = "" if m.group(1) == "@" else re.sub(r"\\(.)", r"\1", m.group(2))
            if m.group(4) is not None:
                current.append((name, 4, int(m.group(4), 16).to_bytes(4, "little")))
            else:
                vtype = int(m.group(5), 16) if m.group(5) else 3
                hexes = m.group(6)
                current.append((name, vtype, bytes.fromhex(hexes.replace(",", ""))))
    return model


def _perl_text(line: bytes) -> str:
    # Perl prints a string as UTF-8 only when it holds a character above U+00FF, else as Latin-1.
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def _sz(raw: bytes) -> bytes:
    for i in range(0, len(raw) - 1, 2):
        if raw[i:i + 2] == b"\0\0":
            return raw[:i]
    return raw


def same_data(vtype: int, expected: bytes, seen: bytes, reader: str) -> bool:
    """Whether a reader's bytes show `expected`, allowing for that reader's documented quirks."""
    n = len(expected)
    if reader == "python-registry":
        if vtype in (1, 2) and n <= 4:
            return seen[:n] == expected
        if vtype == 4:
            return n > 4 or seen == expected.ljust(4, b"\0")
        if vtype == 7 and n <= 4:
            return True          # inline REG_MULTI_SZ is always read as empty
        if vtype == 11:
            return n <= 4 or seen == expected[:8]
        if vtype == 5:
            return n <= 4 or seen == expected[:4]
        if vtype > 11 and n <= 4:
            return seen[:n] == expected   # unknown types: the whole offset field is returned
    if reader == "libregf" and 0 < n < 4:
        # libregf takes inline data from the high end of the 4-byte field; Windows stores it
        # from the low end (e.g. 00 C2 01 in win10-media-bios.bcd, which libregf reads C2 01 00).
        return seen == expected.ljust(4, b"\0")[4 - n:]
    if reader == "libregf" and vtype in (1, 2):
        return _sz(seen) == _sz(expected)   # it cuts REG_SZ data after the first terminator
    if reader == "hivex" and vtype == 4 and n != 4:
        return True              # non-4-byte DWORDs: hivex prints what it decodes
    return seen == expected


def assert_models_agree(expected: Model, seen: Model, reader: str) -> None:
    """Every key and value of `expected` (and nothing else) is in `seen`, in stored order."""
    assert set(seen) == set(expected), (reader, sorted(set(seen) ^ set(expected))[:5])
    for path, values in expected.items():
        got = seen[path]
        if reader == "hivex":        # hivexregedit prints values sorted by name
            values = sorted(values, key=lambda v: v[0])
            got = sorted(got, key=lambda v: v[0])
        assert [(n, t) for n, t, _ in got] == [(n, t) for n, t, _ in values], (reader, path)
        for (name, vtype, raw), (_, _, data) in zip(values, got, strict=True):
            assert same_data(vtype, raw, data, reader), (reader, path, name, vtype, raw[:16],
                                                         data[:16])


def assert_all_readers(image: bytes, expected: Model, tmp: Path, *, hivex_too: bool = True,
                       original: bytes | None = None) -> None:
    """Our reader and validator, python-registry and hivex all see exactly `expected`.

    Also the raw structural rules, tolerating only what the `original` input already broke.
    """
    problems, leaked = structure_problems(image)
    known, known_leaks = structure_problems(original) if original is not None else ([], set())
    # Offsets move in a compact rebuild: compare how often each kind of problem occurs.
    kinds = Counter(p.split(": ", 1)[1] for p in problems)
    known_kinds = Counter(p.split(": ", 1)[1] for p in known)
    assert not kinds - known_kinds, problems[:5]
    assert len(leaked) <= len(known_leaks), sorted(leaked)[:5]
    assert_models_agree(expected, ours(image), "bcdtool")
    assert_models_agree(expected, python_registry(image), "python-registry")
    errors = [f for f in check(Hive.from_bytes(image)) if f.severity == "error"]
    assert not errors, errors[:5]
    # the optional oracles last: a missing one skips the test after every other check ran
    assert_models_agree(expected, libregf(image), "libregf")
    if hivex_too:
        assert_models_agree(expected, hivex(image, tmp), "hivex")


def structure_problems(image: bytes) -> tuple[list[str], set[int]]:
    """Windows' structural rules, checked on the raw bytes (regf.md §5, §12).

    Returns (problems, leaked cells): sibling order, lh hashes, lf hints, parent links,
    non-empty leaves, largest-name/data fields, sk reference counts and ring links, and the
    allocated cells that nothing owns.
    """
    from bcdtool.regf.alloc import CellAllocator
    from bcdtool.wintext import lf_hint, lh_hash, utf16_length

    cells = CellAllocator(bytearray(image))
    u16 = lambda off, f: struct.unpack_from("<H", image, 4096 + off + 4 + f)[0]  # noqa: E731
    u32 = lambda off, f: struct.unpack_from("<I", image, 4096 + off + 4 + f)[0]  # noqa: E731
    sig = lambda off: image[4096 + off + 4:4096 + off + 6]  # noqa: E731
    problems: list[str] = []
    owned: set[int] = set()
    sk_refs: dict[int, int] = {}

    def name_of(nk: int) -> str:
        raw = image[4096 + nk + 4 + 76:4096 + nk + 4 + 76 + u16(nk, 0x48)]
        return raw.decode("latin-1") if u16(nk, 2) & 0x20 else raw.decode("utf-16-le",
                                                                           "surrogatepass")

    root = struct.unpack_from("<I", image, 36)[0]
    stack = [root]
    while stack:
        nk = stack.pop()
        owned.add(nk)
        sk = u32(nk, 0x2C)
        sk_refs[sk] = sk_refs.get(sk, 0) + 1
        if u16(nk, 0x4A):
            owned.add(u32(nk, 0x30))
        values = u32(nk, 0x24)
        if values:
            vlist = u32(nk, 0x28)
            owned.add(vlist)
            for i in range(values):
                vk = u32(vlist, 4 * i)
                owned.add(vk)
                size, data = u32(vk, 4), u32(vk, 8)
                n = size & 0x7FFFFFFF
                if size & 0x80000000 or n == 0:
                    continue
                owned.add(data)
                if sig(data) == b"db" and n > 16344:
                    count, seglist = u16(data, 2), u32(data, 4)
                    owned.add(seglist)
                    for j in range(count):
                        owned.add(u32(seglist, 4 * j))
            longest = max(utf16_length(_value_name(image, u32(vlist, 4 * i)))
                          for i in range(values))
            if u32(nk, 0x3C) < longest:
                problems.append(f"{nk:#x}: largest value name too small")
        count = u32(nk, 0x14)
        if not count:
            continue
        index = u32(nk, 0x1C)
        owned.add(index)
        leaves = [index]
        if sig(index) == b"ri":
            leaves = [u32(index, 4 + 4 * i) for i in range(u16(index, 2))]
            owned.update(leaves)
        children = []
        for leaf in leaves:
            kind, n = sig(leaf), u16(leaf, 2)
            if n == 0:
                problems.append(f"{leaf:#x}: empty leaf")
            width = 4 if kind == b"li" else 8
            for i in range(n):
                child = u32(leaf, 4 + width * i)
                name = name_of(child)
                extra = image[4096 + leaf + 8 + width * i + 4:4096 + leaf + 8 + width * i + 8]
                if kind == b"lh" and struct.unpack("<I", extra)[0] != lh_hash(name):
                    problems.append(f"{child:#x}: wrong lh hash")
                if kind == b"lf" and extra != lf_hint(name):
                    problems.append(f"{child:#x}: wrong lf hint")
                if u32(child, 0x10) != nk:
                    problems.append(f"{child:#x}: parent link")
                children.append((name_sort_key(name), child, name))
        if len(children) != count:
            problems.append(f"{nk:#x}: subkey count")
        keys = [k for k, _, _ in children]
        if any(a >= b for a, b in pairwise(keys)):
            problems.append(f"{nk:#x}: siblings out of order")
        if u16(nk, 0x34) < max(utf16_length(n) for _, _, n in children):
            problems.append(f"{nk:#x}: largest subkey name too small")
        stack.extend(c for _, c, _ in children)
    for sk, refs in sk_refs.items():
        owned.add(sk)
        if u32(sk, 0x0C) != refs:
            problems.append(f"sk {sk:#x}: refcount {u32(sk, 0x0C)} != {refs}")
        if u32(u32(sk, 4), 8) != sk or u32(u32(sk, 8), 4) != sk:
            problems.append(f"sk {sk:#x}: ring links")
    return problems, cells.allocated - owned


def _value_name(image: bytes, vk: int) -> str:
    n, flags = struct.unpack_from("<H", image, 4096 + vk + 6)[0], \
        struct.unpack_from("<H", image, 4096 + vk + 4 + 0x10)[0]
    raw = image[4096 + vk + 4 + 20:4096 + vk + 4 + 20 + n]
    return raw.decode("latin-1") if flags & 1 else raw.decode("utf-16-le", "surrogatepass")
