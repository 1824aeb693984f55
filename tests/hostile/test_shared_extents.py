"""Before the first write, the store's clusters must be its own: FAT chains cross-linked with
another file or folder, FAT copies that disagree, NTFS runs in system files' clusters or marked
free are refused (nothing written); a dirty FAT volume is written when the checks pass, unless
--strict."""

from __future__ import annotations

import shutil

import pytest
import pytsk3

from tests.hostile.hostile_helpers import FatImage, run_cli
from tests.helpers.common import CORPUS, need_tools
from tests.locate.locate_helpers import DISK_STORES, registry_elements
from bcdtool.blockdev.detect import open_image
from bcdtool.errors import CorruptionError, UnsafeVolumeError
from bcdtool.fs.base import FileRef
from bcdtool.fs.ntfs import NtfsVolume
from bcdtool.locate.discover import locate
from tests.helpers.common import sha

BCD, BOOTX64, BOOT_DIR, LOG = b"BCD        ", b"BOOTX64 EFI", b"BOOT       ", b"BCD     LOG"
EDIT = ["/set", "{bootmgr}", "timeout", "7"]


@pytest.fixture(scope="module")
def esp_disk(tmp_path_factory):
    """GPT + FAT32 ESP with the store, its logs and EFI/Boot/bootx64.efi."""
    from fixtures import images

    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    need_tools("sfdisk", "mkfs.fat", "mcopy", "fsck.fat")
    name, suffixes = DISK_STORES["uefi"]
    files = {f"EFI/Microsoft/Boot/BCD{s}": (CORPUS / "bcd" / (name + s)).read_bytes()
             for s in suffixes}
    files["EFI/Boot/bootx64.efi"] = b"MZ" + bytes(range(256)) * 40
    folder = tmp_path_factory.mktemp("shared")
    return images.build_esp_disk(folder / "esp.img", (CORPUS / "bcd" / name).read_bytes(),
                                 extra_files=files)


@pytest.fixture
def esp(esp_disk, tmp_path):
    """(private copy of the disk, FatImage of its ESP, the store's cluster chain)."""
    image = tmp_path / "esp.img"
    shutil.copyfile(esp_disk.path, image)
    fat = FatImage(image, esp_disk.bcd_part.start)
    return image, fat, fat.chain(fat.first_cluster(fat.entry(BCD)))


def fsck(image, esp_disk, tmp_path) -> tuple[int, str]:
    from fixtures import images

    return images.fsck_fat(image, offset=esp_disk.bcd_part.start, tmp=tmp_path)


def refused(image, *extra) -> str:
    before = sha(image)
    done = run_cli("bcdedit", "/store", image, *extra, *EDIT)
    assert done.returncode == CorruptionError.exit_code, done.stderr
    assert "fsck.fat -n" in done.stderr and "nothing was written" in done.stderr
    assert sha(image) == before
    return done.stderr


def test_clean_disk_passes_and_is_written(esp, esp_disk, tmp_path):
    image, _, _ = esp
    with open_image(image) as dev:
        found = locate(dev)
        found.volume.check_extents_exclusive(found.ref)
        for log in found.logs:
            found.volume.check_extents_exclusive(log)
    done = run_cli("bcdedit", "/store", image, *EDIT)
    assert done.returncode == 0, done.stderr
    assert fsck(image, esp_disk, tmp_path)[0] == 0


def test_folder_on_the_stores_last_cluster_is_refused(esp, esp_disk, tmp_path):
    """The issue's case: EFI/Boot's chain starts at the store's last cluster."""
    image, fat, chain = esp
    fat.set_first_cluster(fat.entry(BOOT_DIR), chain[-1])
    assert "also used by EFI/BOOT" in refused(image)
    assert fsck(image, esp_disk, tmp_path)[0] != 0      # fsck.fat sees the damage too


def test_file_sharing_the_stores_first_cluster_is_refused(esp, esp_disk, tmp_path):
    image, fat, chain = esp
    fat.set_first_cluster(fat.entry(BOOTX64), chain[0])
    assert "EFI/BOOT/BOOTX64.EFI" in refused(image)


