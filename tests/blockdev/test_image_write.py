"""In-place writes into allocated storage, checked by qemu-img; refusals leave the file
untouched."""

from __future__ import annotations

import os
import struct
import subprocess

import pytest

from tests.blockdev.blockdev_images import (FORMATS, MiB, WRITABLE, converted_raw, crc32c_bitwise,
                                            qemu_format, qemu_img, raw_bytes)
from tests.helpers.common import sha as sha256
from bcdtool.blockdev.base import RangeView
from bcdtool.blockdev import references
from bcdtool.blockdev.detect import open_image
from bcdtool.errors import ReadOnlyError, UnsupportedError

#: Writes inside data regions (allocated in every format), one straddling 34 MiB (a block edge).
WRITES = [(5 * MiB + 4096 + 1000, 3000), (34 * MiB - 700, 1400), (63 * MiB, 512)]
#: End of the data region at 20 MiB - 8 KiB; the allocation unit holding it is allocated.
REGION_END = 20 * MiB + 56 * 1024
SPARSE = ["vhd-dynamic", "vhdx", "vhdx-default", "qcow2-v2", "qcow2-v3", "qcow2-v3-4k",
          "vmdk-sparse"]


def new_bytes(offset: int, length: int) -> bytes:
    return bytes((offset + i * 7) % 251 or 1 for i in range(length))


