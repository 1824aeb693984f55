"""Open a disk image or block device as the right BlockDevice, sniffing magic bytes (not names).

This is the one place that opens files by name: the image the user named, and the backing files
its qcow2 header names (resolved and opened through blockdev.references, so they stay inside the
image's folder unless the user named them too).  Each format's reader is found by name in
blockdev.openers, so a raw image loads none of them.
"""

from __future__ import annotations

import os

from bcdtool.blockdev import references
from bcdtool.blockdev.base import BlockDevice
from bcdtool.blockdev.openers import opener_for, reader_for
from bcdtool.blockdev.raw import RawDevice
from bcdtool.errors import CorruptionError, FormatError, ImageError, UnsupportedError, next_step
from bcdtool.urls import is_url, remember

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


#: What a Linux rescue user can do about a damaged image file (appended to such errors).
QEMU_STEP = ("check the image with `qemu-img check` (read-only); `qemu-img convert -O raw` "
             "copies out what is readable")
#: How many backing files deep we follow before calling it a loop.
MAX_BACKING_DEPTH = 8


def open_container(path: str, *, writable: bool = False) -> BlockDevice:
    """The bytes of an image: a local file or device, an http(s) URL (range reads), or an Azure
    page blob (writable https SAS URL, or az://ACCOUNT/CONTAINER/BLOB); a URL through the opener
    registered for its scheme (blockdev.openers)."""
    if not is_url(path):
        return RawDevice(path, writable=writable)
    remember(path)          # so every message that quotes it is redacted exactly
    return opener_for(path)(path, writable=writable)


def open_image(path: str | os.PathLike, *, writable: bool = False) -> BlockDevice:
    """Open an image file, block device or URL; read-only opens never open anything for writing.

    A FIFO, socket, character device or folder is refused without blocking; a qcow2 image's
    backing chain is opened read-only, each file confined as blockdev.references says.
    """
    path = os.fspath(path)
    container = open_container(path, writable=writable)
    return _open_container(container, [container.name if is_url(path) else os.path.realpath(path)])


def _open_container(container: BlockDevice, seen: list[str]) -> BlockDevice:
    """The image format inside `container`; `seen` lists the real paths of the chain so far."""
    try:
        kind = sniff(container)
        if kind == "raw":
            return container
        if kind == "vmdk-descriptor" and is_url(container.name):
            raise UnsupportedError("a VMDK descriptor names extent files beside it, which bcdtool "
                                   "does not fetch over HTTP: give the URL of a monolithicSparse "
                                   "or streamOptimized VMDK (qemu-img convert -O vmdk -o "
                                   "subformat=monolithicSparse), or download the extents",
                                   path=container.name)
        if kind not in ("vhd", "vhdx", "vmdk", "vmdk-descriptor", "qcow2"):
            raise UnsupportedError(f"{kind} images are not supported; convert with qemu-img "
                                   "convert -O qcow2 (or vhdx) first", path=container.name)
        reader = reader_for("vmdk" if kind == "vmdk-descriptor" else kind, path=container.name)
        with next_step(QEMU_STEP, FormatError, CorruptionError, ImageError):
            if kind.startswith("vmdk"):
                return reader(container, descriptor=kind == "vmdk-descriptor")
            dev = reader(container)
            if kind != "qcow2":
                return dev
    except BaseException:
        container.close()
        raise
    try:
        if dev.backing_name:
            dev.attach_backing(_open_backing(dev, seen))
    except BaseException:
        dev.close()
        raise
    return dev


def _open_backing(dev, seen: list[str]) -> BlockDevice:
    """The backing file of qcow2 image `dev`, opened read-only, with its own chain."""
    if is_url(dev.name):
        raise UnsupportedError(f"qcow2 backing file {dev.backing_name!r}: backing files are not "
                               "fetched over HTTP (nor guessed as sibling URLs); flatten the "
                               "image first (qemu-img convert -O qcow2 child.qcow2 flat.qcow2)",
                               path=dev.name)
    target = references.resolve(dev.name, dev.backing_name, what="qcow2 backing file")
    if target in seen:
        raise ImageError(f"qcow2 backing chain loops back to {target}", path=dev.name)
    if len(seen) > MAX_BACKING_DEPTH:
        raise ImageError(f"qcow2 backing chain deeper than {MAX_BACKING_DEPTH} files",
                         path=dev.name)
    backing = _open_container(references.open_reference(target), seen + [target])
    dev.note("clusters this image does not hold are read from its backing chain: "
             + " -> ".join([dev.name] + backing.chain()))
    return backing
