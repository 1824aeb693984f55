"""Hostile element bytes: decoding either succeeds or raises a BcdToolError, never anything else."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bcdtool.bcd import codec
from bcdtool.bcd.device import build_device_element, parse_device_element
from bcdtool.errors import BcdToolError

CODES = [0x11000001, 0x12000004, 0x23000003, 0x14000006, 0x25000004, 0x16000020, 0x1700000a,
         0x18000001]


@settings(max_examples=300, deadline=None)
@given(code=st.sampled_from(CODES), raw=st.binary(max_size=300))
def test_decode_is_total(code, raw):
    try:
        value, layout = codec.decode_with_layout(code, raw)
    except BcdToolError:
        return
    assert codec.encode(code, value, layout=layout) == raw


@settings(max_examples=300, deadline=None)
@given(head=st.sampled_from([0, 5, 6, 8]), flags=st.integers(0, 2), body=st.binary(max_size=200),
       size_delta=st.integers(-8, 8))
def test_device_blobs_with_plausible_headers(head, flags, body, size_delta):
    size = max(0, 16 + len(body) + size_delta)
    raw = bytes(16) + head.to_bytes(4, "little") + flags.to_bytes(4, "little") + \
        size.to_bytes(4, "little") + bytes(4) + body
    try:
        dev = parse_device_element(raw)
    except BcdToolError:
        return
    assert build_device_element(dev) == raw
