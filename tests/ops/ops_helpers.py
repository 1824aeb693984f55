"""Helpers for recipe tests: Windows disks built with real tools, and independent read-back of
BCD elements and registry values with python-registry (never with bcdtool's reader)."""

from __future__ import annotations

import io
from pathlib import Path

from fixtures import images, windows_hives
from tests.helpers.common import need_tools

BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
EMSSETTINGS = "{0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9}"
#: Element codes of the recipe, written out here on purpose: the test must not take them from
#: the table it is testing.
CODES = {"ems": "260000b0", "debug": "260000a0", "bootems": "16000020", "emsport": "15000022",
         "emsbaudrate": "15000023", "displaybootmenu": "26000020", "timeout": "25000004",
         "default": "23000003", "inherit": "14000006"}
LOADER = "{6a5e0a36-4d5b-4f52-9a34-0c7e3f6b1d01}"
RESUME = "{6a5e0a36-4d5b-4f52-9a34-0c7e3f6b1d02}"


def new_store(firmware: str) -> bytes:
    """A bcdboot-like store naming fixed (fictitious) partitions."""
    from bcdtool.bcd.device import PartitionDevice
    from bcdtool.bcd.template import StoreLayout, build_store

    if firmware == "uefi":
        disk = "{8d2a6c1e-6e4b-4f3a-9c5d-1b2c3d4e5f60}"
        system = PartitionDevice(style="gpt", disk_guid=disk,
                                 partition_guid="{11111111-1111-1111-1111-111111111111}")
        windows = PartitionDevice(style="gpt", disk_guid=disk,
                                  partition_guid="{22222222-2222-2222-2222-222222222222}")
    else:
        system = PartitionDevice(style="mbr", disk_signature=0x1B2C3D4E, partition_offset=1 << 20)
        windows = PartitionDevice(style="mbr", disk_signature=0x1B2C3D4E,
                                  partition_offset=17 << 20)
    return build_store(StoreLayout(firmware, system, windows, loader_guid=LOADER,
                                   resume_guid=RESUME))


#: The files the boot code loads, by firmware: (system partition, Windows partition).
BOOT_FILES = {
    "uefi": ({"EFI/Microsoft/Boot/bootmgfw.efi": b"MZ bootmgfw",
              "EFI/Microsoft/Boot/memtest.efi": b"MZ memtest"},
             {"Windows/System32/winload.efi": b"MZ winload",
              "Windows/System32/winresume.efi": b"MZ winresume"}),
    "bios": ({"bootmgr": b"bootmgr", "Boot/memtest.exe": b"MZ memtest"},
             {"Windows/System32/winload.exe": b"MZ winload",
              "Windows/System32/winresume.exe": b"MZ winresume"}),
}


def build_windows_disk(firmware: str, dest: Path, *, bcd: bytes | None = None,
                       system: bytes | None = None, software: bytes | None = None,
                       windows_extra: dict | None = None, boot_files: bool = True,
                       system_extra: dict | None = None):
    """A raw GPT+ESP (uefi) or MBR+System Reserved (bios) disk with a Windows NTFS partition,
    holding the boot manager and winload/winresume (unless `boot_files` is false)."""
    need_tools("sfdisk", "mkntfs", "ntfscp", *(("mkfs.fat", "mcopy") if firmware == "uefi"
                                                else ()))
    files = images.windows_hive_files(
        system if system is not None else windows_hives.system_hive(),
        software if software is not None else windows_hives.software_hive())
    system_files, windows_files = BOOT_FILES[firmware] if boot_files else ({}, {})
    files.update(windows_files)
    files.update(windows_extra or {})
    build = images.build_esp_disk if firmware == "uefi" else images.build_mbr_disk
    return build(dest, bcd if bcd is not None else new_store(firmware), windows_files=files,
                 extra_files={**system_files, **(system_extra or {})})


def store_bytes(raw: Path, disk, tmp: Path) -> bytes:
    """The BCD file of a raw disk, read by mtools or ntfscat."""
    part = disk.bcd_part
    if part.fs == "fat":
        return images.fat_get(raw, disk.bcd_path, offset=part.start)
    volume = images.extract(raw, tmp / "bcd-volume", part.start, part.length)
    try:
        return images.ntfs_get(volume, disk.bcd_path)
    finally:
        volume.unlink()


