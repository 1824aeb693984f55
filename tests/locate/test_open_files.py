"""open_hive on hive files and folders: what is found, why, and that nothing is opened for
writing."""

from __future__ import annotations

import os

import pytest

from bcdtool.errors import InvalidArgumentError, NotFoundError
from bcdtool.locate import open_hive
from tests.locate.locate_helpers import BOOTMGR, WriteWatch, open_modes


def _tree(root, files: dict[str, bytes]):
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_hive_file(tmp_path, store_bytes):
    path = tmp_path / "BCD"
    path.write_bytes(store_bytes)
    with open_hive(path) as handle:
        assert handle.hive.key(f"Objects\\{BOOTMGR}").name == BOOTMGR
        assert handle.location == {"target": str(path), "kind": "file",
                                   "path": os.path.realpath(path)}
        assert handle.hive.original == store_bytes


@pytest.mark.parametrize("layout, chosen, why", [
    ({"efi/microsoft/boot/bcd": 1}, "efi/microsoft/boot/bcd", "UEFI"),
    ({"BOOT/bcd": 1}, "BOOT/bcd", "BIOS"),
    ({"EFI/Microsoft/Boot/BCD": 1, "Boot/BCD": 2}, "EFI/Microsoft/Boot/BCD",
     "also present: Boot/BCD"),
])
def test_folder_store_discovery_is_case_insensitive(tmp_path, store_bytes, layout, chosen, why):
    root = _tree(tmp_path / "vol", {rel: store_bytes for rel in layout})
    with open_hive(root) as handle:
        assert handle.location["path"] == chosen
        assert why in handle.description
        assert handle.hive.key(f"Objects\\{BOOTMGR}")


def test_folder_path_override_and_hive_kind(tmp_path, store_bytes):
    root = _tree(tmp_path / "vol", {"Windows/System32/config/SYSTEM": store_bytes,
                                    "EFI/Microsoft/Boot/BCD": store_bytes})
    with open_hive(root, path="windows/system32/CONFIG/system", kind="hive") as handle:
        assert handle.location["path"] == "Windows/System32/config/SYSTEM"
        assert "--path" in handle.description
    with pytest.raises(InvalidArgumentError):
        open_hive(root, kind="hive")
    with pytest.raises(InvalidArgumentError):
        open_hive(root, partition=1)
    with pytest.raises(NotFoundError):
        open_hive(root, path="Boot/BCD")
    with pytest.raises(NotFoundError):
        open_hive(root, path="../vol/EFI/Microsoft/Boot/BCD")


def test_missing_and_empty_targets(tmp_path):
    with pytest.raises(NotFoundError):
        open_hive(tmp_path / "nope")
    with pytest.raises(NotFoundError):
        open_hive(tmp_path)
    path = tmp_path / "BCD"
    path.write_bytes(b"regf")
    with pytest.raises(InvalidArgumentError):
        open_hive(path, partition=1)


def test_read_only_opens_nothing_for_writing(tmp_path, store_bytes):
    root = _tree(tmp_path / "vol", {"EFI/Microsoft/Boot/BCD": store_bytes,
                                    "EFI/Microsoft/Boot/BCD.LOG1": b""})
    store = root / "EFI/Microsoft/Boot/BCD"
    watch = WriteWatch(store.parent, store)
    try:
        with open_hive(root, read_only=True) as handle:
            assert all(mode == 0 for mode in open_modes(store))
            handle.hive.walk()
        assert watch.events() == []
    finally:
        watch.close()


def test_folder_symlink_out_of_the_folder_is_refused(tmp_path, store_bytes):
    from bcdtool.errors import GuestError

    outside = _tree(tmp_path / "outside", {"Boot/BCD": store_bytes})
    root = tmp_path / "vol"
    root.mkdir()
    (root / "Boot").symlink_to(outside / "Boot")
    with pytest.raises(GuestError):
        open_hive(root)
