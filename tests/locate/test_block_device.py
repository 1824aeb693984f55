"""Block devices (Linux loop devices over a disk image): found, edited in place, undone; a
read-only device is refused.  Skipped where loop devices cannot be attached."""

from __future__ import annotations


import pytest

from bcdtool.errors import ReadOnlyError
from bcdtool.ops.undo import undo
from bcdtool.locate import open_hive
from bcdtool.locate.commit import commit as commit_handle
from tests.helpers.common import CORPUS, loop_device, need_tools, sha
from tests.locate.locate_helpers import build_disk, registry_elements, sac_edit


@pytest.fixture
def image(tmp_path):
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    need_tools("losetup", "sgdisk", "mkfs.fat", "mcopy")
    return build_disk("uefi", tmp_path, CORPUS)


def test_edit_through_a_block_device_and_undo(image):
    from fixtures import images

    before = sha(image.path.read_bytes())
    with loop_device(image.path) as device:
        with open_hive(device) as handle:
            assert handle.location["kind"] == "device" and handle.location["partition"] == 1
            new_image, elements = sac_edit(handle.hive)
            result = commit_handle(handle, new_image)
        assert result.verified
        store = images.fat_get(image.path, image.bcd_path, offset=image.bcd_part.start)
        assert registry_elements(store, elements) == elements
        undo(result.journal)
    assert sha(image.path.read_bytes()) == before


def test_read_only_block_device_is_refused(image):
    before = sha(image.path.read_bytes())
    with loop_device(image.path, read_only=True) as device:
        with open_hive(device) as handle:
            new_image, _ = sac_edit(handle.hive)
            with pytest.raises(ReadOnlyError):
                commit_handle(handle, new_image)
    assert sha(image.path.read_bytes()) == before
