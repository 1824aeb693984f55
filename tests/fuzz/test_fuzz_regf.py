"""Fuzz the hive reader, the validator and transaction-log replay with mutated corpus hives.

Every input is a real hive (or log) from ../shared/corpus with a few mutations; reading it fully
(every key, value and data), validating it and replaying its logs may raise only BcdToolError,
within the per-input time bound.
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcdtool.regf.check import check
from bcdtool.regf.hive import Hive
from bcdtool.regf.logs import recover
from tests.helpers.common import corpus_files, corpus_hives
from tests.fuzz.fuzz_support import FUZZ, Budget, mutated, run_hostile

#: Large system hives make each input slow; the BCD stores and small hives carry the structure.
MAX_SEED = 512 * 1024


@functools.cache
def hive_seeds() -> list[bytes]:
    seeds = [p.read_bytes() for p in corpus_hives() if p.stat().st_size <= MAX_SEED]
    if not seeds:
        pytest.skip("../shared/corpus is absent")
    return seeds


@functools.cache
def log_sets() -> list[tuple[bytes, list[tuple[str, bytes]]]]:
    """(primary, [(log name, log bytes)]) for every corpus hive that has logs beside it."""
    out = []
    for primary in corpus_hives():
        logs = [p for p in corpus_files(primary.parent.name, primary.name + ".LOG*")]
        if logs and primary.stat().st_size <= 4 * MAX_SEED:
            out.append((primary.read_bytes(), [(p.name, p.read_bytes()) for p in logs]))
    if not out:
        pytest.skip("../shared/corpus is absent")
    return out


def read_everything(data: bytes) -> int:
    """Open (recovering nothing), walk every key and decode every value, then validate."""
    hive = Hive.from_bytes(data, name="fuzz", allow_dirty=True)
    seen = 0
    for key in hive.walk():
        key.class_name, key.timestamp  # noqa: B018 (reading them is the test)
        for value in key.values():
            value.data  # noqa: B018
            seen += 1
    check(hive)
    return seen


def replay(primary: bytes, logs: list[tuple[str, bytes]]) -> None:
    """Replay logs in memory, then read the recovered image like any hive."""
    recovery = recover(primary, logs)
    read_everything(bytes(recovery.data))


_BUDGET: dict[str, Budget] = {}


def budget(name: str) -> Budget:
    return _BUDGET.setdefault(name, Budget())


@FUZZ
@given(data=st.data())
def test_hive_reader_and_validator(data):
    plan = data.draw(mutated(hive_seeds(), focus=8192))
    if not budget("hive").spent():
        run_hostile(budget("hive"), "hive reader + validator", read_everything, plan.build())


@FUZZ
@given(data=st.data())
def test_hive_reader_deep_mutations(data):
    """Mutations anywhere in the file (cells deep inside hbins, big-data lists, security)."""
    plan = data.draw(mutated(hive_seeds()))
    if not budget("hive-deep").spent():
        run_hostile(budget("hive-deep"), "hive reader (deep)", read_everything, plan.build())


@FUZZ
@given(data=st.data())
def test_log_replay(data):
    primary, logs = data.draw(st.sampled_from(log_sets()))
    which = data.draw(st.sampled_from(["log", "log", "primary", "both"]))
    log_plan = primary_plan = None
    if which in ("log", "both"):
        index = data.draw(st.integers(0, len(logs) - 1))
        log_plan = data.draw(mutated([logs[index][1]], focus=16384))
    if which in ("primary", "both"):
        primary_plan = data.draw(mutated([primary], focus=8192))
    if budget("logs").spent():
        return
    if log_plan is not None:
        logs = logs[:index] + [(logs[index][0], log_plan.build())] + logs[index + 1:]
    if primary_plan is not None:
        primary = primary_plan.build()
    run_hostile(budget("logs"), "log replay", replay, primary, logs)
