"""BCD layer: build a new system store the way bcdboot does (`bcdtool new-store`).

Reference: ../shared/reference/bcd.md §5.3 (default inheritance graph) and the installed stores of
the corpus (win11-uefi-installed-2025, win10-bios-windeploy-template): {bootmgr}, one Windows
loader and its resume object with partition devices, {memdiag}, and the settings objects
{globalsettings} → {dbgsettings} {emssettings} {badmemory}, {bootloadersettings} →
{globalsettings} {hypervisorsettings}, {resumeloadersettings} → {globalsettings}.  Elements are
named through the element table; nothing here knows which disk the partitions live on.
"""

from __future__ import annotations

from dataclasses import dataclass

from bcdtool.bcd import objects
from bcdtool.bcd.bcdedit import new_store_image
from bcdtool.bcd.device import PartitionDevice
from bcdtool.bcd.elements import BCDBOOT_IN_MEMORY_SETTING, resolve
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import InvalidArgumentError
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.hive import Hive
from bcdtool.regf.values import REG_BINARY

#: File size of a new store.  bcdboot's stores are 32 KiB files; the slack after the hive bins
#: lets later in-place edits (same file size) grow the hive without touching the filesystem.
STORE_FILE_SIZE = 32 * 1024

FIRMWARES = ("uefi", "bios")
#: Temporary key used to grow the bins (see `_preallocated`).
_SCRATCH = "bcdtool-preallocate"
#: Value data that makes a cell filling one 4 KiB bin (32-byte bin header, 4-byte cell size).
_BIN_FILLER = 4096 - 32 - 8


@dataclass(frozen=True)
class StoreLayout:
    """What bcdboot is told: firmware, the two partitions, the loader's name and locale."""

    firmware: str                     # "uefi" or "bios"
    system: PartitionDevice           # ESP (UEFI) or System Reserved / active partition (BIOS)
    windows: PartitionDevice          # the Windows volume
    description: str = "Windows Server"
    locale: str = "en-US"
    loader_guid: str | None = None    # fixed GUIDs make the output reproducible
    resume_guid: str | None = None


def _paths(firmware: str) -> dict[str, str | None]:
    if firmware == "uefi":
        return {"bootmgr": r"\EFI\Microsoft\Boot\bootmgfw.efi",
                "winload": r"\Windows\system32\winload.efi",
                "winresume": r"\Windows\system32\winresume.efi",
                "memtest": r"\EFI\Microsoft\Boot\memtest.efi"}
    return {"bootmgr": None,      # BIOS bootmgr is loaded by the boot sector, it has no path
            "winload": r"\Windows\system32\winload.exe",
            "winresume": r"\Windows\system32\winresume.exe",
            "memtest": r"\boot\memtest.exe"}


def build_store(layout: StoreLayout) -> bytes:
    """The image of a new system store (STORE_FILE_SIZE bytes) for `layout`."""
    if layout.firmware not in FIRMWARES:
        raise InvalidArgumentError(f"unknown firmware {layout.firmware!r} (uefi or bios)")
    store = BcdStore(Hive.from_bytes(new_store_image(), name="new store"))
    _settings_objects(store)
    loader = objects.normalize_guid(layout.loader_guid) if layout.loader_guid else \
        objects.new_guid()
    resume = objects.normalize_guid(layout.resume_guid) if layout.resume_guid else \
        objects.new_guid()
    _bootmgr(store, layout, loader, resume)
    _loader(store, layout, loader, resume)
    _resume(store, layout, resume)
    _memdiag(store, layout)
    if layout.firmware == "uefi":
        fw = _create(store, "{fwbootmgr}", objects.FWBOOTMGR)
        _set(store, fw, "displayorder", [objects.ALIASES["{bootmgr}"]])
    return _preallocated(store.to_bytes(), STORE_FILE_SIZE)


