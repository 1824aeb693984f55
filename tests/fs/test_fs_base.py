"""FileRef extent arithmetic: merging, mapping file ranges to device ranges, refusing gaps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcdtool.errors import CorruptionError, UnsupportedError
from bcdtool.fs.base import FileRef, merge_extents


@pytest.mark.parametrize("extents,merged", [
    ([], ()),
    ([(0, 512), (512, 512)], ((0, 1024),)),
    ([(0, 512), (2048, 512), (2560, 100)], ((0, 512), (2048, 612))),
    ([(4096, 0), (0, 10)], ((0, 10),)),
])
def test_merge(extents, merged):
    assert merge_extents(extents) == merged


def test_locate_across_extents():
    ref = FileRef("f", 3000, ((10_000, 1000), (50_000, 2000)))
    assert ref.locate(0, 3000) == [(10_000, 1000), (50_000, 2000)]
    assert ref.locate(900, 200) == [(10_900, 100), (50_000, 100)]
    assert ref.locate(2999, 1) == [(51_999, 1)]
    assert ref.locate(5, 0) == []
    with pytest.raises(CorruptionError):
        ref.locate(2500, 501)


def test_refused_file_cannot_be_located():
    ref = FileRef("f", 100, (), "the file is compressed", b"x" * 100)
    with pytest.raises(UnsupportedError, match="compressed"):
        ref.locate(0, 10)


@given(st.lists(st.integers(1, 5000), min_size=1, max_size=8), st.data())
def test_locate_maps_every_byte_once(lengths, data):
    """Mapping a range and reading a model disk through it gives the file's bytes."""
    extents, disk, pos = [], {}, 100_000
    content = b""
    for n, length in enumerate(lengths):
        extents.append((pos, length))
        chunk = bytes((n * 7 + i) % 251 for i in range(length))
        disk[pos] = chunk
        content += chunk
        pos += length + 4096 * (n + 1)
    ref = FileRef("f", len(content), tuple(extents))
    offset = data.draw(st.integers(0, len(content)))
    length = data.draw(st.integers(0, len(content) - offset))
    got = b""
    for dev_off, n in ref.locate(offset, length):
        base = max(b for b in disk if b <= dev_off)
        got += disk[base][dev_off - base:dev_off - base + n]
    assert got == content[offset:offset + length]
