"""Crash-injection helpers: real images holding a real store, bcdtool run in a subprocess with a
fault armed, and independent read-back (qemu-img convert, mcopy, ntfscat, python-registry)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.common import REPO, run_process, sha

#: A real UEFI system store written by Windows 10 (with {emssettings} and a default loader).
STORE = "bcd/win10-uefi-installed-systemd-boot.bcd"
#: A store with stale transaction logs beside it (their neutralisation is a write too).
STORE_WITH_LOGS = "bcd/win10-uefi-installed-crufty-2016.bcd"
BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"

#: Formats of the crash matrix (qemu-img names in fixtures.images.FORMATS) plus the MBR/NTFS disk.
DISK_FORMATS = ["raw", "vhd-fixed", "vhd-dynamic", "vhdx", "qcow2", "qcow2-v2", "vmdk", "vmdk-flat"]

#: Exit status of a process killed by an armed fault (inject/sitecustomize.py).
FAULT_EXIT = 86
#: Put first on PYTHONPATH, it arms faults in every process the tests start.
INJECT = Path(__file__).resolve().parent / "inject"

#: Crash points injected and recovered, by target (docs/reliability.md cites these figures).
INJECTED: dict[str, list[int]] = {}


@dataclass
class Case:
    """One target to crash: a folder holding the image (or hive file) that a command edits."""

    name: str
    folder: Path
    target: Path
    kind: str            # "esp" (GPT + FAT32), "mbr" (MBR + NTFS) or "file"

    def fresh_copy(self, dest: Path) -> Case:
        """A private copy (sparse) of the whole folder, for one run."""
        subprocess.run(["cp", "-r", "--sparse=always", str(self.folder), str(dest)], check=True)
        return Case(self.name, dest, dest / self.target.name, self.kind)


def run_bcdtool(args: list[str], state: Path, *, fault: int | None = None, mode: str = "exit",
                timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m bcdtool ARGS` with its own state folder, a fault armed when `fault` is given."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("BCDTOOL_FAULT")}
    env["BCDTOOL_DEBUG"] = None
    if fault is not None:
        env["BCDTOOL_FAULT_AFTER_WRITES"] = str(fault)
        env["BCDTOOL_FAULT_MODE"] = mode
        inherited = os.environ.get("PYTHONPATH", "").split(os.pathsep)
        env["PYTHONPATH"] = os.pathsep.join([str(INJECT)] + [p for p in inherited if p])
    return run_process(*args, env=env, state=state, cwd=REPO, timeout=timeout)


def journal_named(stderr: str) -> Path:
    """The undo journal an error message names (`bcdtool undo PATH`)."""
    match = re.search(r"bcdtool undo ([^`\s;]+)", stderr)
    assert match, f"the message names no undo journal: {stderr!r}"
    path = Path(match.group(1))
    assert path.exists(), f"the journal named does not exist: {path}"
    return path


def virtual_bytes(case: Case, scratch: Path) -> bytes:
    """The disk's virtual content (qemu-img convert to raw: an independent reader), or the file."""
    if case.kind == "file":
        return case.target.read_bytes()
    out = scratch / "virtual.raw"
    out.unlink(missing_ok=True)
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(case.target), str(out)], check=True,
                   capture_output=True)
    data = out.read_bytes()
    out.unlink()
    return data


def store_bytes(case: Case, scratch: Path) -> bytes:
    """The BCD file as independent tools read it: mcopy (FAT) or ntfscat (NTFS) on the virtual
    disk, the file itself for a hive file."""
    if case.kind == "file":
        return case.target.read_bytes()
    from fixtures.images import MiB, fat_get, ntfs_get

    raw = scratch / "read.raw"
    raw.write_bytes(virtual_bytes(case, scratch))
    try:
        if case.kind == "esp":
            return fat_get(raw, "EFI/Microsoft/Boot/BCD", offset=2048 * 512)
        volume = scratch / "volume.ntfs"
        with open(raw, "rb") as src, open(volume, "wb") as dst:
            src.seek(2048 * 512)
            dst.write(src.read(16 * MiB))
        try:
            return ntfs_get(volume, "Boot/BCD")
        finally:
            volume.unlink()
    finally:
        raw.unlink()


