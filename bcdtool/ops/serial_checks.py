"""Operations layer: the serial-console (EMS/SAC) settings of a store as checks, and `status`.

Each setting of Microsoft's procedure (see ops/serial_console.py) is a `Check` — an element
expected on an object, judged by its *effective* value through the inherit chain.  Reading them
needs no write path: `serial-console status` and `doctor` import this module only.
"""

from __future__ import annotations

from typing import NamedTuple

from bcdtool.bcd import objects
from bcdtool.bcd.elements import E, resolve
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import BcdError, BcdToolError, InvalidArgumentError
from bcdtool.ops.store import open_store

BAUD_RATES = (9600, 19200, 38400, 57600, 115200)
BOOTMGR = objects.ALIASES["{bootmgr}"]
#: Elements that live in {emssettings} and reach loaders and {bootmgr} through inheritance.
EMS_LIBRARY = ("emsport", "emsbaudrate")


class SerialOptions:
    """What `serial-console enable` should make true; checked when made (InvalidArgumentError).

    A plain class: a dataclass costs every command's start-up about half a millisecond to create.
    """

    __slots__ = ("port", "baud", "timeout", "boot_menu", "bootems", "keep_debug", "loaders")

    def __init__(self, *, port: int = 1, baud: int = 115200, timeout: int = 5,
                 boot_menu: bool = True, bootems: bool = True, keep_debug: bool = False,
                 loaders: str = "default") -> None:
        self.port, self.baud, self.timeout = port, baud, timeout
        self.boot_menu, self.bootems, self.keep_debug = boot_menu, bootems, keep_debug
        self.loaders = loaders          # "default" or "all"
        if not 1 <= self.port <= 4:
            raise InvalidArgumentError(f"EMS port {self.port} is not COM1..COM4 (1-4)")
        if self.baud not in BAUD_RATES:
            raise InvalidArgumentError(f"EMS speed {self.baud} is not one of "
                                       + ", ".join(map(str, BAUD_RATES)))
        if not 0 <= self.timeout <= 999:
            raise InvalidArgumentError(f"timeout {self.timeout} is outside 0-999 seconds")
        if self.loaders not in ("default", "all"):
            raise InvalidArgumentError(f"--loaders {self.loaders!r}: default or all")


#: The recipe as `serial-console enable` runs it without options.
DEFAULTS = SerialOptions()


class Check(NamedTuple):
    """One setting: element `name` of object `guid` should be `expected` (effective value)."""

    guid: str
    label: str                 # how the user knows the object: {bootmgr}, {default}, a GUID
    name: str
    expected: bool | int
    why: str
    actual: object = None      # the object's own value (None: absent or unreadable)
    effective: object = None   # through inheritance
    source: str | None = None  # GUID of the object the effective value comes from

    @property
    def ok(self) -> bool:
        """True when the boot code would see the expected value (absent booleans are off)."""
        if self.effective is None:
            return self.expected is False
        return self.effective == self.expected

    def to_json(self) -> dict:
        """The JSON object of this setting."""
        return {"object": self.guid, "label": self.label, "element": self.name,
                "expected": self.expected, "actual": self.actual, "effective": self.effective,
                "source": self.source, "ok": self.ok, "why": self.why}


def loaders(store: BcdStore, which: str) -> list[str]:
    """GUIDs of the loaders to work on: the one the boot manager starts (its default, else the
    first Windows loader of displayorder, as the boot manager falls back), or every Windows
    loader.

    Raises:
        BcdError: no Windows loader, or a default that is not one (a legacy or non-Windows
            loader: EMS is a Windows loader setting) — the message names `--loaders all` and
            `/default`.
    """
    name = store.hive.name or None
    if which == "all":
        found = [o.guid for o in store.objects() if o.type == objects.OSLOADER]
        if not found:
            raise BcdError("the store has no Windows Boot Loader", path=name)
        return found
    guid = store.default_guid()
    if guid is not None and store.has(guid):
        kind = store.get(guid).type
        if kind != objects.OSLOADER:
            raise BcdError(
                f"the default entry {guid} is a {objects.type_description(kind)} "
                f"({objects.section_title(guid, kind)}), not a Windows Boot Loader, so it has no "
                "EMS setting: use --loaders all to set up every Windows loader, or make a Windows "
                "loader the default with `bcdtool bcdedit --store TARGET /default {id}`",
                path=name)
        return [guid]
    first = _first_windows_loader(store)
    if first is None:
        raise BcdError("{bootmgr} has no default entry and displayorder names no Windows Boot "
                       "Loader: use --loaders all, or set one with `bcdtool bcdedit --store "
                       "TARGET /default {id}`", path=name)
    return [first]


