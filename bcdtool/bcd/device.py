"""BCD layer: pure parse, build and rendering of device element blobs (boot, partition, file,
ramdisk, locate).  Unknown or irregular blobs are kept verbatim as `RawDevice`.

Reference: ../shared/reference/bcd.md §4 (layouts) and §10.3 (how bcdedit prints devices).
Every parse is checked by rebuilding: a blob whose rebuild differs from its bytes is returned as
`RawDevice`, so re-encoding a decoded device is always byte-identical.
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import NamedTuple

from bcdtool.bcd import device_layout_packed as L
from bcdtool.bcd.elements import OSLOADER, element
from bcdtool.bcd.objects import guid_from_bytes_le, guid_to_bytes_le, normalize_guid
from bcdtool.errors import FormatError, InvalidArgumentError, UnsupportedError

#: Nesting bound for hostile blobs (real devices nest at most twice: ramdisk -> partition).
MAX_DEPTH = 4

IdRenderer = Callable[[str], str]
#: Names a partition device that lies on a known disk ("partition 2 of this disk"), else None.
PartitionNamer = Callable[["PartitionDevice"], "str | None"]
#: Turns the partition forms that need the target disk (`#2`, `/dev/sdc2`, `C:`) into a device.
PartitionResolver = Callable[[str], "PartitionDevice"]
#: The element a native-VHD device locates inside the attached disk: the loader's own path,
#: and for a loader's osdevice its systemroot (real `bcdedit /enum` outputs of native VHD boot
#: entries show `locate=custom:22000002` there; that bcdedit picks it when none is typed is [L]).
APPLICATION_PATH = element("path")
SYSTEMROOT = element("systemroot", OSLOADER)
OSDEVICE = element("osdevice", OSLOADER)
APPLICATION_DEVICE = element("device")


class Device(ABC):
    """A decoded device; `options` is the additional-options object GUID (None when zero).

    Devices are immutable values: built by keyword (every field has a default except those a
    subclass declares without one), equal and hashed by kind and fields, changed only through
    `replace`.  The fields are the class annotations, base classes' first.  This is what a
    frozen keyword-only dataclass gives, written once here: `dataclasses` generates and compiles
    each class's methods when the module is imported, which for these eight classes was about
    5 ms of every read-only command (issue 12's start-up goal).
    """

    options: str | None = None
    flags: int = 0

    kind = "device"

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        names = [name for klass in reversed(cls.__mro__) if issubclass(klass, Device)
                 for name in vars(klass).get("__annotations__", {})]
        cls._fields = tuple(dict.fromkeys(names))

    def __init__(self, **values) -> None:
        unknown = values.keys() - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        for name in self._fields:
            if name in values:
                object.__setattr__(self, name, values[name])
            elif not hasattr(type(self), name):
                raise TypeError(f"{type(self).__name__} needs {name}")
            # else the class attribute is the default (defaults are immutable values)

    def replace(self, **changes) -> Device:
        """A copy of this device with `changes` to its fields."""
        return type(self)(**{**self._values(), **changes})

    def _values(self) -> dict:
        return {name: getattr(self, name) for name in self._fields}

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; use replace()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), *self._values().values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self._values().items())
        return f"{type(self).__name__}({fields})"

    @abstractmethod
    def text(self, ident: IdRenderer = str, *, detailed: bool = False,
             where: PartitionNamer | None = None) -> str:
        """bcdedit's rendering offline (partitions are `unknown`); `detailed` names them, and
        `where` says which partition of a known disk they are."""

    def to_json(self) -> dict:
        """Structured form for JSON output."""
        data = {"type": self.kind}
        if self.options:
            data["options"] = self.options
        if self.flags:
            data["flags"] = self.flags
        return data

    def _bracket(self, ident: IdRenderer, detailed: bool, where: PartitionNamer | None) -> str:
        # inside [..] of file/ramdisk devices bcdedit prints `boot` or the volume (offline: unknown)
        return self.text(ident, detailed=detailed, where=where)


class BootDevice(Device):
    """The device the boot manager was loaded from."""

    kind = "boot"

    def text(self, ident: IdRenderer = str, *, detailed: bool = False,
             where: PartitionNamer | None = None) -> str:
        return "boot"


class PartitionDevice(Device):
    """A partition named by its disk: GPT disk and partition GUIDs, or MBR signature and offset."""

    style: str                      # "gpt" or "mbr"
    disk_guid: str | None = None
    partition_guid: str | None = None
    disk_signature: int | None = None
    partition_offset: int | None = None

    kind = "partition"

    def text(self, ident: IdRenderer = str, *, detailed: bool = False,
             where: PartitionNamer | None = None) -> str:
        if not detailed:
            return "unknown"  # bcdedit cannot find the disk when the store is offline
        return "partition=" + self.identity(where)

    def _bracket(self, ident: IdRenderer, detailed: bool, where: PartitionNamer | None) -> str:
        return self.identity(where) if detailed else "unknown"

    def identity(self, where: PartitionNamer | None = None) -> str:
        """Readable partition identity (disk and partition) for the offline view."""
        if self.style == "gpt":
            text = f"<GPT disk {self.disk_guid} partition {self.partition_guid}"
        else:
            text = (f"<MBR disk {self.disk_signature:08x} offset {self.partition_offset:#x}"
                    f" ({_human(self.partition_offset)})")
        name = where(self) if where else None
        return text + (f": {name}>" if name else ">")

    def to_json(self) -> dict:
        data = super().to_json()
        data["style"] = self.style
        if self.style == "gpt":
            data.update(disk_guid=self.disk_guid, partition_guid=self.partition_guid)
        else:
            data.update(disk_signature=f"{self.disk_signature:08x}",
                        partition_offset=self.partition_offset)
        return data


class FileDevice(Device):
    """A file (e.g. a VHD or WIM) on a parent device."""

    parent: Device
    path: str

    kind = "file"

    def text(self, ident: IdRenderer = str, *, detailed: bool = False,
             where: PartitionNamer | None = None) -> str:
        return f"file=[{self.parent._bracket(ident, detailed, where)}]{self.path}"

    def to_json(self) -> dict:
        return {**super().to_json(), "parent": self.parent.to_json(), "path": self.path}


class RamdiskDevice(Device):
    """A ramdisk loaded from a WIM file on a parent device, with its options object."""

    parent: Device
    path: str
    image_base: int = 0
    image_size: int = 0
    image_offset: int = 0

    kind = "ramdisk"

    def text(self, ident: IdRenderer = str, *, detailed: bool = False,
             where: PartitionNamer | None = None) -> str:
        options = "," + ident(self.options) if self.options else ""
        return f"ramdisk=[{self.parent._bracket(ident, detailed, where)}]{self.path}{options}"

    def to_json(self) -> dict:
        data = {**super().to_json(), "parent": self.parent.to_json(), "path": self.path}
        for name in ("image_base", "image_size", "image_offset"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        return data


class LocateDevice(Device):
    """A device found at boot time by searching for a file named by an element or a path."""

    locate_type: int = 0
    element_type: int = 0
    path: str = ""

    kind = "locate"

    def text(self, ident: IdRenderer = str, *, detailed: bool = False,
             where: PartitionNamer | None = None) -> str:
        if self.locate_type == 0 and self.element_type:
            return f"locate=custom:{self.element_type:08x}"
        return f"locate={self.path}" if self.path else "locate=unknown"

    def _bracket(self, ident: IdRenderer, detailed: bool, where: PartitionNamer | None) -> str:
        # `vhd=[locate]\x.vhdx`: the file is searched for on every partition
        return "locate"

    def to_json(self) -> dict:
        return {**super().to_json(), "locate_type": self.locate_type,
                "element_type": f"{self.element_type:08x}", "path": self.path}


class VhdDevice(Device):
    """Native VHD boot: the virtual disk file `path` on `parent` (a partition, `boot` or
    `locate`), attached at boot and searched for the file named by `element_type` (the loader's
    own `path`).

    Layout (bcd.md §4.6; ntloader's VHD template): a locate descriptor (type 8, locate by element,
    empty path) whose parent, at `parent_offset`, is a local descriptor of sub-type 6 (virtual
    disk, 20 zero bytes) holding a complete file descriptor of the `.vhd`/`.vhdx`.  `[locate]` as
    the file's parent is a locate descriptor with no element and no path [L].
    """

    parent: Device
    path: str
    element_type: int = APPLICATION_PATH

    kind = "vhd"

    def text(self, ident: IdRenderer = str, *, detailed: bool = False,
             where: PartitionNamer | None = None) -> str:
        # as bcdedit prints it: `vhd=[C:]\x.vhdx,locate=custom:12000002`
        return f"vhd=[{self.parent._bracket(ident, detailed, where)}]{self.path}" \
            f",locate=custom:{self.element_type:08x}"

    def to_json(self) -> dict:
        return {**super().to_json(), "parent": self.parent.to_json(), "path": self.path,
                "element_type": f"{self.element_type:08x}"}


class RawDevice(Device):
    """A device blob bcdtool does not decode; kept byte for byte."""

    raw: bytes = b""

    kind = "raw"

    def text(self, ident: IdRenderer = str, *, detailed: bool = False,
             where: PartitionNamer | None = None) -> str:
        return f"<device {self.raw.hex()}>" if detailed else "unknown"

    def to_json(self) -> dict:
        return {"type": "raw", "hex": self.raw.hex()}


class DiskLayout(NamedTuple):
    """A disk's identity as its partition table gives it, to name the partition devices on it."""

    style: str                                   # "mbr" or "gpt"
    disk_signature: int | None = None
    disk_guid: str | None = None                 # braced, lower case
    #: (index, start in bytes, braced lower-case unique partition GUID or "") of each partition
    partitions: tuple[tuple[int, int, str], ...] = ()
    label: str = "this disk"

    def find(self, device: PartitionDevice) -> int | None:
        """The number of the partition of this disk that `device` names, else None."""
        for index, start, guid in self.partitions:
            if device.style == self.style == "mbr" and device.disk_signature == \
                    self.disk_signature and device.partition_offset == start:
                return index
            if device.style == self.style == "gpt" and device.disk_guid == self.disk_guid and \
                    device.partition_guid == guid.lower():
                return index
        return None

    def name(self, device: PartitionDevice) -> str | None:
        """`partition N of this disk` when `device` lies on this disk, else None."""
        index = self.find(device)
        return None if index is None else f"partition {index} of {self.label}"

    def device(self, index: int) -> PartitionDevice:
        """The partition device naming partition `index` of this disk, as Windows writes it.

        Raises:
            InvalidArgumentError: when the disk has no such partition (or, on GPT, no GUID for it).
        """
        for number, start, guid in self.partitions:
            if number != index:
                continue
            if self.style == "mbr":
                return PartitionDevice(style="mbr", disk_signature=self.disk_signature,
                                       partition_offset=start)
            if guid:
                return PartitionDevice(style="gpt", disk_guid=self.disk_guid,
                                       partition_guid=guid.lower())
        have = ", ".join(str(p[0]) for p in self.partitions) or "none"
        raise InvalidArgumentError(f"{self.label} has no partition {index} (partitions: {have})")

    def identity(self) -> str:
        """The disk's identity in words (`MBR signature 1b2c3d4e`, `GPT disk {...}`)."""
        if self.style == "mbr":
            return f"MBR signature {self.disk_signature:08x}"
        return f"GPT disk {self.disk_guid}"


# --- parse -------------------------------------------------------------------------------------

def parse_device_element(raw: bytes) -> Device:
    """Decode a device element; irregular or unknown blobs come back as `RawDevice`.

    Raises:
        FormatError: when the blob is too short to be a device element at all.
    """
    raw = bytes(raw)
    if len(raw) < L.OPTIONS_SIZE + L.HEADER_SIZE:
        raise FormatError(f"device element of {len(raw)} bytes is too short")
    options = raw[:L.OPTIONS_SIZE]
    try:
        device = _parse_descriptor(raw[L.OPTIONS_SIZE:], options=_guid_or_none(options), depth=0)
        if _descriptor_size(raw[L.OPTIONS_SIZE:]) == len(raw) - L.OPTIONS_SIZE \
                and build_device_element(device) == raw:
            return device
    except (FormatError, InvalidArgumentError, UnicodeDecodeError):
        pass
    return RawDevice(raw=raw)


def _descriptor_size(data: bytes) -> int:
    return L.DeviceHeader.parse(data, what="device header").size


def _parse_descriptor(data: bytes, *, options: str | None, depth: int) -> Device:
    if depth > MAX_DEPTH:
        raise FormatError("device descriptors nest too deeply")
    header = L.DeviceHeader.parse(data, what="device header")
    if not L.HEADER_SIZE <= header.size <= len(data):
        raise FormatError(f"device size {header.size} does not fit {len(data)} bytes")
    body = data[L.HEADER_SIZE:header.size]
    common = {"options": options, "flags": header.flags}
    if header.device_type == L.TYPE_BOOT:
        return BootDevice(**common)
    if header.device_type == L.TYPE_PARTITION:
        return _parse_partition(body, common)
    if header.device_type == L.TYPE_LOCAL and len(body) >= 4:
        local = int.from_bytes(body[:4], "little")
        if local == L.LOCAL_FILE:
            parent, path = _parse_path(body[4:], depth)
            return FileDevice(parent=parent, path=path, **common)
        if local == L.LOCAL_RAMDISK:
            head = L.RamdiskBody.parse(body, offset=4, what="ramdisk body")
            parent, path = _parse_path(body[4 + L.RAMDISK_BODY_SIZE:], depth)
            return RamdiskDevice(parent=parent, path=path, image_base=head.image_base,
                                 image_size=head.image_size, image_offset=head.image_offset,
                                 **common)
    if header.device_type == L.TYPE_LOCATE:
        head = L.LocateBody.parse(body, what="locate body")
        if head.parent_offset:
            return _parse_vhd(data[:header.size], head, common, depth)
        return LocateDevice(locate_type=head.locate_type, element_type=head.element_type,
                            path=_utf16z(body[L.LOCATE_BODY_SIZE:]), **common)
    raise FormatError(f"device type {header.device_type} is not decoded")


def _parse_vhd(data: bytes, head, common: dict, depth: int) -> VhdDevice:
    """A locate descriptor whose parent is a virtual disk holding a file (native VHD boot)."""
    start = L.HEADER_SIZE + L.LOCATE_BODY_SIZE
    if head.locate_type != 0 or not start < head.parent_offset <= len(data) \
            or _utf16z(data[start:head.parent_offset]):
        raise FormatError("locate device with a parent is not a VHD device")
    inner = data[head.parent_offset:]
    disk = L.DeviceHeader.parse(inner, what="virtual disk header")
    body = inner[L.HEADER_SIZE:disk.size]
    if disk.device_type != L.TYPE_LOCAL or disk.size != len(inner) or len(body) < 4 \
            or int.from_bytes(body[:4], "little") != L.LOCAL_VHD:
        raise FormatError("locate parent is not a virtual disk")
    skip = 4 + L.RAMDISK_BODY_SIZE
    if body[4:skip] != bytes(L.RAMDISK_BODY_SIZE):
        raise FormatError("virtual disk parameters are not decoded")
    file = _parse_descriptor(body[skip:], options=None, depth=depth + 1)
    if not isinstance(file, FileDevice) or file.flags:
        raise FormatError("virtual disk holds no file device")
    return VhdDevice(parent=file.parent, path=file.path, element_type=head.element_type,
                     **common)


def _parse_partition(body: bytes, common: dict) -> PartitionDevice:
    part = L.PartitionBody.parse(body, what="partition body")
    if part.partition_style == L.STYLE_GPT:
        return PartitionDevice(style="gpt", disk_guid=guid_from_bytes_le(part.disk_id),
                               partition_guid=guid_from_bytes_le(part.partition_id), **common)
    if part.partition_style == L.STYLE_MBR:
        return PartitionDevice(style="mbr",
                               disk_signature=int.from_bytes(part.disk_id[:4], "little"),
                               partition_offset=int.from_bytes(part.partition_id[:8], "little"),
                               **common)
    raise FormatError(f"partition style {part.partition_style} is not decoded")


def _parse_path(data: bytes, depth: int) -> tuple[Device, str]:
    desc = L.PathDescriptor.parse(data, what="path descriptor")
    if desc.length != len(data) or desc.version != 1:
        raise FormatError("path descriptor length or version is irregular")
    nested = data[L.PATH_DESCRIPTOR_SIZE:]
    parent = _parse_descriptor(nested, options=None, depth=depth + 1)
    return parent, _utf16z(nested[_descriptor_size(nested):])


def _utf16z(data: bytes) -> str:
    if len(data) < 2 or len(data) % 2 or data[-2:] != b"\0\0":
        raise FormatError("device path is not NUL-terminated UTF-16")
    text = data[:-2].decode("utf-16-le")
    if "\0" in text:
        raise FormatError("device path has data after its NUL")
    return text


def _guid_or_none(raw: bytes) -> str | None:
    return None if raw == bytes(16) else guid_from_bytes_le(raw)


# --- build -------------------------------------------------------------------------------------

def build_device_element(device: Device) -> bytes:
    """Encode a device element (options GUID + descriptor)."""
    if isinstance(device, RawDevice):
        return device.raw
    options = guid_to_bytes_le(device.options) if device.options else bytes(16)
    return options + _build_descriptor(device)


def _build_descriptor(device: Device) -> bytes:
    if isinstance(device, BootDevice):
        return _wrap(L.TYPE_BOOT, device.flags, bytes(L.BOOT_BODY_SIZE))
    if isinstance(device, PartitionDevice):
        return _wrap(L.TYPE_PARTITION, device.flags, _build_partition(device))
    if isinstance(device, FileDevice):
        body = L.LOCAL_FILE.to_bytes(4, "little") + _build_path(device.parent, device.path)
        return _wrap(L.TYPE_LOCAL, device.flags, body)
    if isinstance(device, RamdiskDevice):
        head = L.RamdiskBody.build(dict(
            image_base=device.image_base, image_size=device.image_size,
            image_offset=device.image_offset), what="ramdisk body")
        body = L.LOCAL_RAMDISK.to_bytes(4, "little") + head + _build_path(device.parent,
                                                                         device.path)
        return _wrap(L.TYPE_LOCAL, device.flags, body)
    if isinstance(device, VhdDevice):
        path = _encode_path("")
        file = _build_descriptor(FileDevice(parent=device.parent, path=device.path))
        disk = _wrap(L.TYPE_LOCAL, 0, L.LOCAL_VHD.to_bytes(4, "little")
                     + bytes(L.RAMDISK_BODY_SIZE) + file)
        head = L.LocateBody.build(dict(
            locate_type=0, element_type=device.element_type,
            parent_offset=L.HEADER_SIZE + L.LOCATE_BODY_SIZE + len(path)), what="locate body")
        return _wrap(L.TYPE_LOCATE, device.flags, head + path + disk)
    if isinstance(device, LocateDevice):
        head = L.LocateBody.build(dict(
            locate_type=device.locate_type, element_type=device.element_type, parent_offset=0),
            what="locate body")
        return _wrap(L.TYPE_LOCATE, device.flags, head + _encode_path(device.path))
    raise InvalidArgumentError(f"cannot nest a {device.kind} device")


def _build_partition(device: PartitionDevice) -> bytes:
    if device.style == "gpt":
        fields = dict(partition_id=guid_to_bytes_le(device.partition_guid), reserved1=0,
                      partition_style=L.STYLE_GPT, disk_id=guid_to_bytes_le(device.disk_guid),
                      reserved2=bytes(16))
    else:
        fields = dict(partition_id=device.partition_offset.to_bytes(16, "little"), reserved1=0,
                      partition_style=L.STYLE_MBR,
                      disk_id=device.disk_signature.to_bytes(16, "little"), reserved2=bytes(16))
    return L.PartitionBody.build(fields, what="partition body")


def _build_path(parent: Device, path: str) -> bytes:
    nested = _build_descriptor(parent) + _encode_path(path)
    length = L.PATH_DESCRIPTOR_SIZE + len(nested)
    return L.PathDescriptor.build(dict(version=1, length=length, path_type=5),
                            what="path descriptor") + nested


def _encode_path(path: str) -> bytes:
    return path.encode("utf-16-le") + b"\0\0"


def _wrap(device_type: int, flags: int, body: bytes) -> bytes:
    header = L.DeviceHeader.build(dict(device_type=device_type, flags=flags,
                                                   size=L.HEADER_SIZE + len(body), reserved=0),
                              what="device header")
    return header + body


def _human(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:g} {unit}" if unit == "B" else f"{size:.4g} {unit}"
        size /= 1024
    return str(size)


# --- bcdedit syntax ----------------------------------------------------------------------------

#: bcdedit's device syntax, each pattern compiled on first use (`_syntax`): reading a store never
#: parses device text, and compiling these costs a command's start-up a few milliseconds.
_SYNTAX = {
    "mbr": r"^mbr:([0-9a-f]{1,8}):(0x[0-9a-f]+|\d+)$",
    "gpt": r"^gpt:(\{[0-9a-f-]{36}\}):(\{[0-9a-f-]{36}\})$",
    "bracket": r"^\[([^\]]*)\](.+)$",
    "vhd-locate": r"^(.*),locate=(custom:[^,]*)$",
}


@functools.cache
def _syntax(name: str) -> re.Pattern:
    """The compiled pattern `name` of `_SYNTAX` (case-insensitive, as bcdedit reads them)."""
    return re.compile(_SYNTAX[name], re.IGNORECASE)


def parse_device_text(text: str, resolve_id: Callable[[str], str],
                      resolve_partition: PartitionResolver | None = None, *,
                      element_code: int | None = None) -> Device:
    """Parse a bcdedit device value: `boot`, `partition=…`, `file=[…]path`, `ramdisk=[…]path,{id}`,
    `vhd=[…]path[,locate=custom:XXXXXXXX]`, `locate=custom:XXXXXXXX` or `locate=path`.

    `element_code` is the element being set: a `vhd=` without `,locate=` searches the attached
    disk for the loader's `systemroot` when it is an `osdevice`, else for its `path`.

    A partition is `mbr:SIGNATURE:OFFSET` or `gpt:{disk-guid}:{partition-guid}` anywhere; the
    forms that name a partition of the target disk — `#2`, `/dev/sdc2`, a drive letter `C:` —
    go to `resolve_partition` (given only when the target is a disk).

    Raises:
        InvalidArgumentError: on bad syntax.
        UnsupportedError: for partition forms that need a disk when there is none.
    """
    kind, sep, rest = text.strip().partition("=")
    kind = kind.lower()
    if kind == "boot" and not sep:
        return BootDevice()
    if kind in ("partition", "hd_partition") and sep:
        # hd_partition= is partition= that bcdedit does not turn into a VHD device when the
        # volume is a mounted VHD; offline no volume is a mounted VHD, so they are one form
        return _parse_partition_text(rest, resolve_partition)
    if kind == "file" and sep:
        parent, path = _parse_bracket(rest, resolve_partition, locate=True)
        return FileDevice(parent=parent, path=path)
    if kind == "vhd" and sep:
        location, found, searched = _split_locate(rest)
        parent, path = _parse_bracket(location, resolve_partition, locate=True)
        if found:
            return VhdDevice(parent=parent, path=path, element_type=searched)
        return VhdDevice(parent=parent, path=path, element_type=SYSTEMROOT
                         if element_code == OSDEVICE else APPLICATION_PATH)
    if kind == "ramdisk" and sep:
        location, comma, options = rest.rpartition(",")
        if not comma:
            raise InvalidArgumentError(f"ramdisk device needs ',{{options}}': {text!r}")
        parent, path = _parse_bracket(location, resolve_partition, locate=True)
        return RamdiskDevice(parent=parent, path=path, options=resolve_id(options), flags=1)
    if kind == "locate" and sep:
        if rest.lower().startswith("custom:"):
            return LocateDevice(element_type=_custom_code(rest))
        return LocateDevice(locate_type=1, path=rest)
    if kind == "locate":
        # bare `locate` (Microsoft's Convert-WindowsImage and deployment scripts run
        # `/set {bootmgr} device locate`, `/set {default} osdevice locate`): the element that
        # names what to search for is the entry's path for `device`, its systemroot for
        # `osdevice` (a resume object's `filedevice`, the same code) — as in Windows 8.1's
        # corpus store whose every device is locate (win81-bios-installed-sysreserved.bcd) [L]
        if element_code == APPLICATION_DEVICE:
            return LocateDevice(element_type=APPLICATION_PATH)
        if element_code == OSDEVICE:
            return LocateDevice(element_type=SYSTEMROOT)
        raise InvalidArgumentError("locate needs what to look for here: locate=custom:XXXXXXXX "
                                   "(the hex code of the element holding the path) or "
                                   "locate=\\path\\file")
    if kind.startswith("\\device\\") and not sep:
        # `\Device\HarddiskVolume1` pasted without its `partition=`
        return _parse_partition_text(text.strip(), resolve_partition)
    raise InvalidArgumentError(f"The device specified is not valid: {text!r}; the forms: boot, "
                               "partition=, hd_partition=, file=, ramdisk=, vhd=, locate= "
                               "(bcdedit /? FORMATS)")


def _split_locate(rest: str) -> tuple[str, bool, int]:
    """(`[parent]path`, True, element) of `[C:]\\x.vhdx,locate=custom:22000002` as bcdedit prints
    a VHD device; (rest, False, 0) without the `,locate=` part."""
    match = _syntax("vhd-locate").match(rest)
    if not match:
        return rest, False, 0
    return match.group(1), True, _custom_code(match.group(2))


def _custom_code(text: str) -> int:
    """The element code of `custom:XXXXXXXX` (hex, with or without 0x)."""
    try:
        code = int(text[7:], 16)
    except ValueError:
        code = -1
    if not 0 < code <= 0xFFFFFFFF:
        raise InvalidArgumentError(f"bad locate element {text!r}: use custom:XXXXXXXX, the "
                                   "hex code of the element holding the path (12000002: path, "
                                   "22000002: systemroot)")
    return code


def harddisk_volume_text(word: str, *, on_disk: bool = False) -> str:
    """Why `\\Device\\HarddiskVolumeN` (what bcdedit prints for a volume it cannot name by a
    drive letter) names no partition offline.  Windows numbers volumes as it finds them at
    start-up, over every disk and removable drive, and stores the number nowhere."""
    return (f"{word} is how the Windows that ran bcdedit numbered its volumes at start-up (over "
            "every disk it saw); the number is stored nowhere, so offline it names no partition: "
            + ("" if on_disk else "give the whole disk or image as the store TARGET and ")
            + "name the partition as partition=#N (the number `bcdtool enum` and `doctor` show) "
            "or by its drive letter (partition=C:)")


def _parse_partition_text(rest: str, resolve_partition: PartitionResolver | None
                          ) -> PartitionDevice:
    if m := _syntax("mbr").match(rest):
        return PartitionDevice(style="mbr", disk_signature=int(m.group(1), 16),
                               partition_offset=int(m.group(2), 0))
    if m := _syntax("gpt").match(rest):
        return PartitionDevice(style="gpt", disk_guid=normalize_guid(m.group(1)),
                               partition_guid=normalize_guid(m.group(2)))
    if resolve_partition is not None:
        return resolve_partition(rest)
    if rest.strip().lower().startswith("\\device\\"):
        raise UnsupportedError(harddisk_volume_text(rest.strip()))
    raise UnsupportedError(
        f"partition={rest} names a volume of a disk, and this target is not one: name the "
        "partition as partition=mbr:SIGNATURE:OFFSET or partition=gpt:{disk-guid}:"
        "{partition-guid}, or give the whole disk or image as the store TARGET to use "
        "partition=#N, /dev/sdXN or a drive letter")


def _parse_bracket(text: str, resolve_partition: PartitionResolver | None, *,
                   locate: bool = False) -> tuple[Device, str]:
    m = _syntax("bracket").match(text)
    if not m:
        raise InvalidArgumentError(f"expected [device]path, got {text!r}: name the partition "
                                   "in brackets, e.g. [boot]\\path, [locate]\\path or "
                                   "[C:]\\path (bcdedit /? FORMATS)")
    inner = m.group(1).strip()
    if inner.lower() == "boot":
        return BootDevice(), m.group(2)
    if locate and inner.lower() == "locate":
        return LocateDevice(), m.group(2)
    return _parse_partition_text(inner, resolve_partition), m.group(2)
