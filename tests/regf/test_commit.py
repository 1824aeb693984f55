"""Commit protocol on real files: clean headers, stale logs, crash prefixes, independent readers."""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from Registry import Registry

from bcdtool.errors import DirtyHiveError, VerifyError, WriteError
from bcdtool.regf import commit, logs
from bcdtool.regf.checksums import raw_xor32, regf_checksum
from bcdtool.regf.hive import Hive
from tests.helpers.common import corpus_files, need_tool

REG_SZ = 1
STORE = "win11-uefi-installed-2025.bcd"  # a clean store with stale .LOG and .LOG1 beside it


def seqs(data: bytes) -> tuple[int, int]:
    return struct.unpack_from("<II", data, 4)


def stamp(data: bytes) -> int:
    return struct.unpack_from("<Q", data, 12)[0]


def sz(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def copy_with_logs(corpus: Path, sub: str, name: str, tmp_path: Path) -> Path:
    for path in (corpus / sub).glob(name + "*"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path / name


def edited(hive: Hive, key: str, name: str, text: str) -> bytes:
    editor_mod = pytest.importorskip("bcdtool.regf.editor")
    editor = editor_mod.HiveEditor(hive)
    editor.set_value(key, name, REG_SZ, sz(text))
    return editor.to_bytes()


def python_registry_value(data: bytes, key: str, name: str) -> bytes:
    reg = Registry.Registry(io.BytesIO(data))
    return bytes(reg.open(key).value(name).raw_data())


def hivexsh_lsval(path: Path, key: str) -> str:
    need_tool("hivexsh")
    script = "".join(f"cd {part}\n" for part in key.split("\\")) + "lsval\n"
    return subprocess.run(["hivexsh", str(path)], input=script, capture_output=True, text=True,
                          check=True, timeout=60).stdout


def hivexregedit_export(path: Path) -> str:
    need_tool("hivexregedit")
    return subprocess.run(["hivexregedit", "--export", str(path), "\\"], capture_output=True,
                          check=True, timeout=60).stdout.decode("utf-8", "replace")


def folder_state(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino)
            for p in folder.iterdir()}


# --- finalize ---------------------------------------------------------------------------------

def test_finalize_sets_a_clean_header_and_never_decreases(corpus):
    original = (corpus / "hives" / "yarp-OldDirtyHive").read_bytes()  # 5/4, dirty
    new = bytearray(original)
    struct.pack_into("<II", new, 4, 3, 3)  # an image claiming older numbers
    final = commit.finalize(bytes(new), original)
    assert seqs(final) == (6, 6)
    assert not logs.is_dirty(final)
    assert stamp(final) > stamp(original)
    assert final[512:] == original[512:]
    assert regf_checksum(final[:508]) == raw_xor32(final[:508]) == \
        struct.unpack_from("<I", final, 508)[0]


def test_finalize_wraps_sequence_numbers(corpus):
    original = bytearray((corpus / "bcd" / "empty-createstore.bcd").read_bytes())
    struct.pack_into("<II", original, 4, 0xFFFFFFFF, 0xFFFFFFFE)
    final = commit.finalize(bytes(original), bytes(original))
    assert seqs(final) == (0, 0)


def test_finalize_avoids_checksums_hivex_and_windows_disagree_on(corpus, monkeypatch, tmp_path):
    original = (corpus / "bcd" / "empty-createstore.bcd").read_bytes()
    now = stamp(original) + 10_000_000
    probe = bytearray(original)
    struct.pack_into("<II", probe, 4, seqs(original)[0] + 1, seqs(original)[0] + 1)
    struct.pack_into("<Q", probe, 12, now)
    # Cancel the XOR through a reserved dword so the natural checksum would be 0.
    word = raw_xor32(bytes(probe[:508]))
    reserved = 200
    struct.pack_into("<I", probe, reserved, struct.unpack_from("<I", probe, reserved)[0] ^ word)
    assert raw_xor32(bytes(probe[:508])) == 0
    monkeypatch.setattr(commit, "_filetime_now", lambda: now)
    final = commit.finalize(bytes(probe), original)
    assert stamp(final) == now + 1
    checksum = struct.unpack_from("<I", final, 508)[0]
    assert checksum == raw_xor32(final[:508]) == regf_checksum(final[:508])
    path = tmp_path / "perturbed"
    path.write_bytes(final)
    hivexregedit_export(path)  # hivex checks the raw XOR and would refuse a 0/1 mismatch


# --- commit_steps and crashes ------------------------------------------------------------------

def apply_steps(path: Path, steps: list[tuple[int, bytes]]) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        for offset, data in steps:
            os.pwrite(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def test_commit_steps_order_and_crash_prefixes_are_detectable(corpus, tmp_path):
    path = copy_with_logs(corpus, "bcd", "win10-uefi-recovery-store.bcd", tmp_path)
    hive = Hive.open(path)
    final = commit.finalize(edited(hive, "Objects", "BcdToolTest", "x" * 3000), hive.original)
    steps = commit.commit_steps(hive.original, final)
    assert steps[0][0] == 0 and len(steps[0][1]) == 512
    assert seqs(steps[0][1]) == (seqs(final)[0], seqs(hive.original)[1])
    assert steps[-1] == (0, final[:512])
    assert len(steps) >= 3
    for offset, data in steps[1:-1]:
        assert offset % 512 == 0 and len(data) % 512 == 0 and offset >= 512
    for cut in range(1, len(steps)):
        crashed = tmp_path / f"crash{cut}"
        shutil.copy(path, crashed)
        apply_steps(crashed, steps[:cut])
        assert logs.is_dirty(crashed.read_bytes()), cut
    done = tmp_path / "complete"
    shutil.copy(path, done)
    apply_steps(done, steps)
    data = done.read_bytes()
    assert data[:len(final)] == final and not logs.is_dirty(data)
    assert python_registry_value(data, "Objects", "BcdToolTest") == sz("x" * 3000)
    assert "BcdToolTest" in hivexsh_lsval(done, "Objects")
    commit.verify_image(data, expected=final)


def test_crashed_write_is_refused_on_open_once_logs_are_neutralized(corpus, tmp_path):
    path = copy_with_logs(corpus, "bcd", STORE, tmp_path)
    hive = Hive.open(path)
    final = commit.finalize(edited(hive, "Objects", "Half", "written"), hive.original)
    for log_path in logs.find_log_files(path):
        apply_steps(log_path, [(0, bytes(512))])
    steps = commit.commit_steps(hive.original, final)
    apply_steps(path, steps[:2])
    with pytest.raises(DirtyHiveError):
        Hive.open(path)


# --- write_hive_file on real files ----------------------------------------------------------

def test_write_hive_file_edits_a_store_with_stale_logs(corpus, tmp_path):
    path = copy_with_logs(corpus, "bcd", STORE, tmp_path)
    mode = 0o640
    path.chmod(mode)
    log_sizes = {p.name: p.stat().st_size for p in logs.find_log_files(path)}
    assert len(log_sizes) == 2
    hive = Hive.open(path)
    backup = tmp_path / "backup.bcd"
    result = commit.write_hive_file(path, edited(hive, "Description", "Note", "bcdtool"),
                                    original=hive.original, backup=backup)
    data = path.read_bytes()
    old1, old2 = seqs(hive.original)
    assert seqs(data) == (max(old1, old2) + 1,) * 2 == (result.sequence,) * 2
    assert not logs.is_dirty(data)
    assert backup.read_bytes() == hive.original and result.backup == str(backup)
    assert sorted(result.neutralized_logs) == sorted(log_sizes)
    assert all("neutralized" in note for note in result.notices)
    for log_path in logs.find_log_files(path):
        raw = log_path.read_bytes()
        assert raw[:512] == bytes(512) and len(raw) == log_sizes[log_path.name]
    assert python_registry_value(data, "Description", "Note") == sz("bcdtool")
    assert "Note" in hivexsh_lsval(path, "Description")
    export = hivexregedit_export(path)
    assert '"Note"=hex(1):' in export or '"Note"="bcdtool"' in export
    assert Hive.open(path).key("Description").value("Note").data == "bcdtool"
    assert (path.stat().st_mode & 0o7777) == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, backup.name,
                                                                 *log_sizes])
    assert result.pages_changed >= 1 and result.bytes_written == len(data)


