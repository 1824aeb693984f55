"""Open a disk image or block device as the right BlockDevice, sniffing magic bytes (not names)."""

from __future__ import annotations

from bcdtool.blockdev.base import BlockDevice
from bcdtool.blockdev.raw import RawDevice
from bcdtool.errors import UnsupportedError

#: Largest file we treat as a possible VMDK text descriptor.
MAX_DESCRIPTOR = 64 * 1024
#: Image formats we recognise but do not open: treating them as raw disks would be wrong.
UNSUPPORTED = [(0, b"COWD", "VMware vmfsSparse (COWD) VMDK"), (0, b"QED\0", "QED"),
               (0x40, b"\x7f\x10\xda\xbe", "VirtualBox VDI"),
               (0, b"WithoutFreeSpace", "Parallels"), (0, b"WithouFreSpacExt", "Parallels")]


def sniff(container: BlockDevice) -> str:
    """The image format of `container`: vhdx, qcow2, vmdk, vmdk-descriptor, vhd, raw, or the
    name of a recognised format bcdtool does not open."""
    head = container.read_at(0, min(512, container.size))
    if head.startswith(b"vhdxfile"):
        return "vhdx"
    if head.startswith(b"QFI\xfb"):
        return "qcow2"
    if head.startswith(b"KDMV"):
        return "vmdk"
    if head.startswith(b"conectix"):
        return "vhd"
    if container.size >= 512 and container.read_at(container.size - 512, 8) == b"conectix":
        return "vhd"
    if container.size <= MAX_DESCRIPTOR and head.lstrip().startswith(b"# Disk DescriptorFile"):
        return "vmdk-descriptor"
    for offset, magic, name in UNSUPPORTED:
        if head[offset:offset + len(magic)] == magic:
            return name
    return "raw"


def open_image(path: str, *, writable: bool = False, depth: int = 0) -> BlockDevice:
    """Open an image file or block device; read-only opens never open anything for writing.

    `depth` counts backing files already followed (qcow2 chains are bounded).
    """
    container = RawDevice(path, writable=writable)
    try:
        kind = sniff(container)
        if kind == "raw":
            return container
        if kind == "vhd":
            from bcdtool.blockdev.vhd import open_vhd
            return open_vhd(container)
        if kind == "vhdx":
            from bcdtool.blockdev.vhdx import VhdxDevice
            return VhdxDevice(container)
        if kind == "qcow2":
            from bcdtool.blockdev.qcow2 import Qcow2Device
            return Qcow2Device(container, depth=depth)
        if kind in ("vmdk", "vmdk-descriptor"):
            from bcdtool.blockdev.vmdk import open_vmdk
            return open_vmdk(container, descriptor=kind == "vmdk-descriptor")
        raise UnsupportedError(f"{kind} images are not supported; convert with qemu-img convert "
                               "-O qcow2 (or vhdx) first", path=path)
    except BaseException:
        container.close()
        raise
