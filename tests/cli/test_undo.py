"""`bcdtool bcdedit --store IMAGE` runs the SAC recipe inside disk images; `bcdtool undo` puts
every byte back.  Run as real processes; results read back with qemu-img, mtools and ntfs-3g."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from tests.helpers.common import CORPUS, need_tools, run_process as bcdtool, sha as digest

BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
EMSSETTINGS = "{0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9}"
RECIPE = [["/set", "{bootmgr}", "bootems", "yes"], ["/ems", "{default}", "on"],
          ["/emssettings", "EMSPORT:1", "EMSBAUDRATE:115200"]]
TOOLS = ("sgdisk", "sfdisk", "mkfs.fat", "mcopy", "mkntfs", "ntfscp", "ntfscat", "qemu-img")


@pytest.fixture(scope="module", params=[("uefi", "qcow2"), ("bios", "vhd-dynamic")],
                ids=lambda p: "-".join(p))
def disk(request, tmp_path_factory):
    """(DiskImage, converted image path) for one firmware x format."""
    from fixtures import images

    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    need_tools(*TOOLS)
    firmware, fmt = request.param
    folder = tmp_path_factory.mktemp(firmware)
    if firmware == "uefi":
        store = (CORPUS / "bcd" / "win11-uefi-installed-2025.bcd").read_bytes()
        built = images.build_esp_disk(folder / "disk.img", store)
    else:
        store = (CORPUS / "bcd" / "win10-bios-installed-sysreserved.bcd").read_bytes()
        built = images.build_mbr_disk(folder / "disk.img", store)
    return built, images.convert(built.path, fmt, folder), store


def read_store(disk, image: Path, tmp: Path) -> bytes:
    """The store as qemu-img + mtools/ntfscat see it."""
    from fixtures import images

    raw = images.to_raw(image, tmp / "virtual.raw")
    part = disk.bcd_part
    if part.fs == "fat":
        return images.fat_get(raw, disk.bcd_path, offset=part.start)
    return images.ntfs_get(images.extract(raw, tmp / "vol", part.start, part.length), disk.bcd_path)


def elements(data: bytes) -> dict[str, bytes | None]:
    from Registry import Registry

    reg = Registry.Registry(io.BytesIO(data))
    default = reg.open(f"Objects\\{BOOTMGR}\\Elements\\23000003").value("Element").value()
    out = {}
    for obj, code in ((BOOTMGR, "16000020"), (default, "260000b0"), (EMSSETTINGS, "15000022"),
                      (EMSSETTINGS, "15000023")):
        try:
            out[code] = reg.open(f"Objects\\{obj}\\Elements\\{code}").value("Element").raw_data()
        except Registry.RegistryKeyNotFoundException:
            out[code] = None
    return out


def test_sac_recipe_through_bcdedit_then_undo(disk, tmp_path):
    built, source, original_store = disk
    image = tmp_path / source.name
    image.write_bytes(source.read_bytes())
    state = tmp_path / "state"
    before = digest(image)

    journals = []
    for number, args in enumerate(RECIPE):
        where = ["--store", image] if number != 1 else []
        run = bcdtool("bcdedit", *where, *args, *(["/store", image] if number == 1 else []),
                      state=state)
        assert run.returncode == 0, run.stderr
        assert "The operation completed successfully." in run.stdout
        journals += re.findall(r"bcdtool undo (\S+?\.json)", run.stderr)
    assert len(journals) == 3
    assert elements(read_store(built, image, tmp_path)) == {
        "16000020": b"\x01", "260000b0": b"\x01",
        "15000022": (1).to_bytes(8, "little"), "15000023": (115200).to_bytes(8, "little")}

    # Undo the first edit while later ones sit on top: refused, nothing changes.
    edited = digest(image)
    run = bcdtool("undo", journals[0], state=state)
    assert run.returncode == 10 and "--force" in run.stderr
    assert digest(image) == edited
    for journal in reversed(journals):
        run = bcdtool("undo", journal, state=state)
        assert run.returncode == 0, run.stderr
        assert "the original again" in run.stdout
    assert digest(image) == before
    assert read_store(built, image, tmp_path) == original_store


def test_read_only_and_dry_run_leave_the_image_alone(disk, tmp_path):
    _, source, _ = disk
    image = tmp_path / source.name
    image.write_bytes(source.read_bytes())
    state = tmp_path / "state"
    before = digest(image)
    run = bcdtool("bcdedit", "--store", image, "--read-only", "/ems", "{default}", "on",
                  state=state)
    assert run.returncode == 16, run.stderr          # ReadOnlyError
    run = bcdtool("bcdedit", "--store", image, "--dry-run", "/ems", "{default}", "on", state=state)
    assert run.returncode == 0, run.stderr
    assert "nothing written" in run.stdout
    run = bcdtool("enum", image, "--json", state=state)
    assert run.returncode == 0 and '"partition"' in run.stdout
    assert digest(image) == before
    assert not state.exists()


def test_undo_errors(tmp_path):
    state = tmp_path / "state"
    run = bcdtool("undo", tmp_path / "missing.json", state=state)
    assert run.returncode == 15 and run.stderr.startswith("bcdtool: error:")
    bad = tmp_path / "journal.json"
    bad.write_text("{not json")
    run = bcdtool("undo", bad, state=state)
    assert run.returncode == 11 and "Traceback" not in run.stderr


def test_hive_set_journals_to_backup_dir_and_read_only_refuses(disk, tmp_path):
    _, source, _ = disk
    image = tmp_path / source.name
    image.write_bytes(source.read_bytes())
    state, backups = tmp_path / "state", tmp_path / "backups"
    before = digest(image)
    args = ["hive", "set", image, "Description", "bcdtool-test", "--type", "REG_DWORD",
            "--data", "7"]
    run = bcdtool(*args, "--read-only", state=state)
    assert run.returncode == 16 and digest(image) == before, run.stderr
    run = bcdtool(*args, "--backup-dir", backups, state=state)
    assert run.returncode == 0, run.stderr
    (journal,) = backups.iterdir()
    run = bcdtool("hive", "get", image, "Description", "bcdtool-test", state=state)
    assert run.returncode == 0 and "7" in run.stdout
    run = bcdtool("undo", journal, state=state)
    assert run.returncode == 0, run.stderr
    assert digest(image) == before
    assert not state.exists() or not (state / "bcdtool" / "journal").exists()
