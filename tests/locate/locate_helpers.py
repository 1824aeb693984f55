"""Helpers for target tests: the SAC edit and independent read-back of BCD elements."""

from __future__ import annotations


#: A real UEFI system store written by Windows 10 (it has {emssettings} and a default loader).
STORE = "bcd/win10-uefi-installed-systemd-boot.bcd"
BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
EMSSETTINGS = "{0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9}"
REG_BINARY = 3

def sac_elements(hive) -> dict[str, bytes]:
    """The SAC recipe's element values (Objects\\{id}\\Elements\\{type} -> raw data) for `hive`."""
    default = hive.key(f"Objects\\{BOOTMGR}\\Elements\\23000003").value("Element").data
    return {
        f"Objects\\{BOOTMGR}\\Elements\\16000020": b"\x01",
        f"Objects\\{default}\\Elements\\260000b0": b"\x01",
        f"Objects\\{EMSSETTINGS}\\Elements\\15000022": (1).to_bytes(8, "little"),
        f"Objects\\{EMSSETTINGS}\\Elements\\15000023": (115200).to_bytes(8, "little"),
    }


def sac_edit(hive) -> tuple[bytes, dict[str, bytes]]:
    """Apply the SAC recipe with the hive editor; (same-size image, elements written)."""
    from bcdtool.regf.editor import HiveEditor

    editor = HiveEditor(hive)
    elements = sac_elements(hive)
    for path, raw in elements.items():
        editor.create_key(path)
        editor.set_value(path, "Element", REG_BINARY, raw)
    return editor.to_bytes(same_size=True), elements


def registry_elements(data: bytes, paths) -> dict[str, bytes | None]:
    """Read each element's raw data with python-registry (an independent reader)."""
    import io

    from Registry import Registry

    reg = Registry.Registry(io.BytesIO(data))
    out: dict[str, bytes | None] = {}
    for path in paths:
        try:
            out[path] = reg.open(path).value("Element").raw_data()
        except (Registry.RegistryKeyNotFoundException, Registry.RegistryValueNotFoundException):
            out[path] = None
    return out



class WriteWatch:
    """Linux inotify on files/folders: did anything open them for writing, modify or create files?

    IN_CLOSE_WRITE fires when a file that was opened for writing is closed, even if nothing was
    written, so it proves an O_WRONLY/O_RDWR open happened; IN_MODIFY/IN_CREATE prove changes.
    """

    IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE = 0x2, 0x4, 0x8
    IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x80, 0x100, 0x200
    MASK = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE

    def __init__(self, *paths) -> None:
        import ctypes
        import os

        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._libc.inotify_init1(os.O_NONBLOCK)
        assert self.fd >= 0, "inotify is not available"
        for path in paths:
            wd = self._libc.inotify_add_watch(self.fd, str(path).encode(), self.MASK)
            assert wd >= 0, f"cannot watch {path}"

    def events(self) -> list[int]:
        """The event masks seen so far."""
        import os
        import struct

        masks = []
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return masks
            pos = 0
            while pos < len(buf):
                _wd, mask, _cookie, length = struct.unpack_from("iIII", buf, pos)
                masks.append(mask)
                pos += 16 + length

    def close(self) -> None:
        import os

        os.close(self.fd)


def open_modes(path) -> list[int]:
    """Access modes (O_RDONLY=0, O_WRONLY=1, O_RDWR=2) of this process's open descriptors of
    `path`."""
    import os

    target = os.path.realpath(path)
    modes = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.path.realpath(f"/proc/self/fd/{fd}") != target:
                continue
            with open(f"/proc/self/fdinfo/{fd}") as info:
                flags = next(line for line in info if line.startswith("flags:")).split()[1]
        except (OSError, StopIteration):
            continue
        modes.append(int(flags, 8) & os.O_ACCMODE)
    return modes


# -- disk images ----------------------------------------------------------------------------------

#: Real stores with the logs Windows left beside them: (store, log suffixes) per firmware.
DISK_STORES = {"uefi": ("win11-uefi-installed-2025.bcd", (".LOG", ".LOG1")),
               "bios": ("win10-bios-installed-sysreserved.bcd", (".LOG",))}


def build_disk(firmware: str, folder, corpus, **extra):
    """A raw GPT+ESP (uefi) or MBR+System Reserved (bios) disk holding a real store and its logs."""
    from fixtures import images

    name, suffixes = DISK_STORES[firmware]
    store = (corpus / "bcd" / name).read_bytes()
    if firmware == "uefi":
        logs = {f"EFI/Microsoft/Boot/BCD{s}": (corpus / "bcd" / (name + s)).read_bytes()
                for s in suffixes}
        return images.build_esp_disk(folder / "uefi.img", store, extra_files=logs, **extra)
    logs = {f"Boot/BCD{s}": (corpus / "bcd" / (name + s)).read_bytes() for s in suffixes}
    return images.build_mbr_disk(folder / "bios.img", store, extra_files=logs, **extra)


def read_store_independently(raw, disk, rel: str, tmp) -> bytes:
    """A file of the disk's store partition read by mtools or ntfs-3g (never by bcdtool)."""
    from fixtures import images

    part = disk.bcd_part
    if part.fs == "fat":
        return images.fat_get(raw, rel, offset=part.start)
    volume = images.extract(raw, tmp / "ntfs-volume", part.start, part.length)
    try:
        return images.ntfs_get(volume, rel)
    finally:
        volume.unlink()


def fs_check(raw, disk, tmp) -> tuple[int, str]:
    """fsck.fat -n or ntfsfix -n on the store's partition."""
    from fixtures import images

    part = disk.bcd_part
    if part.fs == "fat":
        return images.fsck_fat(raw, offset=part.start, tmp=tmp)
    volume = images.extract(raw, tmp / "ntfs-check", part.start, part.length)
    try:
        code, text = images.ntfsfix_check(volume)
    finally:
        volume.unlink()
    return code, text.replace(str(volume), "VOLUME")


def changed_sectors(a: bytes, b: bytes, unit: int = 512) -> list[int]:
    """Offsets of the `unit`-byte blocks that differ between two equally long byte strings."""
    assert len(a) == len(b)
    ma, mb = memoryview(a), memoryview(b)
    return [off for off in range(0, len(a), unit) if ma[off:off + unit] != mb[off:off + unit]]