def test_dry_run_writes_and_opens_nothing(corpus, tmp_path):
    path = copy_with_logs(corpus, "bcd", STORE, tmp_path)
    hive = Hive.open(path)
    before = folder_state(tmp_path)
    result = commit.write_hive_file(path, edited(hive, "Description", "Note", "dry"),
                                    original=hive.original, backup=tmp_path / "bk", dry_run=True)
    assert result.dry_run and result.bytes_written == 0 and result.neutralized_logs == ()
    assert any("would be neutralized" in n for n in result.notices)
    assert folder_state(tmp_path) == before


def test_dirty_hive_recovered_then_committed(corpus, tmp_path):
    path = copy_with_logs(corpus, "hives", "yarp-NewDirtyHive", tmp_path)
    hive = Hive.open(path)
    assert hive.recovered
    result = commit.write_hive_file(path, edited(hive, "", "After", "recovery"),
                                    original=hive.original)
    data = path.read_bytes()
    assert seqs(data) == (7, 7) == (result.sequence,) * 2  # recovered 6/6, then one write
    assert set(result.neutralized_logs) == {"yarp-NewDirtyHive.LOG1", "yarp-NewDirtyHive.LOG2"}
    reopened = Hive.open(path)
    assert not reopened.recovered
    windows = Hive.from_bytes((corpus / "hives" / "yarp-NewDirtyHive-recovered-by-win10")
                              .read_bytes())
    assert {k.path for k in reopened.walk()} == {k.path for k in windows.walk()}
    assert reopened.root.value("After").data == "recovery"


