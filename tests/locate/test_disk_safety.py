"""The write path's promises on disk images: dry run, read-only, refusals, interrupted writes,
verification failures and write errors leave the image exactly as it was (or restored)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import bcdtool.write.sinks.disk as disk_module
from bcdtool.write import journal as journals
from bcdtool.errors import (InterruptedWriteError, InvalidArgumentError, NotFoundError,
                            ReadOnlyError, UnsafeVolumeError, UnsupportedError, VerifyError,
                            WriteError)
from bcdtool.fs import policy
from bcdtool.locate import open_hive
from bcdtool.locate.commit import commit as commit_handle
from tests.helpers.common import CORPUS, REPO, need_tools, run_cli, sha
from tests.locate.locate_helpers import (WriteWatch, build_disk, open_modes, registry_elements,
                                         sac_edit)



@pytest.fixture(scope="module")
def disks(tmp_path_factory):
    """Raw base disks: UEFI (GPT + FAT32 ESP) and BIOS (MBR + NTFS), with Windows' logs."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    need_tools("sgdisk", "sfdisk", "mkfs.fat", "mcopy", "mkntfs", "ntfscp")
    folder = tmp_path_factory.mktemp("safety")
    return {fw: build_disk(fw, folder, CORPUS) for fw in ("uefi", "bios")}


@pytest.fixture
def image(disks, tmp_path, request):
    """A private copy of the UEFI disk (or the one named by the test's `firmware` param)."""
    firmware = getattr(request, "param", "uefi")
    dest = tmp_path / f"{firmware}.img"
    shutil.copyfile(disks[firmware].path, dest)
    return dest


def _digest(path) -> str:
    return sha(path.read_bytes())


@pytest.mark.parametrize("image", ["uefi", "bios"], indirect=True)
def test_dry_run_plans_and_writes_nothing(image, state):
    before = _digest(image)
    watch = WriteWatch(image, image.parent)
    try:
        with open_hive(image) as handle:
            new_image, _ = sac_edit(handle.hive)
            result = commit_handle(handle, new_image, dry_run=True)
        assert watch.events() == []
    finally:
        watch.close()
    assert result.dry_run and result.plan and result.journal is None
    assert result.plan[0] == (0, 512) and result.plan[-1] == (0, 512)
    assert result.pages_written == 0 and result.sha256_after != result.sha256_before
    assert len(result.device_writes) >= len(result.plan)
    assert any("transaction logs" in n for n in result.notices)
    assert _digest(image) == before
    assert not (state / "bcdtool" / "journal").exists()


def test_read_only_never_opens_for_writing(image):
    before = _digest(image)
    watch = WriteWatch(image, image.parent)
    try:
        with open_hive(image, read_only=True) as handle:
            assert open_modes(image) and all(mode == os.O_RDONLY for mode in open_modes(image))
            new_image, _ = sac_edit(handle.hive)
            with pytest.raises(ReadOnlyError):
                commit_handle(handle, new_image)
        assert watch.events() == []
    finally:
        watch.close()
    assert _digest(image) == before


def test_size_change_is_refused(image):
    before = _digest(image)
    with open_hive(image) as handle:
        grown = handle.hive.original + bytes(4096)
        with pytest.raises(UnsupportedError, match="exact size"):
            commit_handle(handle, grown)
    assert _digest(image) == before