def qemu_check(path, fmt: str) -> None:
    """qemu-img check must be clean where qemu can check the format (not vpc)."""
    if qemu_format(fmt) == "vpc":
        return
    result = subprocess.run(["qemu-img", "check", "-f", qemu_format(fmt), str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def files_of(path) -> list:
    return sorted(p for p in path.parent.iterdir())


@pytest.mark.parametrize("fmt", WRITABLE)
def test_write_allocated_then_qemu_agrees(fresh, fmt, tmp_path):
    path = fresh(fmt)
    sizes = {p: p.stat().st_size for p in files_of(path)}
    expected = bytearray(raw_bytes(0, 64 * MiB))
    with open_image(path, writable=True) as dev:
        assert dev.writable()
        for offset, length in WRITES:
            data = new_bytes(offset, length)
            dev.write_at(offset, data)
            expected[offset:offset + length] = data
            assert dev.read_at(offset - 10, length + 20) == bytes(
                expected[offset - 10 : offset + length + 10]
            )
        dev.flush_device()
    assert {p: p.stat().st_size for p in files_of(path)} == sizes
    qemu_check(path, fmt)
    assert converted_raw(path, fmt, tmp_path) == bytes(expected)


@pytest.mark.parametrize("fmt", SPARSE)
@pytest.mark.parametrize("where", ["hole", "straddle"])
def test_write_into_hole_refused(fresh, fmt, where):
    """A write into a hole, or from an allocated unit into a hole, is refused as a whole."""
    path = fresh(fmt)
    before = sha256(path)
    with open_image(path, writable=True) as dev:
        edge = -(-REGION_END // dev.unit) * dev.unit    # first unit boundary after the region
        offset, length = (10 * MiB, 4096) if where == "hole" else (edge - 10, 20)
        assert dev.read_at(offset, length) == raw_bytes(offset, length)
        with pytest.raises(UnsupportedError, match="not allocated|unallocated"):
            dev.write_at(offset, new_bytes(offset, length))
        assert sha256(path) == before
        dev.write_at(edge - 10, b"x" * 10)             # the allocated half alone is fine
    assert sha256(path) != before


def test_stream_optimized_is_read_only(fresh):
    path = fresh("vmdk-stream")
    before = sha256(path)
    with open_image(path, writable=True) as dev:
        assert not dev.writable()                    # honest: pyfatfs must see a read-only disk
        with pytest.raises(UnsupportedError, match="compressed"):
            dev.write_at(WRITES[0][0], b"x" * 10)
    assert sha256(path) == before


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_read_only_open_writes_nothing_and_opens_nothing_writable(images, fmt):
    with open_image(images[fmt]) as dev:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
        ours = [fd for fd in fds if _target(fd).startswith(str(images[fmt].parent))]
        assert ours, "the image is open"
        for fd in ours:
            flags = int(open(f"/proc/self/fdinfo/{fd}").read().split("flags:")[1].split()[0], 8)
            assert flags & os.O_ACCMODE == os.O_RDONLY
        with pytest.raises(ReadOnlyError):
            dev.write_at(0, b"x")


def _target(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


# -- qcow2 refusals ---------------------------------------------------------------------------
def test_qcow2_compressed_clusters_read_but_refuse_writes(raw_image, tmp_path):
    path = tmp_path / "c.qcow2"
    qemu_img("convert", "-c", "-f", "raw", "-O", "qcow2", raw_image, path)
    before = sha256(path)
    with open_image(path, writable=True) as dev:
        assert dev.read_at(5 * MiB, 2 * MiB) == raw_bytes(5 * MiB, 2 * MiB)
        with pytest.raises(UnsupportedError, match="compressed"):
            dev.write_at(WRITES[0][0], b"x" * 10)
    assert sha256(path) == before


def test_qcow2_snapshot_shared_cluster_refused(fresh):
    path = fresh("qcow2-v3")
    qemu_img("snapshot", "-c", "before-repair", path)
    before = sha256(path)
    with open_image(path, writable=True) as dev:
        assert dev.read_at(0, 4096) == raw_bytes(0, 4096)
        with pytest.raises(UnsupportedError, match="shared"):
            dev.write_at(WRITES[0][0], b"x" * 10)
    assert sha256(path) == before


def test_qcow2_backing_file_reads_through_and_refuses(images, tmp_path):
    base = images["qcow2-v2"]
    child = tmp_path / "child.qcow2"
    qemu_img("create", "-f", "qcow2", "-b", str(base), "-F", "qcow2", child)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P 0x5a {33 * MiB} 65536", str(child)],
                   check=True, capture_output=True)
    expected = bytearray(raw_bytes(0, 64 * MiB))
    expected[33 * MiB:33 * MiB + 65536] = b"\x5a" * 65536
    before = sha256(child)
    with references.allowed([base]), open_image(child, writable=True) as dev:
        assert dev.chain() == [str(child), str(base)]
        assert dev.read_at(0, 64 * MiB) == bytes(expected)
        with pytest.raises(UnsupportedError, match="backing"):
            dev.write_at(WRITES[0][0], b"x" * 10)
        assert sha256(child) == before
        dev.write_at(33 * MiB + 100, b"ours")       # a cluster the child owns
        expected[33 * MiB + 100:33 * MiB + 104] = b"ours"
    qemu_check(child, "qcow2")
    assert converted_raw(child, "qcow2", tmp_path) == bytes(expected)
    assert sha256(base) == sha256(images["qcow2-v2"])


@pytest.mark.parametrize("bit,match", [(0, "dirty"), (1, "corrupt")])
def test_qcow2_dirty_or_corrupt_refuses_writes(fresh, bit, match):
    path = fresh("qcow2-v3")
    with open(path, "r+b") as f:
        f.seek(72)
        f.write(struct.pack(">Q", 1 << bit))
    before = sha256(path)
    with open_image(path, writable=True) as dev:
        assert dev.read_at(0, 4096) == raw_bytes(0, 4096)
        assert not dev.writable() and match in dev.notices[0]
        with pytest.raises(UnsupportedError, match=match):
            dev.write_at(WRITES[0][0], b"x")
    assert sha256(path) == before


def test_qcow2_unknown_incompatible_feature_refused(fresh):
    path = fresh("qcow2-v3")
    with open(path, "r+b") as f:
        f.seek(72)
        f.write(struct.pack(">Q", 1 << 5))
    with pytest.raises(UnsupportedError, match="incompatible"):
        open_image(path)


def test_qcow2_zero_cluster_reads_zero_refuses_write(fresh, tmp_path):
    path = fresh("qcow2-v3")
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -z {5 * MiB} 65536", str(path)],
                   check=True, capture_output=True)
    before = sha256(path)
    with open_image(path, writable=True) as dev:
        assert dev.read_at(5 * MiB, 65536) == bytes(65536)
        with pytest.raises(UnsupportedError, match="zero"):
            dev.write_at(5 * MiB + 4096, b"x")
    assert sha256(path) == before


# -- VHDX / VHD refusals ----------------------------------------------------------------------
def set_log_guid(path, *, with_entry: bool) -> None:
    """Stamp a LogGuid into the current VHDX header and, if asked, a valid empty log entry."""
    data = bytearray(path.read_bytes()[:192 * 1024])
    slot = max((64 * 1024, 128 * 1024), key=lambda o: struct.unpack_from("<Q", data, o + 8)[0])
    hdr = bytearray(data[slot:slot + 4096])
    guid = bytes(range(1, 17))
    hdr[48:64] = guid
    hdr[4:8] = bytes(4)
    hdr[4:8] = struct.pack("<I", crc32c_bitwise(bytes(hdr)))
    log_length, log_offset = struct.unpack_from("<IQ", hdr, 68)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(slot)
        f.write(hdr)
        if with_entry:                   # 2.3.1.1: header, no descriptors, one 4 KiB sector
            entry = bytearray(struct.pack("<4sIIIQII16sQQ", b"loge", 0, 4096, 0, 1, 0, 0, guid,
                                          size, size) + bytes(4096 - 64))
            entry[4:8] = struct.pack("<I", crc32c_bitwise(bytes(entry)))
            f.seek(log_offset + 8192)
            f.write(entry)


def test_vhdx_dirty_log_refuses_writes(fresh):
    path = fresh("vhdx")
    set_log_guid(path, with_entry=True)
    qemu = subprocess.run(["qemu-img", "info", str(path)], capture_output=True, text=True)
    assert "needs to be replayed" in qemu.stderr            # qemu agrees the log is pending
    before = sha256(path)
    with open_image(path, writable=True) as dev:
        assert dev.read_at(0, 4096) == raw_bytes(0, 4096)
        assert not dev.writable() and "log is not empty" in dev.notices[0]
        with pytest.raises(UnsupportedError, match="qemu-img check -r all"):
            RangeView(dev, 0, MiB).write_at(0, b"x")
    assert sha256(path) == before
    qemu_img("check", "-r", "all", path)                    # the advice we give works
    with open_image(path, writable=True) as dev:
        assert dev.writable()


def test_vhdx_log_guid_without_entries_is_an_empty_log(fresh, tmp_path):
    """[MS-VHDX] 2.2.2: only entries carrying the LogGuid count; none means nothing to replay."""
    path = fresh("vhdx")
    set_log_guid(path, with_entry=False)
    qemu_img("info", path)                                   # qemu opens it read-only: no replay
    with open_image(path, writable=True) as dev:
        assert dev.writable() and not dev.notices
        dev.write_at(WRITES[0][0], b"fine")
    qemu_check(path, "vhdx")
    expected = bytearray(raw_bytes(0, 64 * MiB))
    expected[WRITES[0][0]:WRITES[0][0] + 4] = b"fine"
    assert converted_raw(path, "vhdx", tmp_path) == bytes(expected)


def test_vhdx_write_bumps_header_sequence(fresh):
    path = fresh("vhdx")

    def seqs():
        raw = path.read_bytes()[:192 * 1024]
        return sorted(struct.unpack_from("<Q", raw, o + 8)[0] for o in (64 * 1024, 128 * 1024))

    old = seqs()
    with open_image(path, writable=True) as dev:
        dev.write_at(WRITES[0][0], b"abc")
        dev.write_at(WRITES[1][0], b"def")
    assert seqs() == sorted([old[1], old[1] + 1])


def vhd_patch(path, offset: int, data: bytes, *, footer_at: list[int]) -> None:
    """Patch bytes, then fix the footer checksums (ones' complement byte sum) at `footer_at`."""
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
        for pos in footer_at:
            f.seek(pos)
            footer = bytearray(f.read(512))
            footer[64:68] = bytes(4)
            footer[64:68] = struct.pack(">I", ~sum(footer) & 0xFFFFFFFF)
            f.seek(pos)
            f.write(footer)


def test_vhd_differencing_refused(fresh):
    path = fresh("vhd-dynamic")
    end = path.stat().st_size - 512
    vhd_patch(path, 60, struct.pack(">I", 4), footer_at=[0])
    vhd_patch(path, end + 60, struct.pack(">I", 4), footer_at=[end])
    with pytest.raises(UnsupportedError, match="differencing"):
        open_image(path)


def test_vhd_bad_end_footer_falls_back_to_copy(fresh):
    path = fresh("vhd-dynamic")
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size - 512 + 70)
        f.write(b"\xff")
    with open_image(path) as dev:
        assert dev.read_at(5 * MiB, MiB) == raw_bytes(5 * MiB, MiB)
        assert "copy at the start" in dev.notices[0]


def test_vhd_clear_bitmap_bit_refuses_write(fresh):
    path = fresh("vhd-dynamic")
    raw = path.read_bytes()
    header = struct.unpack_from(">Q", raw, 16)[0]            # footer copy: data offset
    table, _, entries, block = struct.unpack_from(">QIII", raw, header + 16)
    bat = struct.unpack_from(f">{entries}I", raw, table)
    offset = WRITES[0][0]
    sector_in_block = offset % block // 512
    bitmap = bat[offset // block] * 512
    with open(path, "r+b") as f:
        f.seek(bitmap + sector_in_block // 8)
        f.write(b"\0")
    before = sha256(path)
    with open_image(path, writable=True) as dev:
        assert dev.read_at(offset, 100) == raw_bytes(offset, 100)
        with pytest.raises(UnsupportedError, match="bitmap"):
            dev.write_at(offset, b"x")
        assert sha256(path) == before
        dev.write_at(offset + 8 * 512 * 2, b"y")  # a sector two bitmap bytes further is fine
    assert sha256(path) != before


def test_vhdx_differencing_refused(fresh):
    path = fresh("vhdx")
    raw = path.read_bytes()[:4 * MiB]
    count = struct.unpack_from("<I", raw, 192 * 1024 + 8)[0]
    meta_guid = bytes.fromhex("06a27c8b90479a4bb8fe575f050f886e")
    for i in range(count):
        entry = 192 * 1024 + 16 + 32 * i
        if raw[entry:entry + 16] == meta_guid:
            meta = struct.unpack_from("<Q", raw, entry + 16)[0]
    params_guid = bytes.fromhex("3767a1ca36fa434db3b633f0aa44e76b")
    entries = struct.unpack_from("<H", raw, meta + 10)[0]
    for i in range(entries):
        entry = meta + 32 + 32 * i
        if raw[entry:entry + 16] == params_guid:
            params = meta + struct.unpack_from("<I", raw, entry + 16)[0]
    with open(path, "r+b") as f:
        f.seek(params + 4)
        f.write(struct.pack("<I", 2))                  # HasParent
    with pytest.raises(UnsupportedError, match="differencing"):
        open_image(path)


@pytest.mark.parametrize("bits", [1, 64])
def test_qcow2_unusual_refcount_widths(raw_image, tmp_path, bits):
    path = tmp_path / "rc.qcow2"
    qemu_img("convert", "-f", "raw", "-O", "qcow2", "-o", f"compat=1.1,refcount_bits={bits}",
             raw_image, path)
    expected = bytearray(raw_bytes(0, 64 * MiB))
    with open_image(path, writable=True) as dev:
        for offset, length in WRITES:
            dev.write_at(offset, new_bytes(offset, length))
            expected[offset:offset + length] = new_bytes(offset, length)
    qemu_check(path, "qcow2")
    assert converted_raw(path, "qcow2", tmp_path) == bytes(expected)
    if bits > 1:                                     # 1-bit refcounts cannot count a snapshot
        qemu_img("snapshot", "-c", "s", path)
        with (
            open_image(path, writable=True) as dev,
            pytest.raises(UnsupportedError, match="shared"),
        ):
            dev.write_at(WRITES[0][0], b"x")


def test_qcow2_external_data_file_refused(raw_image, tmp_path):
    path = tmp_path / "ext.qcow2"
    qemu_img("convert", "-f", "raw", "-O", "qcow2", "-o", f"data_file={tmp_path / 'data.raw'}",
             raw_image, path)
    with pytest.raises(UnsupportedError, match="incompatible"):
        open_image(path)


def test_vhd_fixed_without_force_size_uses_footer_size(raw_image, tmp_path):
    """qemu rounds the disk up to a CHS geometry; Hyper-V and we use the footer's current size."""
    path = tmp_path / "chs.vhd"
    qemu_img("convert", "-f", "raw", "-O", "vpc", "-o", "subformat=fixed", raw_image, path)
    footer = path.read_bytes()[-512:]
    current = struct.unpack_from(">Q", footer, 48)[0]
    cylinders, heads, sectors = struct.unpack_from(">HBB", footer, 56)
    assert current == cylinders * heads * sectors * 512 > 64 * MiB
    with open_image(path) as dev:
        assert dev.size == current
        assert dev.read_at(0, 64 * MiB) == raw_bytes(0, 64 * MiB)
        assert dev.read_at(64 * MiB, current - 64 * MiB) == bytes(current - 64 * MiB)


@pytest.mark.parametrize("fmt", SPARSE + ["vmdk-split"])
def test_check_write_refuses_like_write_through_views(fresh, fmt):
    path = fresh(fmt)
    before = sha256(path)
    with open_image(path, writable=True) as dev:
        view = RangeView(dev, 8 * MiB, 8 * MiB)
        with pytest.raises(UnsupportedError):
            view.check_write(2 * MiB, 10)                # 10 MiB: a hole in every sparse format
        dev.check_write(WRITES[0][0], 100)               # allocated: no complaint, nothing written
    with open_image(path) as dev, pytest.raises(ReadOnlyError):
        dev.check_write(WRITES[0][0], 100)
    assert sha256(path) == before


def test_qcow2_persistent_bitmaps_refuse_writes(fresh):
    """Writing under a dirty bitmap without updating it would break incremental backups."""
    path = fresh("qcow2-v3")
    qemu_img("bitmap", "--add", path, "backup0")
    before = sha256(path)
    with open_image(path, writable=True) as dev:
        assert not dev.writable() and "auto-clear" in dev.notices[0]
        with pytest.raises(UnsupportedError, match="bitmaps"):
            dev.write_at(WRITES[0][0], b"x")
    assert sha256(path) == before


def test_vmdk_zeroed_grains_read_zero_and_refuse_writes(raw_image, tmp_path):
    path = tmp_path / "zg.vmdk"
    qemu_img(
        "convert",
        "-f",
        "raw",
        "-O",
        "vmdk",
        "-o",
        "subformat=monolithicSparse,zeroed_grain=on",
        raw_image,
        path,
    )
    subprocess.run(["qemu-io", "-f", "vmdk", "-c", f"write -z {5 * MiB} {MiB}", str(path)],
                   check=True, capture_output=True)
    before = sha256(path)
    with open_image(path, writable=True) as dev:
        assert dev.read_at(5 * MiB, MiB) == bytes(MiB)
        assert dev.read_at(6 * MiB - 8, 16) == bytes(8) + raw_bytes(6 * MiB, 8)
        with pytest.raises(UnsupportedError, match="not allocated"):
            dev.write_at(5 * MiB + 4096, b"x")
    assert sha256(path) == before
