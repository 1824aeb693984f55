"""Hostile disks through the whole target layer: a small FAT volume holding a real store, with
random bytes overwritten in its boot sector, FAT, folders and the store itself.  Opening it,
reading the store and planning a commit may only succeed or raise a BcdToolError."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bcdtool.errors import BcdToolError
from bcdtool.locate import open_hive
from bcdtool.locate.commit import commit as commit_handle
from tests.helpers.common import CORPUS, need_tools

EXAMPLES = int(os.environ.get("BCDTOOL_FUZZ_EXAMPLES", "40"))
#: The interesting bytes of a 2 MiB FAT12 volume: boot sector, FATs, root folder, first clusters.
HOT = 96 * 1024


@pytest.fixture(scope="module")
def seed(tmp_path_factory) -> bytes:
    from fixtures import images

    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    need_tools("mkfs.fat", "mcopy")
    store = (CORPUS / "bcd" / "win10-uefi-minimal-windeploy.bcd").read_bytes()
    path = tmp_path_factory.mktemp("seed") / "esp.vol"
    images.make_fat_volume(path, {"EFI/Microsoft/Boot/BCD": store}, fat_bits=12, size_mib=2)
    return path.read_bytes()


def test_seed_opens(seed, tmp_path):
    path = tmp_path / "seed.vol"
    path.write_bytes(seed)
    with open_hive(path) as handle:
        assert handle.location["path"] == "EFI/Microsoft/Boot/BCD"


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(edits=st.lists(st.tuples(st.integers(0, HOT - 1), st.binary(min_size=1, max_size=16)),
                      min_size=1, max_size=8))
def test_mutated_volume_gives_a_clear_error_or_a_store(seed, tmp_path_factory, edits):
    data = bytearray(seed)
    for offset, chunk in edits:
        data[offset:offset + len(chunk)] = chunk
    path = tmp_path_factory.mktemp("hostile") / "esp.vol"
    path.write_bytes(bytes(data))
    try:
        with open_hive(path, read_only=True) as handle:
            list(handle.hive.walk())
            commit_handle(handle, handle.hive.original, dry_run=True)
    except BcdToolError:
        pass