def test_read_only_media_is_refused(image):
    before = _digest(image)
    if subprocess.run(["chattr", "+i", str(image)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported here")
    try:
        with open_hive(image) as handle:
            new_image, _ = sac_edit(handle.hive)
            with pytest.raises(ReadOnlyError):
                commit_handle(handle, new_image)
    finally:
        subprocess.run(["chattr", "-i", str(image)], check=True)
    assert _digest(image) == before


def test_dirty_fat_volume_is_refused_with_strict(image, disks):
    """A dirty FAT volume is refused under --strict (without it, tests/hostile shows it written
    when the store's clusters pass the cross-link checks)."""
    start = disks["uefi"].bcd_part.start
    with open(image, "r+b") as fh:     # FAT32 FAT[1] bit 27 clear = not cleanly unmounted
        fh.seek(start)
        boot = fh.read(512)
        fat1 = start + int.from_bytes(boot[14:16], "little") * 512 + 4
        fh.seek(fat1)
        entry = int.from_bytes(fh.read(4), "little")
        fh.seek(fat1)
        fh.write((entry & ~0x08000000).to_bytes(4, "little"))
    before = _digest(image)
    with open_hive(image) as handle, policy.strict_writes(True):
        new_image, _ = sac_edit(handle.hive)
        with pytest.raises(UnsafeVolumeError, match="dirty.*fsck.fat -n"):    # dry run too
            commit_handle(handle, new_image, dry_run=True)
        with pytest.raises(UnsafeVolumeError, match="dirty.*fsck.fat -n"):
            commit_handle(handle, new_image)
    assert _digest(image) == before


@pytest.fixture(scope="module")
def windows_disk(tmp_path_factory, disks):
    """MBR disk with System Reserved and a Windows NTFS partition holding a SYSTEM hive."""
    from fixtures import images

    folder = tmp_path_factory.mktemp("windows")
    system = (CORPUS / "bcd" / "win10-bios-installed-sysreserved.bcd").read_bytes()
    return build_disk("bios", folder, CORPUS,
                      windows_files=images.windows_hive_files(system=system))


def _edit_system(path):
    from bcdtool.regf.editor import HiveEditor

    handle = open_hive(path, kind="hive", path="windows/system32/config/system")
    editor = HiveEditor(handle.hive)
    editor.set_value("Description", "bcdtool-test", 4, (1).to_bytes(4, "little"))
    return handle, editor.to_bytes(same_size=True)


def test_hive_kind_on_windows_partition_and_overrides(windows_disk, tmp_path):
    image = tmp_path / "win.img"
    shutil.copyfile(windows_disk.path, image)
    handle, new_image = _edit_system(image)
    with handle:
        assert handle.location["partition"] == 2 and handle.location["filesystem"] == "ntfs"
        assert "--path" in handle.description
        assert commit_handle(handle, new_image).verified
    with open_hive(image, partition=1) as handle:
        assert handle.location["path"] == "Boot/BCD"
    with pytest.raises(NotFoundError):
        open_hive(image, partition=2)           # no store on the Windows partition
    with pytest.raises(InvalidArgumentError):
        open_hive(image, partition=7)
    with pytest.raises(InvalidArgumentError):
        open_hive(image, kind="hive")


def test_hibernated_and_dirty_ntfs_are_refused(windows_disk, tmp_path):
    from fixtures import images

    part = windows_disk.partitions[1]
    for case in ("hibernated", "dirty"):
        image = tmp_path / f"{case}.img"
        shutil.copyfile(windows_disk.path, image)
        volume = images.extract(image, tmp_path / "vol", part.start, part.length)
        if case == "hibernated":
            images.ntfs_put(volume, {"hiberfil.sys": b"HIBR" + bytes(8188)})
        else:
            images.set_ntfs_volume_flags(volume, 0x0001)
        images.copy_sparse(volume, image, part.start)
        volume.unlink()
        before = _digest(image)
        handle, new_image = _edit_system(image)
        with (
            handle,
            pytest.raises(UnsafeVolumeError, match=case if case == "dirty" else "hibernat"),
        ):
            commit_handle(handle, new_image)
        assert _digest(image) == before, case


def test_store_write_refused_when_windows_is_hibernated_on_another_partition(windows_disk,
                                                                              tmp_path):
    """The BCD is on System Reserved, hiberfil.sys on the Windows partition: still refused."""
    from fixtures import images

    part = windows_disk.partitions[1]
    image = tmp_path / "hibernated-c.img"
    shutil.copyfile(windows_disk.path, image)
    volume = images.extract(image, tmp_path / "vol", part.start, part.length)
    images.ntfs_put(volume, {"hiberfil.sys": b"HIBR" + bytes(8188)})
    images.copy_sparse(volume, image, part.start)
    volume.unlink()
    before = _digest(image)
    with open_hive(image) as handle:
        assert handle.location["partition"] == 1          # the store itself is not hibernated
        new_image, _ = sac_edit(handle.hive)
        with pytest.raises(UnsafeVolumeError, match="partition 2 is hibernated"):   # dry run
            commit_handle(handle, new_image, dry_run=True)
        with pytest.raises(UnsafeVolumeError, match="partition 2 is hibernated"):
            commit_handle(handle, new_image)
    assert _digest(image) == before


def test_bitlocker_partition_is_refused(windows_disk, tmp_path):
    image = tmp_path / "bitlocker.img"
    shutil.copyfile(windows_disk.path, image)
    with open(image, "r+b") as fh:
        fh.seek(windows_disk.partitions[1].start + 3)
        fh.write(b"-FVE-FS-")
    with open_hive(image) as handle:        # the store on System Reserved is still usable
        assert handle.location["partition"] == 1
    with pytest.raises(UnsafeVolumeError, match="BitLocker"):
        open_hive(image, partition=2, kind="hive", path="Windows/System32/config/SYSTEM")


def test_volume_without_partition_table(tmp_path, corpus):
    from fixtures import images

    need_tools("mkfs.fat", "mcopy")
    store = (corpus / "bcd" / "win10-uefi-installed-systemd-boot.bcd").read_bytes()
    volume = images.make_fat_volume(tmp_path / "esp.vol", {"EFI/Microsoft/Boot/BCD": store})
    with open_hive(volume) as handle:
        assert handle.location["partition"] == 0
        new_image, elements = sac_edit(handle.hive)
        commit_handle(handle, new_image)
    data = images.fat_get(volume, "EFI/Microsoft/Boot/BCD")
    assert registry_elements(data, elements) == elements


def _corrupting_writer(real):
    def write(view, ref, offset, data):
        if offset:                               # a page, not the base block: land a wrong byte
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        return real(view, ref, offset, data)
    return write


def test_verify_failure_restores_the_original(image, monkeypatch):
    before = _digest(image)
    monkeypatch.setattr(disk_module, "write_extents", _corrupting_writer(disk_module.write_extents))
    with open_hive(image) as handle:
        new_image, _ = sac_edit(handle.hive)
        with pytest.raises(VerifyError, match="restored"):
            commit_handle(handle, new_image)
    assert _digest(image) == before
    (journal,) = (journals.state_dir() / "journal").iterdir()
    assert journals.load(journal).state == "restored"
    open_hive(image).close()                     # no interrupted-write marker is left


def test_write_error_restores_the_original(image, monkeypatch):
    before = _digest(image)
    real, calls = disk_module.write_extents, []

    def failing(view, ref, offset, data):
        calls.append(offset)
        if len(calls) == 4:
            raise WriteError("simulated I/O error", path=str(image))
        return real(view, ref, offset, data)

    monkeypatch.setattr(disk_module, "write_extents", failing)
    with open_hive(image) as handle:
        new_image, _ = sac_edit(handle.hive)
        with pytest.raises(WriteError, match="restored"):
            commit_handle(handle, new_image)
    # the 4th write failed; the restore wrote back through the same sink
    assert len(calls) > 4
    assert _digest(image) == before


CRASH = """
import os, sys
sys.path[:0] = [{repo!r}]
import bcdtool.write.sinks.disk as disk
from bcdtool.locate import open_hive
from bcdtool.locate.commit import commit as commit_handle
from tests.locate.locate_helpers import sac_edit
real, calls = disk.write_extents, []
def crashing(view, ref, offset, data):
    real(view, ref, offset, data)
    calls.append(offset)
    if len(calls) == {after}:
        os._exit(9)          # the process dies mid-commit, like a power cut for our purposes
disk.write_extents = crashing
handle = open_hive({image!r})
commit_handle(handle, sac_edit(handle.hive)[0], operation="crash test")
"""


def test_interrupted_write_is_detected_and_undone(image, tmp_path, capsys):
    before = _digest(image)
    with open_hive(image) as handle:
        logs = len(handle.location["logs"])
    script = CRASH.format(repo=str(REPO), image=str(image),
                          after=logs + 2)    # logs neutralised, dirty base block, one page
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True,
                          env=dict(os.environ), timeout=120)
    assert proc.returncode == 9, proc.stderr.decode()
    assert _digest(image) != before
    with pytest.raises(InterruptedWriteError) as info:
        open_hive(image)
    (journal,) = (journals.state_dir() / "journal").iterdir()
    assert str(journal / "journal.json") in str(info.value)
    assert json.loads((journal / "journal.json").read_text())["state"] == "writing"

    # Without the pending marker (state folder lost), the half-written hive still gives it away.
    for marker in (journals.state_dir() / "pending").iterdir():
        marker.rename(tmp_path / marker.name)
    with pytest.raises(InterruptedWriteError, match="half-written") as info:
        open_hive(image)
    assert str(journal / "journal.json") in str(info.value)
    for marker in tmp_path.glob("*.json"):
        marker.rename(journals.state_dir() / "pending" / marker.name)

    code, _, err = run_cli(capsys, "undo", journal)
    assert code == 0, err
    assert _digest(image) == before
    open_hive(image).close()


def test_image_format_refusal_comes_before_any_backup_or_write(disks, tmp_path, state):
    from fixtures import images

    need_tools("qemu-img")
    image = images.convert(disks["uefi"].path, "qcow2", tmp_path)
    subprocess.run(["qemu-img", "snapshot", "-c", "before-repair", str(image)], check=True,
                   capture_output=True)
    before = _digest(image)
    with open_hive(image) as handle:
        new_image, _ = sac_edit(handle.hive)
        with pytest.raises(UnsupportedError, match="snapshot"):
            commit_handle(handle, new_image)
    assert _digest(image) == before
    assert not (state / "bcdtool" / "journal").exists()


def test_stream_optimized_vmdk_is_read_but_never_written(disks, tmp_path, state):
    from fixtures import images

    from bcdtool.errors import BcdToolError

    need_tools("qemu-img")
    image = images.convert(disks["uefi"].path, "vmdk-stream", tmp_path)
    before = _digest(image)
    with open_hive(image) as handle:
        new_image, _ = sac_edit(handle.hive)
        with pytest.raises(BcdToolError) as info:
            commit_handle(handle, new_image)
    assert isinstance(info.value, (UnsupportedError, ReadOnlyError)), info.value
    assert _digest(image) == before
    assert not (state / "bcdtool" / "journal").exists()


def test_two_commits_through_one_handle_then_undo_both(image):
    from bcdtool.ops.undo import undo
    from bcdtool.regf.editor import HiveEditor

    before = _digest(image)
    with open_hive(image) as handle:
        first = commit_handle(handle, sac_edit(handle.hive)[0])
        editor = HiveEditor(handle.hive)          # the handle now reads the committed store
        editor.set_value("Description", "second", 4, (2).to_bytes(4, "little"))
        second = commit_handle(handle, editor.to_bytes(same_size=True))
        assert second.sha256_before == first.sha256_after
        assert handle.hive.key("Description").value("second").data == 2
    undo(second.journal)
    undo(first.journal)
    assert _digest(image) == before


def test_data_only_in_a_backing_file_is_refused(disks, tmp_path, state):
    from fixtures import images

    need_tools("qemu-img")
    base = images.convert(disks["uefi"].path, "qcow2", tmp_path)
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2",
                    str(overlay)], check=True)
    before = {p.name: _digest(p) for p in (base, overlay)}
    with open_hive(overlay) as handle:        # read through the backing file
        new_image, _ = sac_edit(handle.hive)
        with pytest.raises(UnsupportedError, match="backing file"):
            commit_handle(handle, new_image)
    assert {p.name: _digest(p) for p in (base, overlay)} == before
    assert not (state / "bcdtool" / "journal").exists()


