"""BCD layer: a paste-compatible `bcdedit` — argument parser and executor over a `BcdStore`.

Reference: ../shared/reference/bcd.md §8 (identifiers), §9 (command semantics), §10 (`/enum`).
Commands and identifiers are case-insensitive and `/store FILE` may stand anywhere.  Executing a
command stages edits in the store; the caller commits them (or not) and prints the outcome.
"""

from __future__ import annotations

import difflib
import re
import secrets
from dataclasses import dataclass, field

from bcdtool.bcd import bcdedit_help, enum, objects
from bcdtool.bcd.arguments import (BOOLEAN_WORDS, HELP_HINT, PARAMETER_INCORRECT, colon_params,
                                   parse_integer, parse_ipv4, parse_value)
from bcdtool.bcd.device import PartitionResolver
from bcdtool.bcd.elements import NOT_RECOGNIZED, OSLOADER, E, Format, element, resolve
from bcdtool.bcd.settings import ensure_settings
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import (BcdError, BcdToolError, ElementError, InvalidArgumentError,
                            InvalidIdentifierError, LiveSystemError, NotFoundError)
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.values import REG_SZ

SUCCESS = "The operation completed successfully."

#: Commands that only read the store.
READ_ONLY = frozenset({"enum", "export"})
_SHOWS_WITHOUT_ARGS = frozenset({"dbgsettings", "hypervisorsettings", "eventsettings"})
#: Commands that need no store: help, and the ones that create a new file.
STORELESS = frozenset({"help", "createstore", "sysstore"})
_ALL = frozenset({"enum", "set", "deletevalue", "ems", "bootems", "debug", "bootdebug", "event",
                  "emssettings", "dbgsettings", "eventsettings", "timeout", "default",
                  "displayorder", "toolsdisplayorder", "bootsequence", "create", "copy", "delete",
                  "createstore", "export", "import", "hypervisorsettings", "mirror", "sysstore",
                  "help"})
#: Switches that follow a command (`/displayorder {x} /addlast`, `/create /d x /application`):
#: bcdedit takes them with `-` as well as `/`.
_SUB_SWITCHES = frozenset({"addfirst", "addlast", "remove", "d", "application", "inherit",
                           "device", "f", "cleanup", "nocleanup", "clean", "start", "noumex", "v",
                           "store", "?"})
_PROGRAM_NAMES = ("bcdedit", "bcdedit.exe")
_LIST_COMMANDS = {"displayorder": E.DISPLAYORDER, "toolsdisplayorder": E.TOOLSDISPLAYORDER,
                  "bootsequence": E.BOOTSEQUENCE}
_SWITCHES = {"ems": E.EMS, "bootems": E.BOOTEMS, "debug": E.DEBUG, "bootdebug": E.BOOTDEBUG,
             "event": E.EVENT}


@dataclass
class Command:
    """A parsed bcdedit command line: the command, its arguments, `/store` and `/v`."""

    name: str
    args: list[str]
    store: str | None = None
    verbose: bool = False
    #: How `partition=#2`, `/dev/sdc2` and `C:` name partitions of the target disk (set by the
    #: caller when the target is a disk; None elsewhere).
    partitions: PartitionResolver | None = None

    @property
    def writes(self) -> bool:
        """True when the command may change the store (/dbgsettings, /eventsettings and
        /hypervisorsettings without arguments only show the settings)."""
        if self.name in _SHOWS_WITHOUT_ARGS and not self.args:
            return False
        return self.name not in READ_ONLY and self.name not in STORELESS


@dataclass
class Outcome:
    """What a command produced: text for stdout, notices for stderr, files to write."""

    lines: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    #: (path, bytes) of a file the command creates (/export); written by the caller.
    new_file: tuple[str, bytes] | None = None


def _switch_word(word: str) -> str:
    """`-addlast` as `/addlast`: bcdedit reads a leading `-` like `/` for its own switches."""
    if word.startswith("-") and len(word) > 1:
        name = word[1:].lower()
        if name in _ALL or name in _SUB_SWITCHES:
            return "/" + word[1:]
    return word


#: An identifier as it arrives after quoting meant for another shell: PowerShell's escaped
#: braces (`` `{default`} ``, `` `{default} ``) and quotes that a Linux shell kept because the
#: line was quoted twice (`"'{default}'"`, `'"{default}"'`).
_QUOTED_ID = re.compile(r"""^(['"]?)`?(\{[^{}`'"]+)`?(\})\1$""")