def test_write_refused_when_the_file_changed_or_backup_clashes(corpus, tmp_path):
    path = copy_with_logs(corpus, "bcd", STORE, tmp_path)
    hive = Hive.open(path)
    image = edited(hive, "Description", "Note", "x")
    stale = bytearray(hive.original)
    stale[-1] ^= 1
    before = folder_state(tmp_path)
    with pytest.raises(WriteError, match="changed since it was read"):
        commit.write_hive_file(path, image, original=bytes(stale))
    assert folder_state(tmp_path) == before
    (tmp_path / "taken").write_bytes(b"something else")
    before = folder_state(tmp_path)
    with pytest.raises(WriteError, match="backup file exists"):
        commit.write_hive_file(path, image, original=hive.original, backup=tmp_path / "taken")
    assert folder_state(tmp_path) == before


def test_reader_disagreement_after_write_restores_the_original(corpus, tmp_path):
    path = copy_with_logs(corpus, "bcd", "empty-createstore.bcd", tmp_path)
    hive = Hive.open(path)
    editor_mod = pytest.importorskip("bcdtool.regf.editor")
    editor = editor_mod.HiveEditor(hive)
    # python-registry reads any REG_DWORD from the vk's offset field (regf.md §13.4), so an
    # 8-byte REG_DWORD reads differently there: the readers disagree, the commit undoes itself.
    editor.set_value("Objects", "Odd", 4, b"12345678")
    os.utime(path, ns=(0, 0))
    with pytest.raises(VerifyError, match="restored"):
        commit.write_hive_file(path, editor.to_bytes(), original=hive.original)
    assert path.stat().st_mtime_ns != 0  # it was written, then replaced by the original again
    assert path.read_bytes() == hive.original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty-createstore.bcd"]


def test_verify_image_rejects_dirty_and_broken_images(corpus):
    data = (corpus / "bcd" / "empty-createstore.bcd").read_bytes()
    report = commit.verify_image(data)
    assert report.keys == 3
    dirty = bytearray(data)
    struct.pack_into("<I", dirty, 4, seqs(data)[0] + 1)
    struct.pack_into("<I", dirty, 508, regf_checksum(bytes(dirty[:508])))
    with pytest.raises(VerifyError, match="dirty"):
        commit.verify_image(bytes(dirty))
    broken = bytearray(data)
    broken[4096:4100] = b"junk"
    struct.pack_into("<I", broken, 508, regf_checksum(bytes(broken[:508])))
    with pytest.raises(VerifyError):
        commit.verify_image(bytes(broken))
    with pytest.raises(VerifyError, match="planned"):
        other = (corpus / "bcd" / "win10-media-bios.bcd").read_bytes()
        commit.verify_image(data, expected=other)


def test_verify_image_runs_the_validator(corpus):
    data = bytearray((corpus / "bcd" / "empty-createstore.bcd").read_bytes())
    hive = Hive.from_bytes(bytes(data))
    leaf = 4096 + hive.root.fields["subkeys_list_offset"] + 4
    assert data[leaf:leaf + 2] in (b"lf", b"lh")
    data[leaf + 8] ^= 0x55  # the first lf hint / lh hash no longer matches the subkey's name
    # Both readers still walk it (neither uses hashes to enumerate); only the validator objects.
    assert commit.python_registry_view(bytes(data)) == commit.python_registry_view(hive.data)
    with pytest.raises(VerifyError, match="validator"):
        commit.verify_image(bytes(data))


def test_write_follows_symlinks_and_keeps_owner_and_mode(corpus, tmp_path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    real = copy_with_logs(corpus, "bcd", STORE, real_dir)
    link = tmp_path / "BCD-link"
    link.symlink_to(real)
    if os.geteuid() == 0:
        os.chown(real, 65534, 65534)
    real.chmod(0o600)
    hive = Hive.open(link)
    result = commit.write_hive_file(link, edited(hive, "Description", "Via", "link"),
                                    original=hive.original)
    assert link.is_symlink() and result.path == str(real)
    assert python_registry_value(real.read_bytes(), "Description", "Via") == sz("link")
    assert real.stat().st_mode & 0o7777 == 0o600
    if os.geteuid() == 0:
        assert (real.stat().st_uid, real.stat().st_gid) == (65534, 65534)
    assert len(result.neutralized_logs) == 2  # the logs beside the real file


def test_backup_cannot_be_the_hive_itself(corpus, tmp_path):
    path = copy_with_logs(corpus, "bcd", "empty-createstore.bcd", tmp_path)
    hive = Hive.open(path)
    with pytest.raises(WriteError, match="backup cannot be the hive"):
        commit.write_hive_file(path, edited(hive, "", "X", "y"), original=hive.original,
                               backup=path)
    assert path.read_bytes() == hive.original


def bcd_stores() -> list[Path]:
    return [p for p in corpus_files("bcd") if ".LOG" not in p.name.upper()]


@pytest.mark.parametrize("store", bcd_stores(), ids=lambda p: p.name)
def test_every_corpus_store_commits_cleanly(store, tmp_path):
    for path in store.parent.glob(store.name + "*"):
        shutil.copy(path, tmp_path / path.name)
    path = tmp_path / store.name
    hive = Hive.open(path)
    old = max(seqs(hive.original))
    text = f"edited {store.name}"
    result = commit.write_hive_file(path, edited(hive, "Description", "BcdToolNote", text),
                                    original=hive.original)
    data = path.read_bytes()
    assert seqs(data) == (old + 1, old + 1) and not logs.is_dirty(data)
    assert python_registry_value(data, "Description", "BcdToolNote") == sz(text)
    assert "BcdToolNote" in hivexsh_lsval(path, "Description")
    for log_path in logs.find_log_files(path):
        assert log_path.read_bytes()[:512] == bytes(512)
    assert len(result.neutralized_logs) == len(logs.find_log_files(path))
