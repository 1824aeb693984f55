"""Shared pieces of the fuzz harness: example budget, hard per-input time bound, byte mutators.

`BCDTOOL_FUZZ_EXAMPLES` sets the number of inputs per target (small by default so CI's pass is
short; `make fuzz` runs 20000).  Hypothesis' `deadline` only measures an input once it finishes,
so a real hang is caught by `bounded()` (an interval timer) instead, and a test-level budget
(`BUDGET`) stops the generation of new inputs when a target has run long enough.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from bcdtool.blockdev.base import BlockDevice
from bcdtool.errors import BcdToolError

EXAMPLES = int(os.environ.get("BCDTOOL_FUZZ_EXAMPLES", "60"))
#: Hard bound on one input (seconds): longer is a hang, whatever the input.
PER_INPUT = float(os.environ.get("BCDTOOL_FUZZ_INPUT_SECONDS", "5"))
#: Wall-clock budget of one fuzz target; past it, remaining examples pass without running.
BUDGET = float(os.environ.get("BCDTOOL_FUZZ_BUDGET", str(max(30.0, EXAMPLES * 0.05))))

FUZZ = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=PER_INPUT),
                suppress_health_check=list(HealthCheck), derandomize=EXAMPLES <= 200,
                database=None, print_blob=True)


class Hang(Exception):
    """An input ran past PER_INPUT seconds (not a BcdToolError: it fails the test)."""


@contextlib.contextmanager
def bounded(seconds: float = PER_INPUT):
    """Raise Hang inside the block once it has run `seconds` (main thread only)."""
    def alarm(signum, frame):
        raise Hang(f"input still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Budget:
    """Per-test wall clock: `spent()` is True once BUDGET seconds have passed since creation."""

    def __init__(self, seconds: float = BUDGET) -> None:
        self.end = time.monotonic() + seconds
        self.ran = 0

    def spent(self) -> bool:
        return time.monotonic() > self.end


#: How many inputs every fuzz target really ran (for docs/reliability.md), by test name.
RAN: dict[str, int] = {}


def run_hostile(budget: Budget, name: str, func, *args) -> object:
    """Run `func(*args)` on hostile input: only BcdToolError may escape, within PER_INPUT.

    Returns func's result, or the BcdToolError it raised.
    """
    if budget.spent():
        return None
    budget.ran += 1
    RAN[name] = RAN.get(name, 0) + 1
    try:
        with bounded():
            return func(*args)
    except BcdToolError as exc:
        str(exc)            # the message itself must be renderable
        return exc


class BytesDevice(BlockDevice):
    """A disk or image file held in memory (real bytes, just not in a file)."""

    def __init__(self, data: bytes, name: str = "fuzz") -> None:
        super().__init__(len(data), name=name)
        self.data = bytes(data)

    def _read(self, offset: int, length: int) -> bytes:
        return self.data[offset:offset + length]


# -- mutations of real bytes -------------------------------------------------------------------

_INTERESTING_U32 = [0, 1, 0x7F, 0x80, 0xFF, 0x1000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0,
                    0xFFFFFFFF, 0xFFFFFFFE]


def _flip(data: bytearray, pos: int, bit: int) -> None:
    if data:
        data[pos % len(data)] ^= 1 << bit


def _u32(data: bytearray, pos: int, value: int) -> None:
    if len(data) >= 4:
        pos = (pos % (len(data) - 3)) & ~3
        data[pos:pos + 4] = value.to_bytes(4, "little")


def _u64(data: bytearray, pos: int, value: int) -> None:
    if len(data) >= 8:
        pos = (pos % (len(data) - 7)) & ~7
        data[pos:pos + 8] = value.to_bytes(8, "little")


@st.composite
def mutated(draw, seeds: list[bytes], *, focus: int | None = None) -> bytes:
    """A seed with a few mutations: bit flips, hostile 32/64-bit counts and lengths, truncation,
    splices of another seed, zeroed or duplicated ranges.  `focus` limits positions to the
    first `focus` bytes (headers and maps, where most parsing happens)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    span = lambda: draw(st.integers(0, max(0, min(len(data), focus or len(data)) - 1)))  # noqa: E731
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "flip", "u32", "u32", "u64", "trunc", "splice",
                                     "zero", "dup"]))
        if not data:
            break
        if kind == "flip":
            _flip(data, span(), draw(st.integers(0, 7)))
        elif kind == "u32":
            value = draw(st.sampled_from(_INTERESTING_U32) | st.integers(0, 2 ** 32 - 1))
            _u32(data, span(), value)
        elif kind == "u64":
            value = draw(st.sampled_from([2 ** 63, 2 ** 64 - 1, 2 ** 40, 2 ** 32])
                         | st.integers(0, 2 ** 64 - 1))
            _u64(data, span(), value)
        elif kind == "trunc":
            del data[span():]
        elif kind == "splice":
            other = draw(st.sampled_from(seeds))
            start, length = span(), draw(st.integers(1, 4096))
            src = draw(st.integers(0, max(0, len(other) - 1)))
            data[start:start + length] = other[src:src + length]
        elif kind == "zero":
            start, length = span(), draw(st.integers(1, 4096))
            data[start:start + length] = bytes(len(data[start:start + length]))
        else:
            start, length = span(), draw(st.integers(1, 512))
            data[start:start] = data[start:start + length]
    return bytes(data)