def unquote_identifier(word: str) -> str:
    """`{default}` for the identifier `word` written with PowerShell's backtick escapes or left
    inside a second pair of quotes; any other word unchanged."""
    match = _QUOTED_ID.match(word)
    return match.group(2) + match.group(3) if match else word


def parse_args(argv: list[str]) -> Command:
    """Split bcdedit arguments into a `Command` (`/store X` and `/v` anywhere, any case, `-` or
    `/` switches, a pasted leading `bcdedit` or `bcdedit.exe` ignored, identifiers quoted for
    PowerShell or quoted twice taken as the identifier).

    Raises:
        InvalidArgumentError: for an unknown command (naming the close ones) or a missing
            `/store` file.
    """
    items = [unquote_identifier(_switch_word(w)) for w in argv]
    if items and items[0].lower() in _PROGRAM_NAMES:
        items = items[1:]
    args: list[str] = []
    store = None
    verbose = False
    i = 0
    while i < len(items):
        word = items[i]
        if word.lower() == "/store":
            if i + 1 >= len(items) or store is not None:
                raise InvalidArgumentError(f"/store needs exactly one file. {HELP_HINT}")
            store = items[i + 1]
            i += 2
            continue
        if word.lower() == "/v" and (not args or args[0].lower() == "/enum"):
            verbose = True
        else:
            args.append(word)
        i += 1
    if not args:
        return Command("enum", [], store, verbose)
    head = args[0]
    name = head[1:].lower() if head.startswith(("/", "-")) else ""
    if name == "?":
        name = "help"
    if name not in _ALL:
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} Unknown command {head!r}"
                                   f"{_did_you_mean(head)}. {HELP_HINT}")
    return Command(name, args[1:], store, verbose)


def _usage(name: str) -> str:
    """bcdedit's "parameter is incorrect", with the command's syntax."""
    return (f"{PARAMETER_INCORRECT} Syntax: bcdedit {bcdedit_help.COMMANDS[name][0]}. "
            f"{HELP_HINT}")


def _did_you_mean(word: str) -> str:
    """` (did you mean /set?)` for a mistyped command (`/sett`, `set`, `/enumerate`)."""
    stem = word.lstrip("/-").lower()
    close = difflib.get_close_matches(stem, sorted(_ALL - {"help"}), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join('/' + c for c in close)}?)" if close else ""


def sysstore() -> None:
    """`/sysstore DEVICE` picks which ESP a running EFI Windows treats as its system store
    (volatile, live only).

    Raises:
        LiveSystemError: always, naming the offline equivalent.
    """
    raise LiveSystemError("/sysstore needs a live Windows: it sets which partition the running "
                          "system reads its store from, until the next restart; offline there "
                          "is none to set: name the store itself with /store FILE or --store "
                          "DISK (with --partition N for the ESP you mean)")


def execute(cmd: Command, store: BcdStore) -> Outcome:
    """Run a store command, staging its edits in `store`.

    Raises:
        BcdToolError subclasses with bcdedit's messages; the store may hold partial staged
        edits then, so the caller must not commit after an error.
    """
    out = Outcome()
    if cmd.name == "sysstore":
        sysstore()
    handler = _HANDLERS.get(cmd.name)
    if handler is None:
        raise InvalidArgumentError(f"/{cmd.name} works on files, not on an opened store")
    handler(cmd, store, out)
    for notice in store.notices:
        if notice not in out.notices:
            out.notices.append(notice)
    return out


# --- /enum -------------------------------------------------------------------------------------

def _enum(cmd: Command, store: BcdStore, out: Outcome) -> None:
    args = [a for a in cmd.args if a.lower() != "/v"]
    verbose = cmd.verbose or len(args) != len(cmd.args)
    if len(args) > 1:
        raise InvalidArgumentError(_usage("enum"))
    selector = args[0] if args else "active"
    if _lost_braces(selector) and selector.lower() not in enum.SELECTORS:
        store.resolve(selector)              # `/enum current`: names the lost braces
    if not selector.startswith("{") and selector.lower() not in enum.SELECTORS:
        close = difflib.get_close_matches(selector.lower(), enum.SELECTORS, n=2, cutoff=0.6)
        hint = f" (did you mean {' or '.join(c.upper() for c in close)}?)" if close else ""
        kinds = ", ".join(s.upper() for s in enum.SELECTORS)
        raise InvalidIdentifierError(f"{objects.INVALID_IDENTIFIER} /enum takes {kinds} or an "
                                     f"{{identifier}}, not {selector!r}{hint}. {HELP_HINT}")
    chosen = enum.select(store, selector)
    out.lines.extend(enum.render(store, chosen, enum.View(verbose=verbose)).splitlines())


