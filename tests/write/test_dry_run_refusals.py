"""A dry run asks the real run's question: for every refusal class, on every sink kind where it
applies, `--dry-run` and the real run exit with the same code and the same message, and neither
writes a byte (the target's files and the state folder are compared before and after).

Classes: clusters shared with another file (FAT), runs shared with another file (NTFS), a log
hard-linked out of the target (hive file, folder), a hibernated Windows volume (folder) or
neighbour partition (disk), an image format that cannot take the bytes in place (compressed
qcow2), read-only media (immutable hive file, immutable Linux root), a Linux image that is not
a mounted root."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bcdtool.errors import (CorruptionError, ReadOnlyError, UnsafePathError, UnsafeVolumeError,
                            UnsupportedError)
from tests.helpers.common import CORPUS, need_tools, sha
from tests.hostile.hostile_helpers import FatImage, run_cli
from tests.locate.locate_helpers import DISK_STORES, build_disk

EDIT = ["/set", "{bootmgr}", "timeout", "7"]
UEFI_STORE, UEFI_LOGS = DISK_STORES["uefi"]


def _digest(paths: list[Path]) -> str:
    """One hash over every file below `paths` (names, modes and bytes; links not followed)."""
    parts = []
    for top in paths:
        for path in sorted([top, *top.rglob("*")] if top.is_dir() else [top]):
            info = path.lstat()
            parts.append(f"{path}:{info.st_mode:o}".encode())
            if path.is_file() and not path.is_symlink():
                parts.append(path.read_bytes())
    return sha(b"\0".join(parts))


def both_refuse(args: list, watched: list[Path], state: Path, code: int, *,
                dry_args: list | None = None) -> str:
    """Run `args` with --dry-run, then for real: same exit code `code`, same message, nothing
    written (not even a journal)."""
    before = _digest(watched)
    runs = []
    for dry in (True, False):
        cmd = list(dry_args if dry and dry_args is not None else args)
        if dry:
            cmd.insert(1 if cmd[0] != "linux" else 2, "--dry-run")
        done = run_cli(*cmd)
        assert done.returncode == code, (dry, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        runs.append(done.stderr.strip().splitlines()[-1])
        assert _digest(watched) == before, f"dry={dry} wrote to the target"
    assert not (state / "bcdtool" / "journal").exists() or \
        not any((state / "bcdtool" / "journal").iterdir())
    assert runs[0].split("(")[0] == runs[1].split("(")[0], runs
    return runs[1]


@pytest.fixture(scope="module")
def corpus():
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    return CORPUS


@pytest.fixture(scope="module")
def disks(tmp_path_factory, corpus):
    need_tools("sgdisk", "sfdisk", "mkfs.fat", "mcopy", "mkntfs", "ntfscp")
    folder = tmp_path_factory.mktemp("dry")
    return {fw: build_disk(fw, folder, corpus) for fw in ("uefi", "bios")}


def _store_folder(dest: Path, corpus: Path) -> Path:
    dest.mkdir(parents=True)
    shutil.copy(corpus / "bcd" / UEFI_STORE, dest / "BCD")
    for suffix in UEFI_LOGS:
        shutil.copy(corpus / "bcd" / (UEFI_STORE + suffix), dest / ("BCD" + suffix))
    return dest / "BCD"


# -- file systems inside disk images --------------------------------------------------------------

def test_fat_cluster_shared_with_another_file(disks, tmp_path, state):
    image = tmp_path / "esp.img"
    shutil.copyfile(disks["uefi"].path, image)
    fat = FatImage(image, disks["uefi"].bcd_part.start)
    store = fat.chain(fat.first_cluster(fat.entry(b"BCD        ")))
    log = fat.chain(fat.first_cluster(fat.entry(b"BCD     LOG")))
    for copy in range(fat.fats):                    # BCD.LOG's chain runs on into the store's
        fat.set_fat(copy, log[-1], store[1])
    message = both_refuse(["bcdedit", "/store", image, *EDIT], [image], state,
                          CorruptionError.exit_code)
    assert "also used by" in message


def test_qcow2_compressed_clusters(disks, tmp_path, state):
    need_tools("qemu-img")
    image = tmp_path / "esp.qcow2"
    subprocess.run(["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2",
                    str(disks["uefi"].path), str(image)], check=True)
    message = both_refuse(["bcdedit", "/store", image, *EDIT], [image], state,
                          UnsupportedError.exit_code)
    assert "compressed" in message


def test_windows_hibernated_on_another_partition(disks, tmp_path, state):
    from fixtures import images

    system = (CORPUS / "bcd" / "win10-bios-installed-sysreserved.bcd").read_bytes()
    disk = build_disk("bios", tmp_path, CORPUS, windows_files=images.windows_hive_files(
        system=system))
    image = Path(disk.path)
    part = disk.partitions[1]
    volume = images.extract(image, tmp_path / "vol", part.start, part.length)
    images.ntfs_put(volume, {"hiberfil.sys": b"HIBR" + bytes(8188)})
    images.copy_sparse(volume, image, part.start)
    volume.unlink()
    message = both_refuse(["bcdedit", "/store", image, *EDIT], [image], state,
                          UnsafeVolumeError.exit_code)
    assert "hibernated" in message


def _ntfs_record(volume: bytes, number: int) -> int:
    """Offset in the volume of MFT record `number` (mkntfs writes the number at 0x2C)."""
    for off in range(0, len(volume) - 1024, 1024):
        if volume[off:off + 4] == b"FILE" and \
                int.from_bytes(volume[off + 0x2C:off + 0x30], "little") == number:
            return off
    raise AssertionError(f"MFT record {number} not found")


def _point_runs_at(image: Path, part, record: int, lcn: int) -> None:
    """Rewrite the first data run of MFT record `record`'s unnamed $DATA to start at `lcn`
    (same run header: the run list keeps its length)."""
    with open(image, "r+b") as fh:
        fh.seek(part.start)
        volume = fh.read(part.length)
        rec = _ntfs_record(volume, record)
        pos = rec + int.from_bytes(volume[rec + 0x14:rec + 0x16], "little")
        while int.from_bytes(volume[pos:pos + 4], "little") != 0x80:
            pos += int.from_bytes(volume[pos + 4:pos + 8], "little")
        assert volume[pos + 8] == 1 and volume[pos + 9] == 0, "a non-resident unnamed $DATA"
        runs = pos + int.from_bytes(volume[pos + 0x20:pos + 0x22], "little")
        size_len, size_off = volume[runs] & 0x0F, volume[runs] >> 4
        field = runs + 1 + size_len
        assert (field - rec) % 512 < 510 - size_off, "the run offset must not hold a fixup"
        assert lcn < 1 << (8 * size_off - 1), "the new cluster number fits the run's field"
        fh.seek(part.start + field)
        fh.write(lcn.to_bytes(size_off, "little", signed=True))


@pytest.mark.parametrize("victim", ["Boot/BCD", "Boot/BCD.LOG"])
def test_ntfs_runs_shared_with_an_ordinary_file(disks, tmp_path, state, victim):
    """A real mkntfs System Reserved volume; another file's MFT record edited so its data run
    starts in the store's (or its log's) clusters; ntfs-3g's ntfscat sees the sharing."""
    from fixtures import images
    from bcdtool.blockdev.detect import open_image
    from bcdtool.fs.volume import open_volume

    disk = disks["bios"]
    image = tmp_path / "bios.img"
    shutil.copyfile(disk.path, image)
    part = disk.bcd_part
    volume = images.extract(image, tmp_path / "vol", part.start, part.length)
    images.ntfs_put(volume, {"Boot/other.bin": bytes(range(256)) * 64})
    images.copy_sparse(volume, image, part.start)
    with open_image(image) as dev:
        vol = open_volume(next(p for p in _parts(dev) if p.start == part.start).view(dev))
        other, target = vol.find("Boot/other.bin"), vol.find(victim)
    _point_runs_at(image, part, other.record, target.extents[0][0] // vol.cluster_size)
    volume = images.extract(image, tmp_path / "vol", part.start, part.length)
    seen = images.ntfs_get(volume, "Boot/other.bin")        # ntfs-3g reads the victim's bytes
    assert seen[:4096] == images.ntfs_get(volume, victim)[:4096]
    volume.unlink()
    message = both_refuse(["bcdedit", "/store", image, *EDIT], [image], state,
                          CorruptionError.exit_code)
    assert f"MFT record {other.record}" in message and "ntfsinfo" in message


def _parts(dev):
    from bcdtool.blockdev.partitions import read_partition_table

    return read_partition_table(dev).partitions


# -- hive files and folders -----------------------------------------------------------------------

@pytest.mark.parametrize("target", ["file", "folder"])
def test_log_hard_linked_out_of_the_target(corpus, tmp_path, state, target):
    store = _store_folder(tmp_path / "t" / "EFI" / "Microsoft" / "Boot", corpus)
    outside = tmp_path / "outside"
    outside.write_bytes(b"secret" * 200)
    log = store.with_name("BCD.LOG1")
    log.unlink()
    os.link(outside, log)
    spec = store if target == "file" else tmp_path / "t"
    message = both_refuse(["bcdedit", "/store", spec, *EDIT], [tmp_path], state,
                          UnsafePathError.exit_code)
    assert "hard links" in message


def test_hibernated_windows_folder(corpus, tmp_path, state):
    root = tmp_path / "C"
    _store_folder(root / "EFI" / "Microsoft" / "Boot", corpus)
    (root / "hiberfil.sys").write_bytes(b"HIBR" + bytes(4092))
    message = both_refuse(["bcdedit", "/store", root, *EDIT], [tmp_path], state,
                          UnsafeVolumeError.exit_code)
    assert "hibernated" in message


def _immutable(path: Path):
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported here")


def test_immutable_hive_file(corpus, tmp_path, state):
    store = _store_folder(tmp_path / "b", corpus)
    _immutable(store)
    try:
        both_refuse(["bcdedit", "/store", store, *EDIT], [tmp_path], state,
                    ReadOnlyError.exit_code)
    finally:
        subprocess.run(["chattr", "-i", str(store)], check=True)


# -- Linux guest files ----------------------------------------------------------------------------

def test_immutable_linux_root(tmp_path, state):
    from fixtures import linux_roots

    root = linux_roots.build("debian-12", "broken", tmp_path / "root")
    _immutable(root)
    try:
        both_refuse(["linux", "fix", root], [tmp_path], state, ReadOnlyError.exit_code)
    finally:
        subprocess.run(["chattr", "-i", str(root)], check=True)


def test_linux_image_that_is_not_a_mounted_root(tmp_path, state):
    from fixtures import linux_roots

    need_tools("mkfs.ext4")
    root = linux_roots.build("debian-12", "broken", tmp_path / "root")
    image = tmp_path / "fs.img"
    subprocess.run(["mkfs.ext4", "-q", "-d", str(root), str(image), "64M"], check=True)
    message = both_refuse(["linux", "fix", image], [image], state, UnsupportedError.exit_code)
    assert "mounted root" in message