def _preallocated(image: bytes, size: int) -> bytes:
    """`image` grown to `size` bytes of hive bins whose new space is free cells.

    Like the files Windows writes, the whole file is bins: later in-place edits find free cells,
    and no 4 KiB of the file is all zeros (sparse image formats would not allocate such blocks,
    and bcdtool writes only into allocated ones).  The bins are grown through the editor's own
    allocator by temporary values that are deleted again.
    """
    if len(image) > size:
        raise InvalidArgumentError(f"the new store needs {len(image)} bytes, more than {size}")
    editor = HiveEditor.from_bytes(image)
    editor.create_key(_SCRATCH)
    # Each value takes a cell that fits no free space, so the allocator appends a 4 KiB bin.
    for number in range(size // 4096):
        if len(editor.to_bytes()) + 4096 > size:
            break
        editor.set_value(_SCRATCH, str(number), REG_BINARY, bytes(_BIN_FILLER))
    editor.delete_key(_SCRATCH)
    out = editor.to_bytes()
    return out + _pad(out, size)


def _pad(image: bytes, size: int) -> bytes:
    if len(image) > size:
        raise InvalidArgumentError(f"the new store needs {len(image)} bytes, more than {size}")
    return bytes(size - len(image))


def _create(store: BcdStore, alias: str, object_type: int) -> str:
    return store.create_object(objects.ALIASES[alias], object_type).guid


def _set(store: BcdStore, guid: str, name: str, value) -> None:
    store.set_element(guid, resolve(name, store.get(guid).type).code, value)


def _settings_objects(store: BcdStore) -> None:
    """The inherit objects, typed and linked as in objects.SETTINGS_OBJECTS (no ramdisk options)."""
    for alias, (object_type, _parents) in objects.SETTINGS_OBJECTS.items():
        if object_type != objects.DEVICE_OPTIONS:
            _create(store, alias, object_type)
    for alias, (_type, parents) in objects.SETTINGS_OBJECTS.items():
        if parents:
            _set(store, objects.ALIASES[alias], "inherit", [objects.ALIASES[p] for p in parents])
    _set(store, objects.ALIASES["{emssettings}"], "bootems", False)
    _set(store, objects.ALIASES["{dbgsettings}"], "debugtype", 4)          # Local
    hyper = objects.ALIASES["{hypervisorsettings}"]
    _set(store, hyper, "hypervisordebugtype", 0)                            # Serial
    _set(store, hyper, "hypervisordebugport", 1)
    _set(store, hyper, "hypervisorbaudrate", 115200)


def _bootmgr(store: BcdStore, layout: StoreLayout, loader: str, resume: str) -> None:
    guid = _create(store, "{bootmgr}", objects.BOOTMGR)
    _set(store, guid, "device", layout.system)
    path = _paths(layout.firmware)["bootmgr"]
    if path:
        _set(store, guid, "path", path)
    _set(store, guid, "description", "Windows Boot Manager")
    _set(store, guid, "locale", layout.locale)
    _set(store, guid, "inherit", [objects.ALIASES["{globalsettings}"]])
    _set(store, guid, "default", loader)
    _set(store, guid, "resumeobject", resume)
    _set(store, guid, "displayorder", [loader])
    _set(store, guid, "toolsdisplayorder", [objects.ALIASES["{memdiag}"]])
    _set(store, guid, "timeout", 30)


def _common(store: BcdStore, guid: str, layout: StoreLayout, path: str, description: str,
            parent: str) -> None:
    _set(store, guid, "device", layout.windows)
    _set(store, guid, "path", path)
    _set(store, guid, "description", description)
    _set(store, guid, "locale", layout.locale)
    _set(store, guid, "inherit", [objects.ALIASES[parent]])
    if layout.firmware == "uefi":
        _set(store, guid, "isolatedcontext", True)
    # bcdboot allows this one setting to be changed in memory (corpus stores, all versions).
    _set(store, guid, "allowedinmemorysettings", [BCDBOOT_IN_MEMORY_SETTING])
    _set(store, guid, "bootmenupolicy", 1)                                  # Standard


def _loader(store: BcdStore, layout: StoreLayout, guid: str, resume: str) -> None:
    store.create_object(guid, objects.OSLOADER)
    _common(store, guid, layout, _paths(layout.firmware)["winload"], layout.description,
            "{bootloadersettings}")
    _set(store, guid, "osdevice", layout.windows)
    _set(store, guid, "systemroot", r"\Windows")
    _set(store, guid, "resumeobject", resume)
    _set(store, guid, "nx", 0)                                              # OptIn


def _resume(store: BcdStore, layout: StoreLayout, guid: str) -> None:
    store.create_object(guid, objects.RESUME)
    _common(store, guid, layout, _paths(layout.firmware)["winresume"],
            "Windows Resume Application", "{resumeloadersettings}")
    _set(store, guid, "filedevice", layout.windows)
    _set(store, guid, "filepath", r"\hiberfil.sys")
    _set(store, guid, "debugoptionenabled", False)


def _memdiag(store: BcdStore, layout: StoreLayout) -> None:
    guid = _create(store, "{memdiag}", objects.MEMDIAG)
    _set(store, guid, "device", layout.system)
    _set(store, guid, "path", _paths(layout.firmware)["memtest"])
    _set(store, guid, "description", "Windows Memory Diagnostic")
    _set(store, guid, "locale", layout.locale)
    _set(store, guid, "inherit", [objects.ALIASES["{globalsettings}"]])
    _set(store, guid, "badmemoryaccess", True)