# --- element commands --------------------------------------------------------------------------

def _set(cmd: Command, store: BcdStore, out: Outcome) -> None:
    args = cmd.args
    # bcdedit: /set [{id}] datatype value; without an id it means {current}
    ident, rest = (args[0], args[1:]) if args and _looks_like_id(args[0]) else ("{current}", args)
    if len(args) >= 3 and ident == "{current}" and _lost_braces(args[0]):
        store.resolve(args[0])               # `/set default nx OptIn`: names the lost braces
    if len(rest) < 2:
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} /set needs an identifier, an "
                                   f"element and a value. {HELP_HINT}")
    guid = store.resolve(ident)
    row = store.element_def(guid, rest[0])
    if row.format == Format.OBJECT_LIST and any(w.lower() in _LIST_MODES for w in rest[1:]):
        # e.g. /set {fwbootmgr} displayorder {bootmgr} /addfirst
        update_list(store, guid, row.code, rest[1:], f"/set {row.display_name}")
    else:
        value = parse_value(store, row, rest[1:], cmd.partitions)
        store.set_element(guid, row.code, value)
        _check_backslashes(row.display_name, value, out)
    out.lines.append(SUCCESS)


_PATH_STRINGS = frozenset({"path", "systemroot", "filepath", "ramdisksdipath", "bcdfilepath",
                           "bootstatfilepath", "fontpath"})


def _check_backslashes(name: str, value, out: Outcome) -> None:
    """A path that lost its leading backslash was most likely pasted unquoted into a Unix
    shell, which removes backslashes (`\\windows\\system32` arrives as `windowssystem32`):
    bcdedit would store it as given, so say so rather than refuse."""
    path = value if name in _PATH_STRINGS and isinstance(value, str) else \
        getattr(value, "path", None) if not isinstance(value, (str, int, bool, list)) else None
    if path and not path.startswith("\\") and getattr(value, "kind", "") != "locate":
        out.notices.append(f"{name}: {path!r} does not start with a backslash; if the shell "
                           "removed them, quote the value (e.g. '\\windows\\system32\\"
                           "winload.exe') and run it again")


def _deletevalue(cmd: Command, store: BcdStore, out: Outcome) -> None:
    args = cmd.args
    if len(args) == 1 and not _looks_like_id(args[0]):
        args = ["{current}", *args]
    if len(args) != 2:
        raise InvalidArgumentError(_usage("deletevalue"))
    guid = store.resolve(args[0])
    row = store.element_def(guid, args[1])
    try:
        store.delete_element(guid, row.code)
    except NotFoundError as exc:
        raise NotFoundError("An error occurred while attempting to delete the specified data "
                            f"element. Element not found. (bcdedit /enum {args[0]} /v lists "
                            "the elements the entry has; an inherited value is deleted on the "
                            "entry it comes from)", path=exc.path) from None
    out.lines.append(SUCCESS)


def _switch(cmd: Command, store: BcdStore, out: Outcome) -> None:
    args = cmd.args
    if len(args) == 1:
        args = ["{current}", *args]
    if len(args) != 2:
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} /{cmd.name} takes an identifier and "
                                   f"ON or OFF. {HELP_HINT}")
    guid = store.resolve(args[0])
    code = _SWITCHES[cmd.name]
    row = resolve(f"custom:{code:08x}", store.get(guid).type)
    if row.name is None:  # e.g. /ems on {bootmgr}: ems is an OS-loader element
        raise ElementError(f"{NOT_RECOGNIZED} /{cmd.name} applies to osloader entries.",
                           path=args[0])
    word = args[1].lower()
    # bcdedit reads ON/OFF as any boolean: Microsoft's event-collection page runs `/event yes`
    if word not in BOOLEAN_WORDS:
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} /{cmd.name} takes ON or OFF, "
                                   f"not {args[1]!r}. {HELP_HINT}")
    store.set_element(guid, code, BOOLEAN_WORDS[word])
    out.lines.append(SUCCESS)


def _timeout(cmd: Command, store: BcdStore, out: Outcome) -> None:
    if len(cmd.args) != 1:
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} /timeout takes one number. {HELP_HINT}")
    guid = store.resolve("{bootmgr}")
    store.set_element(guid, E.TIMEOUT, parse_integer(cmd.args[0], None))
    out.lines.append(SUCCESS)


def _default(cmd: Command, store: BcdStore, out: Outcome) -> None:
    if len(cmd.args) != 1:
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} /default takes one identifier. "
                                   f"{HELP_HINT}")
    target = store.resolve(cmd.args[0])
    store.set_element(store.resolve("{bootmgr}"), E.DEFAULT, target)
    out.lines.append(SUCCESS)


