"""Fuzz BCD element decoding (device elements above all) and whole-store rendering.

Seeds are the elements of every BCD store in the corpus: device blobs (partition, file, ramdisk,
locate, boot), strings, integers, object lists.  A decoded device must also re-encode to exactly
its bytes (the layer's own promise), and rendering (`/enum` text and JSON) may only raise
BcdToolError.
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcdtool.bcd import codec, enum
from bcdtool.bcd.device import RawDevice, build_device_element, parse_device_element
from bcdtool.bcd.elements import Format, element_format
from bcdtool.bcd.store import BcdStore
from bcdtool.regf.hive import Hive
from tests.helpers.common import corpus_files
from tests.fuzz.fuzz_support import FUZZ, Budget, mutated, run_hostile


@functools.cache
def store_seeds() -> list[bytes]:
    seeds = [p.read_bytes() for p in corpus_files("bcd", "*.bcd")]
    if not seeds:
        pytest.skip("../shared/corpus is absent")
    return seeds


@functools.cache
def elements() -> list[tuple[int, bytes]]:
    """(code, raw) of every element of every corpus store, device elements first."""
    out: set[tuple[int, bytes]] = set()
    for data in store_seeds():
        store = BcdStore(Hive.from_bytes(data, allow_dirty=True))
        for obj in store.objects():
            out.update((code, elem.raw) for code, elem in obj.elements.items())
    return sorted(out, key=lambda item: (element_format(item[0]) != Format.DEVICE, item))


@functools.cache
def device_blobs() -> list[bytes]:
    blobs = [raw for code, raw in elements() if element_format(code) == Format.DEVICE]
    assert len(blobs) > 20, "the corpus should hold many device elements"
    return blobs


def decode_device(raw: bytes) -> None:
    device = parse_device_element(raw)
    device.text(detailed=True)
    device.to_json()
    if not isinstance(device, RawDevice):
        assert build_device_element(device) == raw, "a decoded device must re-encode exactly"


def decode_element(code: int, raw: bytes) -> None:
    value, layout = codec.decode_with_layout(code, raw)
    codec.encode(code, value, layout=layout)


def render_store(data: bytes) -> None:
    store = BcdStore(Hive.from_bytes(data, name="fuzz", allow_dirty=True))
    chosen = enum.select(store, "all")
    enum.render(store, chosen, enum.View(verbose=True, better=True))
    enum.render(store, chosen)
    enum.to_json(store, chosen)


_BUDGETS: dict[str, Budget] = {}


def budget(name: str) -> Budget:
    return _BUDGETS.setdefault(name, Budget())


@FUZZ
@given(data=st.data())
def test_device_elements(data):
    plan = data.draw(mutated(device_blobs()))
    if not budget("device").spent():
        run_hostile(budget("device"), "BCD device elements", decode_device, plan.build())


@FUZZ
@given(data=st.data())
def test_device_elements_nested(data):
    """Ramdisk/file devices nest a partition descriptor; mutate only inside the nesting."""
    nested = [b for b in device_blobs() if len(b) > 120] or device_blobs()
    plan = data.draw(mutated(nested, focus=160))
    if not budget("device-nested").spent():
        run_hostile(budget("device-nested"), "BCD device elements (nested)", decode_device,
                    plan.build())


@FUZZ
@given(data=st.data())
def test_element_codec(data):
    code, raw = data.draw(st.sampled_from(elements()))
    if data.draw(st.booleans()):
        code = data.draw(st.sampled_from([c for c, _ in elements()]))
    plan = data.draw(mutated([raw or b"\0"]))
    if not budget("codec").spent():
        run_hostile(budget("codec"), "BCD element codec", decode_element, code, plan.build())


@FUZZ
@given(data=st.data())
def test_store_render(data):
    plan = data.draw(mutated(store_seeds()))
    if not budget("store").spent():
        run_hostile(budget("store"), "BCD store + /enum render", render_store, plan.build())