def test_file_chain_leading_into_the_store_is_refused(esp, esp_disk, tmp_path):
    image, fat, chain = esp
    other = fat.chain(fat.first_cluster(fat.entry(BOOTX64)))
    for copy in range(fat.fats):
        fat.set_fat(copy, other[-1], chain[len(chain) // 2])
    assert "also used by EFI/BOOT/BOOTX64.EFI" in refused(image)
    assert fsck(image, esp_disk, tmp_path)[0] != 0


def test_log_chain_leading_into_the_store_is_refused(esp):
    image, fat, chain = esp
    log = fat.chain(fat.first_cluster(fat.entry(LOG)))
    for copy in range(fat.fats):
        fat.set_fat(copy, log[-1], chain[1])
    assert "also used by EFI/MICROS~1/BOOT/BCD" in refused(image)


def test_fat_copies_disagreeing_on_the_chain_are_refused(esp, esp_disk, tmp_path):
    image, fat, chain = esp
    fat.set_fat(1, chain[0], 0x0FFFFFFF)                # FAT 2 ends the chain early
    assert "FAT copies disagree" in refused(image)
    assert fsck(image, esp_disk, tmp_path)[0] != 0


def test_dirty_fat_is_written_with_a_note_when_the_checks_pass(esp, esp_disk, tmp_path):
    from fixtures import images

    image, fat, _ = esp
    fat.mark_dirty()
    done = run_cli("bcdedit", "/store", image, *EDIT)
    assert done.returncode == 0, done.stderr
    assert "fsck.fat -a" in done.stderr and "dirty" in done.stderr
    store = images.fat_get(image, "EFI/Microsoft/Boot/BCD", offset=esp_disk.bcd_part.start)
    key = "Objects\\{9dea862c-5cdd-4e70-acc1-f32b344d4795}\\Elements\\25000004"
    assert registry_elements(store, [key])[key] == (7).to_bytes(8, "little")


def test_dirty_fat_is_refused_with_strict(esp):
    image, fat, _ = esp
    fat.mark_dirty()
    before = sha(image)
    done = run_cli("bcdedit", "--strict", "/store", image, *EDIT)
    assert done.returncode == UnsafeVolumeError.exit_code, done.stderr
    assert "fsck.fat -n" in done.stderr
    assert sha(image) == before
    done = run_cli("serial-console", "enable", "--strict", image)
    assert done.returncode == UnsafeVolumeError.exit_code, done.stderr


def test_dirty_and_cross_linked_fat_is_refused_without_strict(esp):
    image, fat, chain = esp
    fat.mark_dirty()
    fat.set_first_cluster(fat.entry(BOOT_DIR), chain[-1])
    refused(image)


# -- NTFS -----------------------------------------------------------------------------------------

@pytest.fixture
def ntfs(hostile_disks, tmp_path):
    """(private copy of the BIOS disk, its NTFS System Reserved partition's start)."""
    image = tmp_path / "bios.img"
    shutil.copyfile(hostile_disks["bios"].path, image)
    return image, hostile_disks["bios"].bcd_part.start


def _runs(image, start, inode: int) -> list[tuple[int, int]]:
    """(volume offset, length) of the non-resident runs of a system file, read with pytsk3."""
    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(image)), offset=start)
    bs = fs.info.block_size
    out = []
    for attr in fs.open_meta(inode=inode):
        if int(attr.info.flags) & int(pytsk3.TSK_FS_ATTR_NONRES):
            out += [(int(r.addr) * bs, int(r.len) * bs) for r in attr if int(r.len)]
    return out


@pytest.mark.parametrize("inode,name", [(0, "$MFT"), (1, "$MFTMirr"), (2, "$LogFile"),
                                        (6, "$Bitmap"), (7, "$Boot")])
def test_ntfs_extents_in_system_files_are_refused(ntfs, inode, name):
    image, start = ntfs
    with open_image(image) as dev:
        found = locate(dev)
        volume = found.volume
        assert isinstance(volume, NtfsVolume)
        volume.check_extents_exclusive(found.ref)                 # the real store passes
        off, length = _runs(image, start, inode)[-1]
        inside = off + length - volume.cluster_size               # the run's last cluster
        ref = FileRef("Boot/BCD", 4096, ((inside, volume.cluster_size),))
        with pytest.raises(CorruptionError, match=name.replace("$", r"\$")):
            volume.check_extents_exclusive(ref)


def test_ntfs_extents_outside_the_volume_are_refused(ntfs):
    image, _ = ntfs
    with open_image(image) as dev:
        volume = locate(dev).volume
        end = volume.dev.size
        with pytest.raises(CorruptionError, match="outside the volume"):
            volume.check_extents_exclusive(FileRef("Boot/BCD", 8192, ((end - 4096, 8192),)))


def test_ntfs_store_marked_free_in_bitmap_is_refused(ntfs):
    """Clear the $Bitmap bit of the store's first cluster; the CLI write is refused, unwritten."""
    image, start = ntfs
    with open_image(image) as dev:
        found = locate(dev)
        cluster = found.ref.extents[0][0] // found.volume.cluster_size
    bitmap_off = _runs(image, start, 6)[0][0]
    with open(image, "r+b") as f:
        f.seek(start + bitmap_off + cluster // 8)
        byte = f.read(1)[0]
        f.seek(start + bitmap_off + cluster // 8)
        f.write(bytes([byte & ~(1 << (cluster % 8))]))
    before = sha(image)
    done = run_cli("bcdedit", "/store", image, *EDIT)
    assert done.returncode == CorruptionError.exit_code, done.stderr
    assert "marked free in $Bitmap" in done.stderr and "ntfsfix -n" in done.stderr
    assert sha(image) == before


@pytest.mark.parametrize("inode,size", [(2, 1 << 63), (2, (1 << 64) - 1), (6, 1 << 63)])
def test_ntfs_system_file_with_a_negative_size_is_one_clear_error(ntfs, inode, size):
    """pytsk3 reports sizes signed: a $LogFile or $Bitmap declaring 2^63 or more bytes must not
    reach it as a negative read (SystemError, exit 1 before)."""
    image, start = ntfs
    with open(image, "r+b") as f:
        f.seek(start)
        boot = f.read(512)
        cluster = int.from_bytes(boot[11:13], "little") * boot[13]
        code = int.from_bytes(boot[64:65], "little", signed=True)
        rec_size = 1 << -code if code < 0 else code * cluster
        record = start + int.from_bytes(boot[48:56], "little") * cluster + inode * rec_size
        f.seek(record)
        rec = f.read(rec_size)
        pos = int.from_bytes(rec[20:22], "little")
        while rec[pos:pos + 4] != b"\x80\x00\x00\x00":
            pos += int.from_bytes(rec[pos + 4:pos + 8], "little")
        assert rec[pos + 8] == 1 and (pos + 0x30) % 512 < 502     # non-resident, clear of fixups
        f.seek(record + pos + 0x30)
        f.write(size.to_bytes(8, "little"))
    for args in (["enum", image], ["bcdedit", "/store", image, *EDIT]):
        done = run_cli(*args)
        assert done.returncode not in (1,), done.stderr
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr
