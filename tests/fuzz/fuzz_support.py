"""Shared pieces of the fuzz harness: example budget, hard per-input time bound, byte mutators.

`BCDTOOL_FUZZ_EXAMPLES` sets the number of inputs per target (small by default so CI's pass is
short; `make fuzz` runs 20000).  Hypothesis' `deadline` only measures an input once it finishes,
so a real hang is caught by `bounded()` (an interval timer) instead, and a test-level budget
(`BUDGET`) ends a target once it has run long enough: each test returns before drawing its input
once its budget is spent, so the remaining examples cost nothing (`RAN` counts what really ran).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from bcdtool.blockdev.base import BlockDevice
from bcdtool.errors import BcdToolError

EXAMPLES = int(os.environ.get("BCDTOOL_FUZZ_EXAMPLES", "60"))
#: Hard bound on one input (seconds): longer is a hang, whatever the input.  Generous, so a
#: loaded 2-core machine never fails an input that merely ran slowly (no speed assertion).
PER_INPUT = float(os.environ.get("BCDTOOL_FUZZ_INPUT_SECONDS", "60"))
#: Wall-clock budget of one fuzz target; past it, the remaining examples return at once.
BUDGET = float(os.environ.get("BCDTOOL_FUZZ_BUDGET", str(max(30.0, EXAMPLES * 0.05))))

FUZZ = settings(max_examples=EXAMPLES, deadline=None,
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
#
# Strategies draw only a *plan* (which seed, which small edits where): drawing stays cheap and
# identical from run to run, and the bytes (copies of multi-MiB images) are built by
# `Mutation.build()` inside the test, after the budget check.

_INTERESTING_U32 = [0, 1, 0x7F, 0x80, 0xFF, 0x1000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0,
                    0xFFFFFFFF, 0xFFFFFFFE]
_INTERESTING_U64 = [2 ** 63, 2 ** 64 - 1, 2 ** 40, 2 ** 32]


class Mutation:
    """A seed and the edits to make to it; `build()` gives the mutated bytes."""

    def __init__(self, seed: bytes, focus: int | None, edits: list[tuple]) -> None:
        self.seed, self.focus, self.edits = seed, focus, edits

    def __repr__(self) -> str:       # what Hypothesis prints for a failing example
        return f"Mutation(seed of {len(self.seed)} bytes, focus={self.focus}, edits={self.edits})"

    def build(self) -> bytes:
        data = bytearray(self.seed)
        for kind, where, a, b in self.edits:
            if not data:
                break
            pos = where % max(1, min(len(data), self.focus or len(data)))
            if kind == "flip":
                data[pos] ^= 1 << (a % 8)
            elif kind in ("u32", "u64"):
                width = 4 if kind == "u32" else 8
                if len(data) >= width:
                    pos = min(pos, len(data) - width) & ~(width - 1)
                    data[pos:pos + width] = a.to_bytes(width, "little")
            elif kind == "trunc":
                del data[pos:]
            elif kind == "splice":
                other = b
                src = a % max(1, len(other))
                chunk = other[src:src + 1 + a % 4096]
                data[pos:pos + len(chunk)] = chunk
            elif kind == "zero":
                end = min(len(data), pos + 1 + a % 4096)
                data[pos:end] = bytes(end - pos)
            else:                                   # dup: repeat a range in place
                data[pos:pos] = data[pos:pos + 1 + a % 512]
        return bytes(data)


@st.composite
def mutated(draw, seeds: list[bytes], *, focus: int | None = None) -> Mutation:
    """A plan of a few mutations of one seed: bit flips, hostile 32/64-bit counts and lengths,
    truncation, splices of another seed, zeroed or duplicated ranges.  `focus` limits positions
    to the first `focus` bytes (headers and maps, where most parsing happens)."""
    seed = draw(st.sampled_from(seeds))
    edits = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "flip", "u32", "u32", "u64", "trunc", "splice",
                                     "zero", "dup"]))
        where = draw(st.integers(0, 2 ** 31 - 1))
        if kind == "u32":
            a = draw(st.sampled_from(_INTERESTING_U32) | st.integers(0, 2 ** 32 - 1))
        elif kind == "u64":
            a = draw(st.sampled_from(_INTERESTING_U64) | st.integers(0, 2 ** 64 - 1))
        else:
            a = draw(st.integers(0, 2 ** 31 - 1))
        b = draw(st.sampled_from(seeds)) if kind == "splice" else None
        edits.append((kind, where, a, b))
    return Mutation(seed, focus, edits)


@st.composite
def mutated_text(draw, raw: bytes, fragments: list[str]) -> bytes:
    """A text file mutated: byte mutations (`mutated`), or 1-8 of the format's syntax
    `fragments` inserted at random places."""
    if draw(st.booleans()):
        return draw(mutated([raw or b"\n"])).build()
    text = raw.decode("utf-8", "replace")
    for _ in range(draw(st.integers(1, 8))):
        pos = draw(st.integers(0, len(text)))
        text = text[:pos] + draw(st.sampled_from(fragments)) + text[pos:]
    return text.encode("utf-8", "surrogatepass")
