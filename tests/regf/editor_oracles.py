"""Independent views of a hive for the editor tests: python-registry, hivexregedit, our reader.

Each view is a model: {key path tuple: [(value name, type, raw bytes), ...]} with the values in
stored order.  The readers' known quirks (regf.md §13.4) are normalised in `same_data`.
"""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

from Registry import Registry

from bcdtool.regf.hive import Hive
from bcdtool.wintext import name_sort_key

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


_VALUE = re.compile(r'^(@|"((?:[^"\\]|\\.)*)")=(dword:([0-9a-f]{8})|hex(?:\(([0-9a-f]+)\))?:(.*))$')


def hivex(image: bytes, tmp: Path) -> Model:
    """Model read by `hivexregedit --export` (hivex, an independent C reader)."""
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
        for (name, vtype, raw), (_, _, data) in zip(values, got):
            assert same_data(vtype, raw, data, reader), (reader, path, name, vtype, raw[:16],
                                                         data[:16])


def assert_all_readers(image: bytes, expected: Model, tmp: Path, *, hivex_too: bool = True) -> None:
    """Our reader and validator, python-registry and hivex all see exactly `expected`."""
    assert_models_agree(expected, ours(image), "bcdtool")
    assert_models_agree(expected, python_registry(image), "python-registry")
    if hivex_too:
        assert_models_agree(expected, hivex(image, tmp), "hivex")
    try:
        from bcdtool.regf.check import check
    except ImportError:
        return
    errors = [f for f in check(Hive.from_bytes(image)) if f.severity == "error"]
    assert not errors, errors[:5]
