"""The demo: its pure-Python disk (for machines without the tools) read by independent tools,
and whole demo runs with and without the tools."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ops.ops_helpers import new_store
from tests.helpers.common import need_tools

ROOT = Path(__file__).resolve().parents[2]


def test_python_disk_reads_in_independent_tools(tmp_path):
    from fixtures import images, python_disk

    need_tools("qemu-img", "mcopy", "sgdisk", "fsck.fat")
    bcd = new_store("uefi")
    vhd, esp = python_disk.build(tmp_path / "disk.vhd", {"EFI/Microsoft/Boot/BCD": bcd})
    info = subprocess.run(["qemu-img", "info", "-f", "vpc", str(vhd)], capture_output=True,
                          text=True, check=True).stdout
    assert f"({vhd.stat().st_size - 512} bytes)" in info        # geometry and size agree
    raw = tmp_path / "disk.img"
    subprocess.run(["qemu-img", "convert", "-f", "vpc", "-O", "raw", str(vhd), str(raw)],
                   check=True)
    verify = subprocess.run(["sgdisk", "-v", str(raw)], capture_output=True, text=True)
    assert "No problems found" in verify.stdout, verify.stdout
    assert images.fat_get(raw, "EFI/Microsoft/Boot/BCD", offset=esp) == bcd
    code, text = images.fsck_fat(raw, offset=esp, tmp=tmp_path)
    assert code == 0, text


def _demo(tmp_path, path_env: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=path_env, BCDTOOL_DEMO_OUT=str(tmp_path / "demo-out"))
    return subprocess.run([sys.executable, str(ROOT / "fixtures" / "demo.py")],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)


@pytest.mark.slow
def test_demo_without_tools(tmp_path):
    run = _demo(tmp_path, str(tmp_path))             # nothing on PATH: the pure-Python disk
    assert run.returncode == 0, run.stdout + run.stderr
    assert "building the disk in pure Python" in run.stdout
    assert "nothing to change" in run.stdout and run.stdout.count("[exit 3]") == 1


@pytest.mark.slow
def test_demo_with_tools(tmp_path):
    need_tools("sfdisk", "mkfs.fat", "mcopy", "mkntfs", "ntfscp", "qemu-img")
    run = _demo(tmp_path, os.environ["PATH"])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[OK     ] windows-edition" in run.stdout and "azure-disk.vhd" in run.stdout