_LIST_MODES = ("/addfirst", "/addlast", "/remove")


def _list_command(cmd: Command, store: BcdStore, out: Outcome) -> None:
    update_list(store, store.resolve("{bootmgr}"), _LIST_COMMANDS[cmd.name], cmd.args,
                f"/{cmd.name}")
    out.lines.append(SUCCESS)


def update_list(store: BcdStore, owner: str, code: int, words: list[str], what: str) -> None:
    """bcdedit's object-list semantics: replace with `ids`, or one id with /addfirst, /addlast
    or /remove (moving it if present; a list that becomes empty is deleted)."""
    modes = [w.lower() for w in words if w.lower() in _LIST_MODES]
    ids = [w for w in words if w.lower() not in _LIST_MODES]
    if not ids or len(modes) > 1 or (modes and len(ids) != 1):
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} {what} takes identifiers, or one "
                                   f"identifier with /addfirst, /addlast or /remove. {HELP_HINT}")
    elem = store.get(owner).elements.get(code)
    current = [g.lower() for g in elem.value()] if elem else []
    if not modes:
        new = _unique([store.resolve(i) for i in ids])
    else:
        guid = store.resolve(ids[0], must_exist=modes[0] != "/remove")
        rest = [g for g in current if g != guid]
        new = {"/addfirst": [guid] + rest, "/addlast": rest + [guid], "/remove": rest}[modes[0]]
    if new == current and elem is not None:
        return
    if new:
        store.set_element(owner, code, new)
    elif elem is not None:
        store.delete_element(owner, code)


# --- settings objects --------------------------------------------------------------------------

def _emssettings(cmd: Command, store: BcdStore, out: Outcome) -> None:
    words = [a.lower() for a in cmd.args]
    if not words:
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} /emssettings needs BIOS or "
                                   f"EMSPORT:n [EMSBAUDRATE:n]. {HELP_HINT}")
    guid = ensure_settings(store, "{emssettings}", out.notices)
    if words == ["bios"]:
        # BIOS: use the firmware's (SPCR) settings, i.e. no explicit port or speed.
        for code in (E.EMSPORT, E.EMSBAUDRATE):
            if code in store.get(guid).elements:
                store.delete_element(guid, code)
        out.lines.append(SUCCESS)
        return
    params = colon_params(cmd.args, {"emsport": E.EMSPORT, "emsbaudrate": E.EMSBAUDRATE})
    for code, text in params.items():
        store.set_element(guid, code, parse_integer(text, None))
    out.lines.append(SUCCESS)


_DEBUG_TYPES = {"serial": 0, "1394": 1, "usb": 2, "net": 3, "local": 4}
_DEBUG_PARAMS = {"debugport": E.DEBUGPORT, "baudrate": E.BAUDRATE, "channel": E.CHANNEL,
                 "targetname": E.TARGETNAME, "hostip": E.HOSTIP, "port": E.PORT, "key": E.KEY,
                 "busparams": E.BUSPARAMS}


@dataclass(frozen=True)
class _Debugger:
    """What /dbgsettings and /hypervisorsettings write: the settings object, the element of
    each parameter, and the debugger types it takes."""

    alias: str
    command: str
    type_code: int | None          # None: the command sets no debugger type
    types: dict[str, int]
    params: dict[str, int]
    dhcp: int
    key: int
    hostip: int
    port: int


_DBGSETTINGS = _Debugger("{dbgsettings}", "/dbgsettings", E.DEBUGTYPE, _DEBUG_TYPES,
                         _DEBUG_PARAMS, element("dhcp"), E.KEY, E.HOSTIP, E.PORT)
_HV = {name: element("hypervisor" + name, OSLOADER) for name in (
    "debugtype", "debugport", "baudrate", "channel", "hostip", "hostport", "usekey",
    "busparams", "dhcp")}
_HYPERVISOR = _Debugger(
    "{hypervisorsettings}", "/hypervisorsettings", _HV["debugtype"],
    {"serial": 0, "1394": 1, "net": 3},
    {"debugport": _HV["debugport"], "baudrate": _HV["baudrate"], "channel": _HV["channel"],
     "hostip": _HV["hostip"], "port": _HV["hostport"], "key": _HV["usekey"],
     "busparams": _HV["busparams"]},
    _HV["dhcp"], _HV["usekey"], _HV["hostip"], _HV["hostport"])


