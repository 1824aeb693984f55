"""BCD layer: `bcdedit /?` offline — the command summary, one command's syntax, and the
topics ID, TYPES [scope], FORMATS and TOPICS, the element names generated from the table.

The syntax lines are bcdtool's own summary of what `bcdtool bcdedit` accepts (bcd.md §9).
"""

from __future__ import annotations

import difflib

from bcdtool.bcd import objects
from bcdtool.bcd.arguments import HELP_HINT
from bcdtool.bcd.elements import (BOOTMGR, DEVICE, ELEMENTS, FORMAT_NAMES, LIBRARY, MEMDIAG,
                                  NTLDR, OSLOADER, RESUME, STARTUP, TEMPLATE)
from bcdtool.errors import InvalidArgumentError

#: command -> (syntax, what it does offline)
COMMANDS: dict[str, tuple[str, str]] = {
    "createstore": ("/createstore FILE", "make a new, empty store file"),
    "export": ("/export FILE", "copy the store to a new file"),
    "import": ("/import FILE [/clean]", "make the store's objects those of FILE"),
    "sysstore": ("/sysstore DEVICE", "live Windows only: offline, name the store with /store"),
    "copy": ("/copy {id} /d DESCRIPTION", "copy an entry (added to the boot menu when the "
             "original is on it)"),
    "create": ("/create [{id}] [/d DESCRIPTION] [/application TYPE | /inherit [TYPE] | "
               "/device]", "create an entry"),
    "delete": ("/delete {id} [/f] [/cleanup | /nocleanup]", "delete an entry"),
    "mirror": ("/mirror [{id}]", "copy an entry to the end of the boot menu"),
    "deletevalue": ("/deletevalue [{id}] DATATYPE", "delete an element"),
    "set": ("/set [{id}] DATATYPE VALUE", "set an element (DATATYPE: /? TYPES, VALUE: /? "
            "FORMATS)"),
    "enum": ("/enum [ACTIVE | FIRMWARE | BOOTAPP | BOOTMGR | OSLOADER | RESUME | INHERIT | "
             "DEVICE | ALL | {id}] [/v]", "list entries"),
    "v": ("/v", "show identifiers in full, not by their well-known names"),
    "bootsequence": ("/bootsequence {id} [...] [/addfirst | /addlast | /remove]",
                     "set the one-time boot sequence"),
    "default": ("/default {id}", "set the default entry"),
    "displayorder": ("/displayorder {id} [...] [/addfirst | /addlast | /remove]",
                     "set the boot menu order"),
    "timeout": ("/timeout SECONDS", "set the boot menu time-out"),
    "toolsdisplayorder": ("/toolsdisplayorder {id} [...] [/addfirst | /addlast | /remove]",
                          "set the tools menu order"),
    "bootems": ("/bootems [{id}] ON | OFF", "EMS for a boot application"),
    "ems": ("/ems [{id}] ON | OFF", "EMS for an OS loader"),
    "emssettings": ("/emssettings BIOS | EMSPORT:n [EMSBAUDRATE:n]", "global EMS settings"),
    "bootdebug": ("/bootdebug [{id}] ON | OFF", "boot debugging of a boot application"),
    "dbgsettings": ("/dbgsettings [SERIAL | 1394 | USB | NET | LOCAL] [NAME:value ...] "
                    "[/start POLICY] [/noumex]", "show or set the global debugger settings"),
    "debug": ("/debug [{id}] ON | OFF", "kernel debugging of an OS loader"),
    "hypervisorsettings": ("/hypervisorsettings [SERIAL | 1394 | NET] [NAME:value ...]",
                           "show or set the hypervisor debugger settings"),
    "event": ("/event [{id}] ON | OFF", "remote event logging of an OS loader"),
    "eventsettings": ("/eventsettings [NET HOSTIP:ip PORT:n [KEY:k] [nodhcp] [newkey]]",
                      "show or set the remote event logging settings"),
    "store": ("/store TARGET", "the store: a BCD file, folder, block device or disk image "
              "(offline there is no system store)"),
}
_SCOPES = {"library": LIBRARY, "bootmgr": BOOTMGR, "fwbootmgr": BOOTMGR, "osloader": OSLOADER,
           "resume": RESUME, "memdiag": MEMDIAG, "ntldr": NTLDR, "startup": STARTUP,
           "devobject": DEVICE, "device": DEVICE, "template": TEMPLATE}
