"""The NTFS run-list decoder and MFT scan behind the "no other file uses the store's clusters"
check: a table of mapping pairs (ntfs-3g runlist.c encodings), and hostile lists refused."""

from __future__ import annotations

import pytest

from bcdtool.errors import CorruptionError
from bcdtool.fs.ntfs_mft import decode_runs


@pytest.mark.parametrize("pairs,runs", [
    (b"\x00", []),
    (b"\x11\x30\x60\x00", [(0x60, 0x30)]),                           # one run
    (b"\x21\x18\x34\x56\x00", [(0x5634, 0x18)]),                     # 2-byte LCN
    (b"\x11\x30\x60\x21\x10\x00\x01\x00", [(0x60, 0x30), (0x160, 0x10)]),  # relative offset
    (b"\x11\x30\x60\x01\x08\x11\x10\xf0\x00", [(0x60, 0x30), (0x50, 0x10)]),  # sparse, negative
    (b"\x11\x30\x60", [(0x60, 0x30)]),                               # the end of the bytes ends
])
def test_decode_runs(pairs, runs):
    assert list(decode_runs(pairs)) == runs


@pytest.mark.parametrize("pairs", [
    b"\x01\x00",                     # a run of 0 clusters
    b"\x11\xff\x10\x00",             # a negative cluster count
    b"\x91\x30" + bytes(9),          # 9 length bytes
    b"\x41\x30\x60\x00",             # the offset runs past the bytes
    b"\x11\x30\x80\x00",             # starts before the volume (LCN -128)
    b"\x10\x60\x00",                 # no length bytes
])
def test_hostile_run_lists_are_refused(pairs):
    with pytest.raises(CorruptionError):
        list(decode_runs(pairs))