def ems_enabled(bcd: bytes) -> bool:
    """python-registry (an independent reader): is EMS on for {bootmgr}'s default loader, and
    are {emssettings} port/speed set?"""
    from Registry import Registry

    reg = Registry.Registry(io.BytesIO(bcd))
    default_raw = reg.open(f"Objects\\{BOOTMGR}\\Elements\\23000003").value("Element").value()
    try:
        ems = reg.open(f"Objects\\{default_raw}\\Elements\\260000b0").value("Element").raw_data()
    except Registry.RegistryKeyNotFoundException:
        return False
    return ems[:1] == b"\x01"


def build_cases(corpus: Path, root: Path) -> dict[str, Case]:
    """Every crash target: the GPT/FAT32 disk in every format, the MBR/NTFS disk, hive files."""
    from fixtures.images import build_esp_disk, build_mbr_disk, convert, missing_tools

    missing = missing_tools(["qemu-img", "sfdisk", "mkfs.fat", "mcopy", "mkntfs", "ntfscp"])
    if missing:
        import pytest
        pytest.skip("missing tools: " + ", ".join(missing))
    cases: dict[str, Case] = {}
    raw = build_esp_disk(root / "esp.img", corpus / STORE).path
    for fmt in DISK_FORMATS:
        folder = root / fmt
        folder.mkdir()
        if fmt == "raw":
            image = folder / "disk.img"
            shutil.copy(raw, image)
        else:
            image = convert(raw, fmt, folder)
        cases[fmt] = Case(fmt, folder, image, "esp")
    folder = root / "mbr-ntfs"
    folder.mkdir()
    mbr = build_mbr_disk(folder / "disk.img", corpus / STORE).path
    cases["mbr-ntfs"] = Case("mbr-ntfs", folder, mbr, "mbr")
    for name, store in (("hive-file", STORE), ("hive-file-logs", STORE_WITH_LOGS)):
        folder = root / name
        folder.mkdir()
        target = folder / "BCD"
        shutil.copy(corpus / store, target)
        for log in sorted((corpus / store).parent.glob(Path(store).name + ".LOG*")):
            shutil.copy(log, folder / ("BCD" + log.name[len(Path(store).name):]))
        cases[name] = Case(name, folder, target, "file")
    return cases


def crash_and_recover(case: Case, n: int, work: Path) -> str:
    """Crash `serial-console enable` after write `n` on a fresh copy, then check the promises:
    the next open names the journal (exit 27), undo restores the exact original bytes, and a
    re-run completes the change.  Returns "crashed" or "completed" (n was past the last write).
    """
    work.mkdir()
    state = work / "state"
    mine = case.fresh_copy(work / "target")
    before = sha(virtual_bytes(mine, work))
    crashed = run_bcdtool(["serial-console", "enable", str(mine.target)], state, fault=n)
    if crashed.returncode == 0:
        assert ems_enabled(store_bytes(mine, work)), "the complete run did not enable EMS"
        return "completed"
    assert crashed.returncode == FAULT_EXIT, f"N={n}: {crashed.returncode} {crashed.stderr}"
    # Any later open (here a read-only status) detects the interrupted write and names the journal.
    opened = run_bcdtool(["serial-console", "status", str(mine.target)], state)
    assert opened.returncode == 27, f"N={n}: not detected: {opened.returncode} {opened.stderr}"
    assert "interrupted" in opened.stderr or "half-written" in opened.stderr, opened.stderr
    journal = journal_named(opened.stderr)
    undone = run_bcdtool(["undo", str(journal)], state)
    assert undone.returncode == 0, f"N={n}: undo failed: {undone.stderr}"
    assert sha(virtual_bytes(mine, work)) == before, f"N={n}: undo did not restore the bytes"
    assert not ems_enabled(store_bytes(mine, work))
    rerun = run_bcdtool(["serial-console", "enable", str(mine.target)], state)
    assert rerun.returncode == 0, f"N={n}: re-run failed: {rerun.stderr}"
    assert ems_enabled(store_bytes(mine, work)), f"N={n}: the re-run did not enable EMS"
    if mine.kind != "file" and mine.target.suffix in (".qcow2", ".vhdx", ".vmdk"):
        check = subprocess.run(["qemu-img", "check", str(mine.target)], capture_output=True)
        assert check.returncode in (0, 63), check.stdout + check.stderr
    return "crashed"
