"""The generated `*layout_packed.py` modules are current and agree with construct.

Each layout every command reads is declared once with construct (`*layout.py`); bcdtool runs on
the `Packed` forms generated from those declarations (bcdtool/packed.py says why).  These tests
regenerate every packed module and compare, then parse random and mutated bytes with both
construct and the packed form (same fields and values, same refusals) and build back.
"""

from __future__ import annotations

import importlib
import random
from pathlib import Path

import construct
import pytest

from bcdtool import packgen
from bcdtool.errors import FormatError
from bcdtool.packed import Packed, Record
from bcdtool.regf import layout
from bcdtool.regf import layout_packed as L

REPO = Path(__file__).resolve().parent.parent
#: Every declaration module with a generated sibling (the test below finds them all).
DECLARED = ["bcdtool.regf.layout", "bcdtool.bcd.device_layout",
            "bcdtool.blockdev.partitions_layout", "bcdtool.fs.bootsector_layout"]


def test_every_generated_module_has_its_declaration_here():
    generated = sorted(p.relative_to(REPO).with_suffix("").as_posix().replace("/", ".")
                       for p in (REPO / "bcdtool").rglob("*_packed.py"))
    assert generated == sorted(f"{name}_packed" for name in DECLARED)


@pytest.mark.parametrize("name", DECLARED)
def test_generated_module_is_current(name):
    module = importlib.import_module(name)
    wanted = packgen.packed_source(module, module.__file__)
    current = Path(module.__file__).with_name(Path(module.__file__).stem + "_packed.py")
    assert current.read_text(encoding="utf-8") == wanted, \
        f"{current.name} is stale: run `python -m {name}`"


def _pairs():
    for name in DECLARED:
        declared = importlib.import_module(name)
        packed = importlib.import_module(name + "_packed")
        for attr, value in vars(declared).items():
            if isinstance(value, construct.Struct):
                yield pytest.param(value, getattr(packed, attr), id=f"{name}.{attr}")


def _plain(value):
    """construct's Container/ListContainer (or our Record/list) as plain dicts and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _samples(declaration: construct.Struct, packed: Packed, seed: str) -> list[bytes]:
    """Random bytes, and random bytes with the constants in place (so the fields are read)."""
    rng = random.Random(seed)
    out = []
    for _ in range(40):
        data = bytearray(rng.randbytes(packed.size + rng.choice((0, 0, 7))))
        if rng.random() < 0.7:
            raw = construct_build_consts(declaration, data)
            data[:len(raw)] = raw
        out.append(bytes(data))
    return out


def construct_build_consts(declaration: construct.Struct, data: bytearray) -> bytes:
    """`data` with every constant field of `declaration` holding its constant."""
    out, pos = bytearray(data), 0
    for sub in declaration.subcons:
        inner = sub.subcon if isinstance(sub, construct.Renamed) else sub
        size = sub.sizeof()
        if isinstance(inner, construct.Const):
            out[pos:pos + size] = inner.build(None)
        pos += size
    return bytes(out)


@pytest.mark.parametrize(("declaration", "packed"), list(_pairs()))
def test_packed_parses_and_builds_as_construct_does(declaration, packed):
    assert packed.size == declaration.sizeof()
    for data in _samples(declaration, packed, packed.name):
        try:
            expected = _plain(declaration.parse(data))
        except construct.ConstructError:
            with pytest.raises(FormatError, match="invalid"):
                packed.parse(data)
            continue
        record = packed.parse(data, what="x")
        assert isinstance(record, Record) and _plain(record) == expected
        for name, value in record.items():
            assert getattr(record, name) == value
        assert packed.build(record) == declaration.build(expected)
    with pytest.raises(FormatError, match="stream read less"):
        packed.parse(bytes(packed.size - 1))
    with pytest.raises(FormatError, match="outside"):
        packed.parse(bytes(packed.size), offset=packed.size + 1)


@pytest.mark.parametrize(("declaration", "packed"), list(_pairs()))
def test_packed_refuses_to_build_what_construct_refuses(declaration, packed):
    good = packed.parse(construct_build_consts(declaration, bytearray(packed.size)))
    for name, code in packed.fields:
        if name is None or isinstance(code, tuple):
            continue
        missing = {k: v for k, v in good.items() if k != name}
        if name in packed.consts:
            # a constant may be left out (both fill it in) but not given wrong
            assert packed.build(missing) == declaration.build(missing)
            assert packed.build({**good, name: None}) == declaration.build({**good, name: None})
            wrong = {**good, name: bytes(len(good[name])) if isinstance(good[name], bytes)
                     else good[name] + 1}
            with pytest.raises(construct.ConstructError):
                declaration.build(wrong)
            with pytest.raises(FormatError, match="cannot encode"):
                packed.build(wrong)
            continue
        with pytest.raises(FormatError, match="cannot encode"):
            packed.build(missing)
        bad = {**good, name: b"\0" * 999 if code.endswith("s") else 1 << 70}
        with pytest.raises(construct.ConstructError):
            declaration.build(bad)
        with pytest.raises(FormatError, match="cannot encode"):
            packed.build(bad)


def test_a_field_without_a_packed_form_is_refused():
    with pytest.raises(TypeError, match="no packed form"):
        packgen._field("x" / construct.GreedyBytes, {})
    with pytest.raises(TypeError, match="no packed form"):
        packgen._field("x" / construct.Int32ub, {})  # big-endian


def test_unpack_from_is_the_raw_fields_in_order():
    data = construct_build_consts(layout.KeyValue, bytearray(range(L.KeyValue.size)))
    record = L.KeyValue.parse(data)
    raw = L.KeyValue.unpack_from(data)
    assert raw == tuple(record[name] for name in L.KeyValue.names)
    assert L.KeyValue.index("data_type") == L.KeyValue.names.index("data_type")
