"""`forensic` on damaged stores and logs: every section runs or fails with one of bcdtool's errors,
never a traceback (bit flips and truncations of real stores and their logs)."""

from __future__ import annotations

import random

import pytest

from bcdtool.errors import BcdToolError
from bcdtool.ops.forensic import investigate, render_text

CASES = [("win11-uefi-installed-2025.bcd", (".LOG", ".LOG1")),
         ("win10-uefi-installed-crufty-2016.bcd", (".LOG", ".LOG1")),
         ("win10-uefi-bitpixie-modified.bcd", ())]


def _damage(data: bytes, rng: random.Random, flips: int) -> bytes:
    out = bytearray(data)
    for _ in range(flips):
        pos = rng.randrange(len(out))
        out[pos] ^= 1 << rng.randrange(8)
    return bytes(out)


@pytest.mark.parametrize("name, logs", CASES)
@pytest.mark.parametrize("seed", range(8))
def test_damaged_inputs_raise_only_our_errors(corpus, tmp_path, name, logs, seed):
    rng = random.Random(f"{name}-{seed}")
    store = (corpus / "bcd" / name).read_bytes()
    target = tmp_path / "BCD"
    damaged = _damage(store[4096:], rng, 4)
    head = store[:4096] if seed % 2 else _damage(store[:4096], rng, 1)
    target.write_bytes((head + damaged)[:len(store) - (seed * 1000 if seed in (3, 6) else 0)])
    for suffix in logs:
        log = (corpus / "bcd" / (name + suffix)).read_bytes()
        (tmp_path / ("BCD" + suffix)).write_bytes(_damage(log, rng, 3))
    try:
        report = investigate(str(target), timeline=True, history=True, deleted=True,
                             generated_at="T")
    except BcdToolError:
        return
    assert render_text(report)
    report.to_json()