def default_note(store: BcdStore, which: str) -> str | None:
    """What to tell the user when the default loader is not named by `default`, else None."""
    guid = store.default_guid()
    if which == "all" or (guid is not None and store.has(guid)):
        return None
    first = _first_windows_loader(store)
    if first is None:
        return None
    missing = f" (it names {guid}, which is not in the store)" if guid else ""
    return (f"{{bootmgr}} has no default entry{missing}: the boot manager starts the first "
            f"Windows loader of displayorder, {first}, so that one is set up (make it the "
            f"default with `bcdtool bcdedit --store TARGET /default {first}`)")


def _first_windows_loader(store: BcdStore) -> str | None:
    bootmgr = store.get(BOOTMGR) if store.has(BOOTMGR) else None
    elem = bootmgr.elements.get(E.DISPLAYORDER) if bootmgr else None
    try:
        order = elem.value() if elem else []
    except BcdToolError:
        order = []
    return next((g.lower() for g in order if isinstance(g, str) and store.has(g)
                 and store.get(g).type == objects.OSLOADER), None)


def checks(store: BcdStore, opts: SerialOptions) -> list[Check]:
    """Every setting the recipe needs, each with what the store holds now."""
    wanted: list[tuple[str, str, str, bool | int, str]] = []
    default = store.default_guid()
    for guid in loaders(store, opts.loaders):
        label = "{default}" if guid == default else guid
        wanted.append((guid, label, "ems", True, "EMS on the loader: without it only health "
                       "information is shown and pressing Enter does nothing"))
        wanted.append((guid, label, "emsport", opts.port, "the serial port SAC talks on"))
        wanted.append((guid, label, "emsbaudrate", opts.baud, "the speed of the serial port"))
        if not opts.keep_debug:
            wanted.append((guid, label, "debug", False, "kernel debugging takes the port: "
                           "typing at the SAC prompt does nothing"))
    if store.has(BOOTMGR):
        if opts.bootems:
            wanted.append((BOOTMGR, "{bootmgr}", "bootems", True,
                           "EMS in the boot manager: its menu appears on the serial console"))
            wanted.append((BOOTMGR, "{bootmgr}", "emsport", opts.port, "the boot manager's port"))
            wanted.append((BOOTMGR, "{bootmgr}", "emsbaudrate", opts.baud,
                           "the boot manager's speed"))
        if opts.boot_menu:
            wanted.append((BOOTMGR, "{bootmgr}", "displaybootmenu", True,
                           "the boot menu shows, so safe mode can be chosen over serial"))
            wanted.append((BOOTMGR, "{bootmgr}", "timeout", opts.timeout,
                           "seconds the menu waits (0 skips it)"))
    return [_evaluate(store, *w) for w in wanted]


def _evaluate(store: BcdStore, guid: str, label: str, name: str, expected, why: str) -> Check:
    code = element_code(store, guid, name)
    found = store.effective(guid, code)
    return Check(guid, label, name, expected, why, actual=store.get(guid).value_of(code),
                 effective=found[1].readable_value() if found else None,
                 source=found[0] if found else None)


def element_code(store: BcdStore, guid: str, name: str) -> int:
    """The code of element `name` on object `guid` (by the object's type)."""
    return resolve(name, store.get(guid).type).code




def status(spec: str, opts: SerialOptions = DEFAULTS, *, partition: int | None = None,
           path: str | None = None, backend: str = "native") -> dict:
    """Each setting of the recipe: expected, the object's own value, the effective value."""
    handle, store = open_store(spec, read_only=True, partition=partition, path=path,
                               backend=backend)
    with handle:
        rows = checks(store, opts)
        note = default_note(store, opts.loaders)
        return {"store": handle.location, "description": handle.description,
                "ok": all(c.ok for c in rows), "settings": [c.to_json() for c in rows],
                "notices": list(store.notices) + ([note] if note else [])}