# {eventsettings} is {dbgsettings}'s GUID (bcd.md §5.3): remote event logging (EVENT-NET) shares
# the NET debugger's elements.  Microsoft's Setup and Boot Event Collection page has users check
# after `bcdedit /eventsettings net hostip:... port:... key:...` that `bcdedit /eventsettings`
# shows "Debugtype = NET", "Hostip", "Port", "Key" and "DHCP = yes": so it sets debugtype NET too,
# and /debug and /event are exclusive because they share this object.
_EVENTSETTINGS = _Debugger("{eventsettings}", "/eventsettings", E.DEBUGTYPE, {"net": 3},
                           {"hostip": E.HOSTIP, "port": E.PORT, "key": E.KEY},
                           element("dhcp"), E.KEY, E.HOSTIP, E.PORT)


def new_debug_key() -> str:
    """A network-debugging key as bcdedit makes one: four dot-separated base-36 numbers of 64
    random bits each (`2steg4fzbj2sz.23418vzkd4ko3.1g34ou07z4pev.1sp3yo9yz874p`)."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"

    def word() -> str:
        number, out = secrets.randbits(64) or 1, ""
        while number:
            number, rest = divmod(number, 36)
            out = digits[rest] + out
        return out

    return ".".join(word() for _ in range(4))


def _dbgsettings(cmd: Command, store: BcdStore, out: Outcome) -> None:
    _debugger(cmd, store, out, _DBGSETTINGS)


def _hypervisorsettings(cmd: Command, store: BcdStore, out: Outcome) -> None:
    _debugger(cmd, store, out, _HYPERVISOR)


def _eventsettings(cmd: Command, store: BcdStore, out: Outcome) -> None:
    _debugger(cmd, store, out, _EVENTSETTINGS)


def _debugger(cmd: Command, store: BcdStore, out: Outcome, spec: _Debugger) -> None:
    """`/dbgsettings` or `/hypervisorsettings`: without arguments show the settings; with a
    type and NAME:value parameters write them (NET: a key is generated and printed when none
    is given or with NEWKEY, as bcdedit does; NODHCP turns DHCP off; BUSPARAMS:b.d.f)."""
    args = list(cmd.args)
    if not args:
        _show_settings(store, spec.alias, out)
        return
    # bcdedit /? /dbgsettings: `[debugtype [...]] [/start policy] [/noumex]`: the switches
    # alone change the start policy or user-mode exceptions and keep the debugger type
    switches_only = spec is _DBGSETTINGS and args[0].lower() in ("/start", "/noumex")
    if args[0].lower() not in spec.types and not switches_only:
        names = ", ".join(t.upper() for t in spec.types)
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} {spec.command} needs {names}, or "
                                   f"no argument to show the settings. {HELP_HINT}")
    kind = None if switches_only else args.pop(0).lower()
    start, flags, rest = None, set(), []
    while args:
        word = args.pop(0)
        if word.lower() == "/start" and args and spec is _DBGSETTINGS:
            start = args.pop(0)
        elif word.lower() in ("nodhcp", "newkey") or (word.lower() == "/noumex"
                                                       and spec is _DBGSETTINGS):
            flags.add(word.lower())
        elif word.lower() in ("/start", "/noumex"):
            # only /dbgsettings takes them (bcdedit /? /hypervisorsettings, /eventsettings)
            raise InvalidArgumentError(f"{PARAMETER_INCORRECT} {word} belongs to /dbgsettings, "
                                       f"not {spec.command}. {HELP_HINT}")
        else:
            # the docs write both BUSPARAMS:b.d.f and busparams=b.d.f
            name, eq, value = word.partition("=")
            rest.append(f"{name}:{value}" if eq and name.lower() == "busparams" else word)
    params = colon_params(rest, spec.params)
    if "newkey" in flags and spec.key in params:
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} KEY: and NEWKEY exclude each other. "
                                   f"{HELP_HINT}")
    guid = ensure_settings(store, spec.alias, out.notices)
    if kind == "net":
        _net_settings(store, guid, spec, params, flags, out)
    elif flags & {"nodhcp", "newkey"}:
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} NODHCP and NEWKEY apply to NET. "
                                   f"{HELP_HINT}")
    if kind is None and params:
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} {spec.command}: NAME:value "
                                   f"parameters follow a debugger type (e.g. {spec.command} "
                                   f"SERIAL DEBUGPORT:1). {HELP_HINT}")
    if spec.type_code is not None and kind is not None:
        store.set_element(guid, spec.type_code, spec.types[kind])
    for code, text in params.items():
        value = text if code >> 24 & 0xF == Format.STRING else (
            parse_ipv4(text) if code == spec.hostip else parse_integer(text, None))
        store.set_element(guid, code, value)
    if start is not None:
        store.set_element(guid, E.DEBUGSTART,
                          parse_integer(start, store.element_def(guid, "debugstart")))
    if "/noumex" in flags:
        store.set_element(guid, E.NOUMEX, True)
    if kind != "net":             # for NET bcdedit prints only the key
        out.lines.append(SUCCESS)


def _net_settings(store: BcdStore, guid: str, spec: _Debugger, params: dict, flags: set,
                  out: Outcome) -> None:
    """Network debugging: host and port must be known; the key is the one given, else a new
    one (NEWKEY, or none stored yet), printed like bcdedit prints it."""
    have = store.get(guid).elements
    for code, name in ((spec.hostip, "HOSTIP"), (spec.port, "PORT")):
        if code not in params and code not in have:
            raise InvalidArgumentError(f"{PARAMETER_INCORRECT} {spec.command} NET needs "
                                       f"{name}:. {HELP_HINT}")
    if spec.key not in params and ("newkey" in flags or spec.key not in have):
        params[spec.key] = new_debug_key()
    store.set_element(guid, spec.dhcp, "nodhcp" not in flags)
    key = params.get(spec.key)
    if key is None:
        key = have[spec.key].value()
    out.lines.append(f"Key={key}")


def _show_settings(store: BcdStore, alias: str, out: Outcome) -> None:
    """The elements of a settings object as bcdedit lists them (name column, no header)."""
    obj = store.get(store.resolve(alias))
    lines = enum.render_object(store, obj, enum.View())
    out.lines.extend(lines[4:])          # empty line, title, dashes, identifier
    out.lines.append(SUCCESS)


# --- objects -----------------------------------------------------------------------------------

_WELL_KNOWN_TYPES = {"{bootmgr}": objects.BOOTMGR, "{fwbootmgr}": objects.FWBOOTMGR,
                     "{memdiag}": objects.MEMDIAG, "{ntldr}": objects.NTLDR,
                     "{legacy}": objects.NTLDR}


def _create(cmd: Command, store: BcdStore, out: Outcome) -> None:
    args = list(cmd.args)
    ident = args.pop(0) if args and not args[0].startswith("/") else None
    description, kind, kind_arg = None, None, None
    while args:
        word = args.pop(0).lower()
        if word == "/d" and args:
            description = args.pop(0)
        elif word in ("/application", "/inherit", "/device") and kind is None:
            kind = word
            if args and not args[0].startswith("/"):
                kind_arg = args.pop(0).lower()
        else:
            raise InvalidArgumentError(_usage("create"))
    if ident is not None and ident.lower() in ("{current}", "{default}"):
        # they stand for an existing entry: a new one cannot have that identifier
        raise InvalidIdentifierError(f"{objects.INVALID_IDENTIFIER} {ident} names an existing "
                                     "entry; /create without an identifier makes a new GUID",
                                     path=ident)
    object_type = _object_type(ident, kind, kind_arg)
    if kind == "/application" and description is None:
        raise InvalidArgumentError(f"A description must be specified for the new entry (/d). "
                                   f"{HELP_HINT}")
    if ident is None:
        guid = objects.new_guid()
    else:
        guid = objects.alias_guid(ident) or objects.normalize_guid(ident)
    store.create_object(guid, object_type)
    if description is not None:
        store.set_element(guid, E.DESCRIPTION, description)
    if ident and ident.lower() in objects.SETTINGS_OBJECTS:
        parents = objects.SETTINGS_OBJECTS[ident.lower()][1]
        inherit = [objects.ALIASES[p] for p in parents if store.has(objects.ALIASES[p])]
        if inherit:
            store.set_element(guid, E.INHERIT, inherit)
    shown = enum.identifier(store, guid, enum.View())
    out.lines.append(f"The entry {shown} was successfully created.")


def _object_type(ident: str | None, kind: str | None, kind_arg: str | None) -> int:
    key = ident.lower() if ident else None
    if kind is not None and key in objects.ALIASES:
        # bcdedit /? /create: "If a well-known identifier is specified, then the /application,
        # /inherit, and /device parameters cannot be specified" — its type is fixed
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} {ident} is a well-known identifier: "
                                   f"its type is fixed, so /create takes no {kind} with it "
                                   f"(bcdedit /create {ident} [/d DESCRIPTION]). {HELP_HINT}")
    if kind is None:
        if key in _WELL_KNOWN_TYPES:
            return _WELL_KNOWN_TYPES[key]
        if key in objects.SETTINGS_OBJECTS:
            return objects.SETTINGS_OBJECTS[key][0]
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} /create needs /application, /inherit "
                                   f"or /device. {HELP_HINT}")
    if kind == "/application":
        if kind_arg not in objects.APPLICATION_TYPES:
            given = f"The application type {kind_arg!r} is not valid" if kind_arg else \
                f"{PARAMETER_INCORRECT} /application needs a type"
            raise InvalidArgumentError(f"{given} (BOOTSECTOR, OSLOADER, RESUME, STARTUP). "
                                       f"{HELP_HINT}")
        return objects.APPLICATION_TYPES[kind_arg]
    if kind == "/inherit":
        if kind_arg is None:
            return objects.INHERIT_ANY
        if kind_arg == "device":
            return objects.INHERIT_DEVICE
        if kind_arg not in objects.INHERIT_TYPES:
            raise InvalidArgumentError(f"The inherit type {kind_arg!r} is not valid. {HELP_HINT}")
        return objects.INHERIT_TYPES[kind_arg]
    if kind_arg is not None:
        raise InvalidArgumentError(_usage("create"))
    return objects.DEVICE_OPTIONS


def _copy(cmd: Command, store: BcdStore, out: Outcome) -> None:
    args = cmd.args
    if len(args) != 3 or args[1].lower() != "/d":
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} /copy takes an identifier and "
                                   f"/d description. {HELP_HINT}")
    source = store.resolve(args[0])
    guid = objects.new_guid()
    store.copy_object(source, guid)
    store.set_element(guid, E.DESCRIPTION, args[2])
    # bcdedit adds the copy of an entry that is on the boot menu to the end of the menu
    bootmgr = objects.ALIASES["{bootmgr}"]
    order = store.get(bootmgr).elements.get(E.DISPLAYORDER) if store.has(bootmgr) else None
    if order is not None and source in _guid_list(order):
        update_list(store, bootmgr, E.DISPLAYORDER, [guid, "/addlast"], "/copy")
    out.lines.append(f"The entry was successfully copied to {guid}.")


def _mirror(cmd: Command, store: BcdStore, out: Outcome) -> None:
    """`/mirror [{id}]`: a copy of a boot entry under a new identifier (same description),
    added to the end of the boot menu — the entry for the other half of a mirrored volume;
    point its devices there with /set."""
    if len(cmd.args) > 1:
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} /mirror takes one identifier. "
                                   f"{HELP_HINT}")
    source = store.resolve(cmd.args[0] if cmd.args else "{current}")
    guid = objects.new_guid()
    store.copy_object(source, guid)
    bootmgr = objects.ALIASES["{bootmgr}"]
    if store.has(bootmgr):
        update_list(store, bootmgr, E.DISPLAYORDER, [guid, "/addlast"], "/mirror")
    out.notices.append(f"{guid} mirrors {source}: point its device and osdevice at the other "
                       "half of the mirror with /set")
    out.lines.append(f"The entry was successfully copied to {guid}.")


def _delete(cmd: Command, store: BcdStore, out: Outcome) -> None:
    flags = {a.lower() for a in cmd.args if a.startswith("/")}
    ids = [a for a in cmd.args if not a.startswith("/")]
    if len(ids) != 1 or not flags <= {"/f", "/cleanup", "/nocleanup"}:
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} /delete takes one identifier and "
                                   f"/f, /cleanup or /nocleanup. {HELP_HINT}")
    guid = store.resolve(ids[0])
    well_known = objects.alias_of(guid) is not None
    if well_known and "/f" not in flags:
        raise BcdError("The specified entry is a well-known identifier; specify /f to delete "
                       "it.", path=ids[0])
    resume = _resume_object(store, guid)
    store.delete_object(guid)
    if "/nocleanup" not in flags:
        _cleanup(store, guid, out)
        # bcdedit also deletes the loader's resume object when no other loader uses it
        if resume and store.has(resume) and not any(
                _resume_object(store, o.guid) == resume for o in store.objects()):
            store.delete_object(resume)
            out.notices.append(f"deleted the resume object {resume} of the deleted entry")
            _cleanup(store, resume, out)
    out.lines.append(SUCCESS)


def _cleanup(store: BcdStore, guid: str, out: Outcome) -> None:
    for obj, code in store.remove_references(guid):
        out.notices.append(f"removed {guid} from element {code:08x} of {obj}")


def _resume_object(store: BcdStore, guid: str) -> str | None:
    obj = store.get(guid)
    elem = obj.elements.get(E.LOADER_RESUMEOBJECT)
    if obj.type != objects.OSLOADER or elem is None:
        return None
    try:
        value = elem.value()
    except BcdToolError:
        return None
    return value.lower() if objects.is_guid(value) else None


# --- whole stores ------------------------------------------------------------------------------

def _export(cmd: Command, store: BcdStore, out: Outcome) -> None:
    if len(cmd.args) != 1:
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} /export takes one file. {HELP_HINT}")
    out.new_file = (local_file(cmd.args[0], "/export"), bytes(store.hive.data))
    out.lines.append(SUCCESS)


def new_store_image() -> bytes:
    """An empty store as `bcdedit /createstore` makes it (NewStoreRoot, Description, Objects)."""
    editor = HiveEditor.new(minor=3, root_name="NewStoreRoot")
    editor.create_key("Description")
    editor.set_value("Description", "KeyName", REG_SZ,
                     "BCD00000001".encode("utf-16-le") + b"\0\0")
    editor.create_key("Objects")
    return editor.to_bytes()


def import_store(store: BcdStore, source: BcdStore, *, clean: bool = False) -> Outcome:
    """`/import [/clean]`: make the objects of `store` those of `source`, element for element.

    Done object by object (not by replacing the file) so the store keeps its own Description
    values and its size where the objects fit, which in-place writes inside disk images need.
    The store's firmware applications (0x101fffff: its copy of the firmware's boot entries,
    which bcdedit /import leaves to the firmware) are kept unless `clean` (bcdedit's /clean:
    delete the existing firmware boot entries).
    """
    out = Outcome(lines=[SUCCESS], notices=list(source.notices))
    kept = []
    for obj in store.objects():
        if obj.type == objects.FIRMWARE_APP and not clean and not source.has(obj.guid):
            kept.append(obj.guid)
            continue
        store.delete_object(obj.guid)
    for obj in source.objects():
        store.create_object(obj.guid, obj.type)
        for code, elem in sorted(obj.elements.items()):
            store.set_raw(obj.guid, code, elem.raw)
    if kept:
        out.notices.append(f"kept {len(kept)} firmware boot entr{'y' if len(kept) == 1 else 'ies'}"
                           " of the store (/clean deletes them)")
    return out


def parse_import(args: list[str]) -> tuple[str, bool]:
    """(file, /clean) of `/import FILE [/clean]`.

    Raises:
        InvalidArgumentError: for anything else.
    """
    words = [a for a in args if a.lower() != "/clean"]
    if len(words) != 1 or len(args) - len(words) > 1:
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} /import takes one file and "
                                   f"optionally /clean. {HELP_HINT}")
    return local_file(words[0], "/import"), len(words) != len(args)


def _guid_list(elem) -> list[str]:
    try:
        return [g.lower() for g in elem.value()]
    except BcdToolError:
        return []


_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")


def local_file(path: str, what: str) -> str:
    """`path` when it names a file on this machine; a Windows path (`C:\\Data\\BCD`,
    `\\\\server\\share`) pasted from a Windows procedure is refused, not created in the current
    folder under that odd name.

    Raises:
        InvalidArgumentError: for a Windows path.
    """
    if _WINDOWS_PATH.match(path):
        raise InvalidArgumentError(f"{path} is a Windows path: for {what} name the file as this "
                                   f"machine sees it (e.g. /tmp/BCD or ./BCD-backup)")
    return path


_ID_RE = re.compile(r"^\{[^{}]+\}$")


def _looks_like_id(word: str) -> bool:
    return bool(_ID_RE.match(word.strip()))


def _lost_braces(word: str) -> bool:
    """`default`, `current`, `bootmgr`, a bare GUID: an identifier whose braces were lost (the
    store's resolve names the braced form)."""
    braced = "{" + word.strip().lower() + "}"
    return braced in objects.ALIASES or objects.is_guid(braced)


def _unique(items: list[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


_HANDLERS = {
    "enum": _enum, "set": _set, "deletevalue": _deletevalue, "ems": _switch,
    "bootems": _switch, "debug": _switch, "bootdebug": _switch, "event": _switch,
    "emssettings": _emssettings, "eventsettings": _eventsettings,
    "dbgsettings": _dbgsettings, "timeout": _timeout, "default": _default,
    "displayorder": _list_command, "toolsdisplayorder": _list_command,
    "bootsequence": _list_command, "create": _create, "copy": _copy, "delete": _delete,
    "export": _export, "hypervisorsettings": _hypervisorsettings, "mirror": _mirror,
}
