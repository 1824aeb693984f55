"""Open a disk image or block device as the right BlockDevice, sniffing magic bytes (not names)."""

from __future__ import annotations

from bcdtool.blockdev.base import BlockDevice
from bcdtool.blockdev.http import HttpDevice
from bcdtool.blockdev.raw import RawDevice
from bcdtool.errors import UnsupportedError
from bcdtool.urls import is_url, redact

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


def open_container(path: str, *, writable: bool = False) -> BlockDevice:
    """The bytes of an image: a local file or device, an http(s) URL (range reads), or an Azure
    page blob (writable https SAS URL, or az://ACCOUNT/CONTAINER/BLOB)."""
    if not is_url(path):
        return RawDevice(path, writable=writable)
    if writable or path.lower().startswith("az://"):
        # The Azure SDK (optional extra, ~200 ms to import) loads only when a blob is written.
        from bcdtool.blockdev.pageblob import PageBlobDevice
        return PageBlobDevice(path, writable=writable)
    return HttpDevice(path)


def open_image(path: str, *, writable: bool = False, depth: int = 0) -> BlockDevice:
    """Open an image file, block device or URL; read-only opens never open anything for writing.

    `depth` counts backing files already followed (qcow2 chains are bounded).
    """
    container = open_container(path, writable=writable)
    try:
        kind = sniff(container)
        if kind == "vmdk-descriptor" and is_url(path):
            raise UnsupportedError("a VMDK descriptor names extent files beside it, which bcdtool "
                                   "does not fetch over HTTP: give the URL of a monolithicSparse "
                                   "or streamOptimized VMDK (qemu-img convert -O vmdk -o "
                                   "subformat=monolithicSparse), or download the extents",
                                   path=redact(path))
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
                               "-O qcow2 (or vhdx) first", path=redact(path))
    except BaseException:
        container.close()
        raise