def windows_file(raw: Path, disk, rel: str, tmp: Path) -> bytes:
    """A file of the disk's Windows partition, read by ntfscat."""
    part = disk.partitions[-1]
    volume = images.extract(raw, tmp / "win-volume", part.start, part.length)
    try:
        return images.ntfs_get(volume, rel)
    finally:
        volume.unlink()


def registry(data: bytes):
    """python-registry over hive bytes."""
    from Registry import Registry

    return Registry.Registry(io.BytesIO(data))


def element_raw(reg, guid: str, code: str) -> bytes | None:
    """Raw Element data of Objects\\{guid}\\Elements\\{code}, or None (python-registry)."""
    from Registry import Registry

    try:
        return reg.open(f"Objects\\{guid}\\Elements\\{code}").value("Element").raw_data()
    except (Registry.RegistryKeyNotFoundException, Registry.RegistryValueNotFoundException):
        return None


def effective_raw(reg, guid: str, code: str) -> bytes | None:
    """The element as the boot code sees it, resolved with python-registry alone: own value,
    then the inherit list depth-first (missing objects skipped, cycles cut)."""
    seen: set[str] = set()
    stack = [guid.lower()]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        raw = element_raw(reg, current, code)
        if raw is not None:
            return raw
        parents = element_raw(reg, current, CODES["inherit"])
        if parents:
            names = [s.lower() for s in parents.decode("utf-16-le").split("\0") if s]
            stack.extend(reversed(names))
    return None


def default_loader(reg) -> str:
    """{bootmgr}'s default object, read with python-registry."""
    raw = element_raw(reg, BOOTMGR, CODES["default"])
    return raw.decode("utf-16-le").rstrip("\0").lower()


def u64(number: int) -> bytes:
    """An integer element as bcdedit writes it."""
    return number.to_bytes(8, "little")


def assert_recipe(data: bytes, *, port: int = 1, baud: int = 115200, timeout: int = 5,
                  loaders: list[str] | None = None) -> None:
    """Every setting of the serial-console recipe is in effect, judged by python-registry."""
    reg = registry(data)
    for loader in loaders or [default_loader(reg)]:
        assert effective_raw(reg, loader, CODES["ems"]) == b"\x01"
        assert _integer(effective_raw(reg, loader, CODES["emsport"])) == port
        assert _integer(effective_raw(reg, loader, CODES["emsbaudrate"])) == baud
        assert effective_raw(reg, loader, CODES["debug"]) in (None, b"\x00")
    assert effective_raw(reg, BOOTMGR, CODES["bootems"]) == b"\x01"
    assert effective_raw(reg, BOOTMGR, CODES["displaybootmenu"]) == b"\x01"
    assert _integer(effective_raw(reg, BOOTMGR, CODES["timeout"])) == timeout


def _integer(raw: bytes | None) -> int | None:
    """An integer element: Windows tools write 1 to 8 little-endian bytes (bcdedit writes 8)."""
    if raw is None or not 1 <= len(raw) <= 8:
        return None
    return int.from_bytes(raw, "little")


def dirty_with_log(clean: bytes, edited: bytes) -> tuple[bytes, bytes]:
    """(dirty primary, new-format .LOG1) such that replaying the log turns `clean` into `edited`
    — what Windows leaves when it is cut off after logging a change.  Built with the log
    helpers of tests/regf/test_logs.py."""
    import struct

    from tests.regf.test_logs import make_entry, make_log

    from bcdtool.regf.checksums import regf_checksum

    assert len(clean) == len(edited)
    sequence = struct.unpack_from("<I", clean, 8)[0]
    bins = struct.unpack_from("<I", clean, 40)[0]
    pages = [(off - 4096, edited[off:off + 4096]) for off in range(4096, len(edited), 4096)
             if edited[off:off + 4096] != clean[off:off + 4096]]
    log = make_log(clean, sequence, [make_entry(sequence, bins, pages)])
    primary = bytearray(clean)
    struct.pack_into("<I", primary, 4, sequence + 1)
    struct.pack_into("<I", primary, 508, regf_checksum(bytes(primary[:508])))
    return bytes(primary), log
