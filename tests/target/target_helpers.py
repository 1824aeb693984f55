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
    """Access modes (O_RDONLY=0, O_WRONLY=1, O_RDWR=2) of this process's open descriptors of `path`."""
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