_FORMATS = [
    "booleans      yes | no | on | off | true | false | 1 | 0",
    "integers      decimal, or 0x hexadecimal; enumerated values by name (nx OptIn)",
    "strings       as typed; quote them when they hold spaces",
    "identifiers   {guid} or a well-known name ({bootmgr}, {default}, ... see /? ID)",
    "devices       boot | partition=X: | partition=#N | partition=/dev/sdXN | locate[=path] |",
    "              locate=custom:XXXXXXXX | file=[partition]\\path |",
    "              vhd=[partition]\\path[,locate=custom:XXXXXXXX] | ramdisk=[partition]\\path,"
    "{options}",
    "              where [partition] is [X:], [boot] or [locate]; drive letters need a disk "
    "target",
    "element ids   a name (/? TYPES) or custom:XXXXXXXX",
]
TOPICS = ("ID", "TYPES", "FORMATS", "TOPICS", *sorted(c.upper() for c in COMMANDS))


def render(args: list[str]) -> list[str]:
    """The help lines for `/? [topic [scope]]`.

    Raises:
        InvalidArgumentError: for a topic there is no help on, naming the close ones.
    """
    if not args:
        return _summary()
    topic = args[0].lstrip("/-").lower()
    if topic == "id":
        return _identifiers()
    if topic == "types":
        return _types(args[1] if len(args) > 1 else None)
    if topic == "formats":
        return list(_FORMATS)
    if topic == "topics":
        return ["Help topics (bcdedit /? TOPIC):", *("  " + t for t in TOPICS)]
    if topic in COMMANDS:
        syntax, what = COMMANDS[topic]
        return [f"bcdedit [/store TARGET] {syntax}", f"  {what}"]
    close = difflib.get_close_matches(topic.upper(), TOPICS, n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise InvalidArgumentError(f"There is no help on {args[0]!r}{hint}; the topics: bcdedit /? "
                               f"TOPICS. {HELP_HINT}")


def _summary() -> list[str]:
    width = max(len(name) for name in COMMANDS) + 2
    lines = ["bcdtool bcdedit [/store TARGET] /command [arguments]: bcdedit, offline.", ""]
    lines += [f"/{name:<{width}}{what}" for name, (_, what) in COMMANDS.items()]
    lines += ["", "bcdedit /? COMMAND for its syntax; /? ID, /? TYPES [scope], /? FORMATS, "
              "/? TOPICS."]
    return lines


def _identifiers() -> list[str]:
    lines = ["Identifiers: {xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}, or a well-known one:"]
    lines += [f"  {alias:<24}{guid}" for alias, guid in objects.ALIASES.items()
              if alias not in ("{current}", "{default}")]
    lines += ["  {default}               the entry {bootmgr}'s default element names",
              "  {current}               the running system's entry: offline, {default}"]
    return lines


def _types(scope: str | None) -> list[str]:
    """Element names, their format and enumerated values, for one scope or all."""
    if scope is not None and scope.lower() not in _SCOPES:
        raise InvalidArgumentError(f"No element scope {scope!r}: one of "
                                   f"{', '.join(s.upper() for s in _SCOPES)}. {HELP_HINT}")
    wanted = {_SCOPES[scope.lower()]} if scope else set(_SCOPES.values())
    lines = []
    for row in ELEMENTS:
        if row.scope in wanted and row.name:
            values = f" ({' | '.join(row.values)})" if row.values else ""
            lines.append(f"  {row.name:<32}{FORMAT_NAMES.get(row.format, '?')}{values}")
    return [f"Element types{' for ' + scope.upper() if scope else ''}:", *lines]
