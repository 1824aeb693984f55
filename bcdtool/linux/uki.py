"""Unified kernel images (UKI): the kernel command line built into a PE file's `.cmdline` section.

A UKI (systemd-stub + kernel + initrd, made by ukify, mkinitcpio, dracut --uefi or
kernel-install's `layout=uki`) is booted by systemd-boot as a "type #2" entry from `EFI/Linux/`
on the ESP or XBOOTLDR.  Its `.cmdline` is fixed at build time (and covered by the Secure Boot
signature): bcdtool reads it, never edits it.  The build reads /etc/kernel/cmdline (and
/etc/kernel/uki.conf's `Cmdline=`), so the fix is there plus a rebuild.

References: Microsoft PE/COFF specification ("MS-DOS stub", "COFF file header", "Section table");
the UAPI group's Unified Kernel Image specification (`.cmdline` holds the command line as text,
optionally NUL-terminated).
"""

from __future__ import annotations

from construct import Bytes, Const, Int16ul, Int32ul, Struct

from bcdtool import _construct
from bcdtool.errors import FormatError

#: Where UKIs live relative to the guest root (ESP at /boot, /efi or /boot/efi; XBOOTLDR at /boot).
DIRS = ("/boot/EFI/Linux", "/efi/EFI/Linux", "/boot/efi/EFI/Linux")
#: How much of a UKI is read: ukify and objcopy both place `.cmdline` before `.linux`/`.initrd`.
HEAD_BYTES = 4 * 1024 * 1024
MAX_SECTIONS = 96

DosHeader = Struct("e_magic" / Const(b"MZ"), "_" / Bytes(0x3A), "e_lfanew" / Int32ul)
CoffHeader = Struct(
    "signature" / Const(b"PE\0\0"),
    "machine" / Int16ul,
    "number_of_sections" / Int16ul,
    "time_date_stamp" / Int32ul,
    "pointer_to_symbol_table" / Int32ul,
    "number_of_symbols" / Int32ul,
    "size_of_optional_header" / Int16ul,
    "characteristics" / Int16ul,
)
SectionHeader = Struct(
    "name" / Bytes(8),
    "virtual_size" / Int32ul,
    "virtual_address" / Int32ul,
    "size_of_raw_data" / Int32ul,
    "pointer_to_raw_data" / Int32ul,
    "_" / Bytes(12),
    "characteristics" / Int32ul,
)


def sections(head: bytes, path: str | None = None) -> dict[str, bytes | None]:
    """Section name -> its bytes (None when they lie beyond `head`) of a PE image's start."""
    dos = _construct.parse(DosHeader, head, what="PE MS-DOS header", path=path)
    coff = _construct.parse(CoffHeader, head, offset=dos.e_lfanew, what="PE header", path=path)
    if coff.number_of_sections > MAX_SECTIONS:
        raise FormatError("PE image declares implausibly many sections", path=path)
    at = dos.e_lfanew + CoffHeader.sizeof() + coff.size_of_optional_header
    out: dict[str, bytes | None] = {}
    for i in range(coff.number_of_sections):
        sec = _construct.parse(SectionHeader, head, offset=at + i * SectionHeader.sizeof(),
                               what="PE section header", path=path)
        name = sec.name.rstrip(b"\0").decode("ascii", "replace")
        size = min(sec.virtual_size or sec.size_of_raw_data, sec.size_of_raw_data)
        end = sec.pointer_to_raw_data + size
        out.setdefault(name, head[sec.pointer_to_raw_data:end] if end <= len(head) else None)
    return out


def cmdline(head: bytes, path: str | None = None) -> tuple[bool, str | None]:
    """(has a `.linux` section, the `.cmdline` text or None) of a UKI's first bytes.

    Raises FormatError when `head` is not a PE image, or its `.cmdline` lies beyond `head`.
    """
    secs = sections(head, path)
    if ".cmdline" not in secs:
        return ".linux" in secs, None
    data = secs[".cmdline"]
    if data is None:
        raise FormatError(f"the .cmdline section lies beyond the first {len(head)} bytes",
                          path=path)
    return ".linux" in secs, data.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