def test_dirty_hive_is_recovered_from_its_logs_then_written_clean(tmp_path, corpus):
    """Windows' own dirty hive with its logs, inside a FAT volume: bcdtool replays the logs in
    memory, writes a clean hive in place, zeroes the logs' headers; the result reads like the
    copy Windows itself recovered, plus our edit."""
    import io

    from Registry import Registry

    from bcdtool.regf.editor import HiveEditor
    from fixtures import images

    need_tools("mkfs.fat", "mcopy")
    hives = corpus / "hives"
    files = {f"Hives/Dirty{suffix}": (hives / f"yarp-NewDirtyHive{suffix}").read_bytes()
             for suffix in ("", ".LOG1", ".LOG2")}
    volume = images.make_fat_volume(tmp_path / "vol.img", files, fat_bits=16)
    with open_hive(volume, kind="hive", path="hives/dirty") as handle:
        assert handle.hive.recovered
        editor = HiveEditor(handle.hive)
        editor.set_value("", "bcdtool", 4, (5).to_bytes(4, "little"))
        result = commit_handle(handle, editor.to_bytes(same_size=True))
    assert len(result.device_writes) > 3
    written = images.fat_get(volume, "Hives/Dirty")
    for log in ("Hives/Dirty.LOG1", "Hives/Dirty.LOG2"):
        assert images.fat_get(volume, log)[:512] == bytes(512)

    def view(data: bytes) -> dict:
        reg, out = Registry.Registry(io.BytesIO(data)), {}
        stack = [(reg.root(), "")]
        while stack:
            key, path = stack.pop()
            out[path] = sorted((v.name(), v.raw_data()) for v in key.values())
            stack += [(sub, f"{path}\\{sub.name()}") for sub in key.subkeys()]
        return out

    expected = view((hives / "yarp-NewDirtyHive-recovered-by-win10").read_bytes())
    expected[""] = sorted(expected[""] + [("bcdtool", (5).to_bytes(4, "little"))])
    assert view(written) == expected


def test_compressed_ntfs_store_is_refused(tmp_path, corpus, state):
    from fixtures import images

    need_tools("mkntfs", "ntfscp")
    store = (corpus / "bcd" / "win10-bios-installed-sysreserved.bcd").read_bytes()
    volume = images.make_ntfs_volume(tmp_path / "ntfs.vol", {"Boot/BCD": store},
                                     compressed=["Boot/BCD"])
    before = _digest(volume)
    with open_hive(volume) as handle:         # compressed data is still readable
        assert handle.hive.original == store
        with pytest.raises(UnsupportedError, match="compressed"):
            commit_handle(handle, sac_edit(handle.hive)[0])
    assert _digest(volume) == before
    assert not (state / "bcdtool" / "journal").exists()
