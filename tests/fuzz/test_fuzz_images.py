"""Fuzz partition tables and the VHD/VHDX/qcow2/VMDK headers and block maps.

Seeds are real images: a small GPT disk (sfdisk) with data in both partitions, converted by
qemu-img to every container format.  Mutations hit the first 64 KiB (2 MiB for VHDX and VMDK:
headers, region tables, L1/BAT/grain directories) or the VHD footer; checksums of VHD footers and
VHDX headers/region
tables are recomputed after mutating so inputs get past the checksum into the parsers behind it.
Opening, listing partitions and reading sectors may raise only BcdToolError.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcdtool.blockdev import vhdx_layout
from bcdtool.blockdev.detect import sniff
from bcdtool.blockdev.partitions import read_partition_table
from bcdtool.blockdev.vhd import open_vhd, vhd_checksum
from bcdtool.blockdev.vhdx import VhdxDevice, checksum_with_field_zeroed
from bcdtool.blockdev.vmdk import open_vmdk
from bcdtool.blockdev.qcow2 import Qcow2Device
from tests.helpers.common import need_tool
from tests.fuzz.fuzz_support import FUZZ, Budget, BytesDevice, mutated, run_hostile

MiB = 1024 * 1024
FORMATS = {"vhd-fixed": ["-O", "vpc", "-o", "subformat=fixed,force_size=on"],
           "vhd-dynamic": ["-O", "vpc", "-o", "subformat=dynamic"],
           "vhdx": ["-O", "vhdx", "-o", "block_size=1M"],
           "qcow2": ["-O", "qcow2", "-o", "cluster_size=4096"],
           "qcow2-v2": ["-O", "qcow2", "-o", "compat=0.10,cluster_size=4096"],
           "vmdk": ["-O", "vmdk"],
           "vmdk-stream": ["-O", "vmdk", "-o", "subformat=streamOptimized"]}


def build_raw(path: Path) -> bytes:
    """An 8 MiB GPT disk (ESP + basic data) with recognisable data in both partitions."""
    need_tool("sfdisk")
    with open(path, "wb") as handle:
        handle.truncate(8 * MiB)
    subprocess.run(["sfdisk", "-q", "--label", "gpt", str(path)], check=True, capture_output=True,
                   input=b"start=2048,size=6144,type=U\nstart=8192,size=6144,type=L\n")
    data = bytearray(path.read_bytes())
    for offset in (2048 * 512, 2048 * 512 + 5 * 4096, 8192 * 512, 8192 * 512 + 65536):
        data[offset:offset + 4096] = (b"bcdtool-fuzz-" + offset.to_bytes(8, "little")) * 195 \
            + bytes(4096 - 195 * 21)
    path.write_bytes(data)
    return bytes(data)


@functools.cache
def seeds(tmp: Path) -> dict[str, bytes]:
    need_tool("qemu-img")
    raw = tmp / "disk.raw"
    out = {"raw": build_raw(raw)}
    for name, args in FORMATS.items():
        dest = tmp / f"{name}.img"
        subprocess.run(["qemu-img", "convert", "-f", "raw", *args, str(raw), str(dest)],
                       check=True, capture_output=True)
        out[name] = dest.read_bytes()
    return out


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, bytes]:
    return seeds(tmp_path_factory.mktemp("fuzz-images"))


def fix_checksums(data: bytes) -> bytes:
    """Recompute the VHD footer/header and VHDX header/region checksums (when present)."""
    out = bytearray(data)
    if out[:8] == b"vhdxfile":
        for offset, size in [(o, vhdx_layout.HEADER_SIZE) for o in vhdx_layout.HEADER_OFFSETS] + \
                [(o, vhdx_layout.REGION_TABLE_SIZE) for o in vhdx_layout.REGION_TABLE_OFFSETS]:
            block = bytes(out[offset:offset + size])
            if len(block) == size:
                out[offset + 4:offset + 8] = checksum_with_field_zeroed(block).to_bytes(4, "little")
    for offset in (0, len(out) - 512):
        if offset >= 0 and out[offset:offset + 8] == b"conectix" and len(out) >= offset + 512:
            out[offset + 64:offset + 68] = vhd_checksum(bytes(out[offset:offset + 512]), 64) \
                .to_bytes(4, "big")
    return bytes(out)


def open_and_read(data: bytes) -> None:
    """Open `data` as an image file, list its partitions and read sectors all over it."""
    container = BytesDevice(data, name="fuzz.img")
    kind = sniff(container)
    if kind == "vhd":
        dev = open_vhd(container)
    elif kind == "vhdx":
        dev = VhdxDevice(container)
    elif kind == "qcow2":
        dev = Qcow2Device(container)
    elif kind in ("vmdk", "vmdk-descriptor"):
        dev = open_vmdk(container, descriptor=kind == "vmdk-descriptor")
    else:
        dev = container
    read_partition_table(dev)
    step = max(4096, dev.size // 64)
    for offset in range(0, dev.size - 4096 + 1, step):
        dev.read_at(offset, 4096)
    if dev.size:
        dev.read_at(dev.size - 1, 1)


_BUDGETS: dict[str, Budget] = {}


def budget(name: str) -> Budget:
    return _BUDGETS.setdefault(name, Budget())


@FUZZ
@given(data=st.data())
def test_image_headers_and_maps(images, data):
    name = data.draw(st.sampled_from(sorted(images)))
    # VHDX keeps its headers at 64-320 KiB and its BAT/metadata past 1 MiB.
    focus = {"vhdx": 2 * MiB, "vmdk": 2 * MiB}.get(name, 65536)
    plan = data.draw(mutated([images[name]], focus=focus))
    fix = data.draw(st.booleans())
    if budget("images").spent():
        return
    blob = fix_checksums(plan.build()) if fix else plan.build()
    run_hostile(budget("images"), "image headers + maps", open_and_read, blob)


@FUZZ
@given(data=st.data())
def test_vhd_footer(images, data):
    name = data.draw(st.sampled_from(["vhd-fixed", "vhd-dynamic"]))
    plan = data.draw(mutated([images[name][-512:]]))
    if budget("vhd-footer").spent():
        return
    seed = images[name]
    tail = plan.build()[:512]
    blob = fix_checksums(seed[:-512] + tail + bytes(max(0, 512 - len(tail))))
    run_hostile(budget("vhd-footer"), "VHD footer", open_and_read, blob)


@FUZZ
@given(data=st.data())
def test_partition_tables(images, data):
    """MBR, protective MBR, GPT header and entries of a real GPT disk (the first 34 sectors)."""
    raw = images["raw"]
    plan = data.draw(mutated([raw[:34 * 512]]))
    backup_too = data.draw(st.booleans())
    if budget("partitions").spent():
        return
    head = plan.build()
    blob = head[:34 * 512] + raw[len(head[:34 * 512]):]
    if backup_too:
        blob = blob[:-33 * 512] + head[-33 * 512:] if len(head) >= 33 * 512 else blob
    run_hostile(budget("partitions"), "partition tables",
                lambda b: read_partition_table(BytesDevice(b)), blob)
