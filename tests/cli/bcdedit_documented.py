"""Every bcdedit command line Microsoft's documentation shows, with what Windows' bcdedit does
to the store (element code and the bytes of its registry value) or the error an offline run
must give.  Each page is a procedure: its lines run in order on one copy of a real store.

A line is written as the page shows it (cmd.exe quoting, `bcdedit` or `bcdedit.exe` first,
`-` or `/` switches).  `{GUID1}`, `{CLSID}`, `{guid}` and `{ID}` are the pages' "paste the GUID
the previous command printed" placeholders; the runner puts in the last GUID printed.

Checks (after the line ran):
    set(obj, code, raw)   element `code` of `obj` holds exactly `raw` (value type from the format)
    gone(obj, code)       element `code` of `obj` does not exist
    obj(obj, type)        object `obj` exists with Description\\Type `type`; type None: absent
    out(text)             stdout contains `text`
    exit(code, text)      the line fails with this exit code and a one-line message containing
                          `text`; the store is byte-for-byte unchanged
`obj` is an alias (`{bootmgr}`), `{default}` (the store's default loader before the page ran),
`{new}` (the last GUID printed) or a GUID.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Exit codes (bcdtool/errors.py).
NOT_FOUND, UNSUPPORTED, BCD, IDENT, ELEMENT, ARGUMENT, LIVE = 15, 17, 20, 21, 22, 24, 37


def integer(n: int) -> bytes:
    """An integer element as bcdedit writes it: 8 bytes little-endian."""
    return n.to_bytes(8, "little")


def string(text: str) -> bytes:
    """A string or object element: UTF-16LE with its terminating NUL."""
    return (text + "\0").encode("utf-16-le")


def strings(*texts: str) -> bytes:
    """An object list: REG_MULTI_SZ."""
    return "".join(t + "\0" for t in texts).encode("utf-16-le") + b"\0\0"


YES, NO = b"\x01", b"\x00"
#: {ramdiskoptions}'s GUID as a device element holds it (little-endian fields), and a path.
RAMDISKOPTIONS = bytes.fromhex("e03455ae24a96c46b836758539a3ee3a")
WIM = ("\\Boot\\boot.wim" + "\0").encode("utf-16-le")


def set_(obj: str, code: int, raw: bytes) -> tuple:
    return ("set", obj, code, raw)


def gone(obj: str, code: int) -> tuple:
    return ("gone", obj, code)


def contains(obj: str, code: int, *parts: bytes, at: int | None = None) -> tuple:
    return ("contains", obj, code, parts, at)


def obj(ident: str, object_type: int | None) -> tuple:
    return ("obj", ident, object_type)


def out(text: str) -> tuple:
    return ("out", text)


def exit_(code: int, text: str) -> tuple:
    return ("exit", code, text)


@dataclass
class Page:
    """One documentation page (or one procedure on it): its lines, run in order."""

    url: str
    store: str
    steps: list[tuple[str, list[tuple]]] = field(default_factory=list)


D = "{default}"
BOOTMGR, FW, DBG, EMS, HV = "{bootmgr}", "{fwbootmgr}", "{dbgsettings}", "{emssettings}", \
    "{hypervisorsettings}"
G49 = "{49916baf-0e08-11db-9af4-000bdbd316a0}"
GCB = "{cbd971bf-b7b8-4885-951a-fa03044f5d71}"
G80 = "{802d5e32-0784-11da-bd33-000476eba25f}"
SECCONFIG = "{0cb3b571-2f2e-4343-a879-d86a476d7215}"
INSTALLED = "win11-uefi-installed-2025.bcd"       # Windows 11 UEFI, bcdboot-made, {fwbootmgr}
BIOS = "win10-bios-installed-sysreserved.bcd"     # Windows 10 BIOS, System Reserved
NEW = "new"                                        # an empty store (bcdedit /createstore)
# The entries the pages' example GUIDs name, made first (themselves documented /create lines).
DOC_ENTRIES = [
    f'bcdedit /create {G49} /d "Debugger Boot" /application osloader',
    f'bcdedit /create {GCB} /d "Windows Vista" /application osloader',
    f'bcdedit /create {G80} /d "Second OS" /application osloader',
]
OSLOADER, DEVICE_OPTIONS, BOOTMGR_TYPE, NTLDR = 0x10200003, 0x30000000, 0x10100002, 0x10300006

DEVTEST = "https://learn.microsoft.com/windows-hardware/drivers/devtest/"
DEBUGGER = "https://learn.microsoft.com/windows-hardware/drivers/debugger/"

PAGES: list[Page] = [
    # --- BCDEdit /set -----------------------------------------------------------------------
    Page(DEVTEST + "bcdedit--set", INSTALLED, [
        ("bcdedit /set hypervisordebugtype serial", [set_(D, 0x250000F3, integer(0))]),
        ("bcdedit /set hypervisordebugport 1", [set_(D, 0x250000F4, integer(1))]),
        ("bcdedit /set hypervisorbaudrate 115200", [set_(D, 0x250000F5, integer(115200))]),
        ("bcdedit /set hypervisordebug on", [set_(D, 0x260000F2, YES)]),
        ("bcdedit /set hypervisorlaunchtype auto", [set_(D, 0x250000F0, integer(1))]),
        ("bcdedit /set onecpu on", [set_(D, 0x26000060, YES)]),
        ("bcdedit /set {current} onetimeadvancedoptions on", [set_(D, 0x260000C3, YES)]),
        *[(line, []) for line in DOC_ENTRIES],
        (f"bcdedit /set {G49} removememory 256", [set_(G49, 0x25000031, integer(256))]),
        (f"bcdedit /set {G49} truncatememory 0x40000000",
         [set_(G49, 0x15000007, integer(0x40000000))]),
        ("bcdedit /set groupsize 2", [set_(D, 0x25000066, integer(2))]),
        ("bcdedit /deletevalue groupsize", [gone(D, 0x25000066)]),
        ("bcdedit /set nx AlwaysOff", [set_(D, 0x25000020, integer(2))]),
        ("bcdedit /set pae ForceEnable", [set_(D, 0x25000021, integer(1))]),
        ("bcdedit /set bootlog yes", [set_(D, 0x26000090, YES)]),
        ("bcdedit /set bootmenupolicy Legacy", [set_(D, 0x250000C2, integer(0))]),
        ("bcdedit /set bootmenupolicy Standard", [set_(D, 0x250000C2, integer(1))]),
        ("bcdedit /set bootstatuspolicy DisplayAllFailures", [set_(D, 0x250000E0, integer(0))]),
        ("bcdedit /set bootstatuspolicy IgnoreAllFailures", [set_(D, 0x250000E0, integer(1))]),
        ("bcdedit /set bootstatuspolicy IgnoreShutdownFailures",
         [set_(D, 0x250000E0, integer(2))]),
        ("bcdedit /set bootstatuspolicy IgnoreBootFailures", [set_(D, 0x250000E0, integer(3))]),
        ("bcdedit /set bootstatuspolicy IgnoreCheckpointFailures",
         [set_(D, 0x250000E0, integer(4))]),
        ("bcdedit /set bootstatuspolicy DisplayShutdownFailures",
         [set_(D, 0x250000E0, integer(5))]),
        ("bcdedit /set bootstatuspolicy DisplayBootFailures", [set_(D, 0x250000E0, integer(6))]),
        ("bcdedit /set bootstatuspolicy DisplayCheckpointFailures",
         [set_(D, 0x250000E0, integer(7))]),
        ("bcdedit /set bootux disabled", [set_(D, 0x250000F7, integer(0))]),
        ("bcdedit /set bootux basic", [set_(D, 0x250000F7, integer(1))]),
        ("bcdedit /set bootux standard", [set_(D, 0x250000F7, integer(2))]),
        ("bcdedit /set disabledynamictick yes", [set_(D, 0x260000A5, YES)]),
        ("bcdedit /set disableelamdrivers yes", [set_(D, 0x260000E1, YES)]),
        ("bcdedit /set forcelegacyplatform no", [set_(D, 0x260000A3, NO)]),
        ("bcdedit /set groupaware on", [set_(D, 0x26000065, YES)]),
        ("bcdedit /set hal halacpi.dll", [set_(D, 0x22000012, string("halacpi.dll"))]),
        ("bcdedit /set kernel ntkrnlmp.exe", [set_(D, 0x22000011, string("ntkrnlmp.exe"))]),
        ("bcdedit /set hypervisorbusparams 1.5.0", [set_(D, 0x220000F9, string("1.5.0"))]),
        ("bcdedit /set hypervisorhostip 192.168.1.2",
         [set_(D, 0x250000FD, bytes([192, 168, 1, 2]) + bytes(4))]),
        ("bcdedit /set hypervisorhostport 50000", [set_(D, 0x250000FE, integer(50000))]),
        ("bcdedit /set hypervisordhcp no", [set_(D, 0x26000114, NO)]),
        ("bcdedit /set hypervisoriommupolicy enable", [set_(D, 0x25000115, integer(1))]),
        ("bcdedit /set hypervisorlaunchtype Off", [set_(D, 0x250000F0, integer(0))]),
        ("bcdedit /set hypervisorloadoptions NOFORCESNOOP=Yes",
         [set_(D, 0x22000117, string("NOFORCESNOOP=Yes"))]),
        ("bcdedit /set hypervisornumproc 4", [set_(D, 0x250000FA, integer(4))]),
        ("bcdedit /set hypervisorrootproc 2", [set_(D, 0x25000113, integer(2))]),
        ("bcdedit /set hypervisorrootprocpernode 1", [set_(D, 0x250000FB, integer(1))]),
        ("bcdedit /set hypervisorusekey 1a2b3c", [set_(D, 0x22000110, string("1a2b3c"))]),
        ("bcdedit /set hypervisoruselargevtlb yes", [set_(D, 0x260000FC, YES)]),
        ("bcdedit /set increaseuserva 3072", [set_(D, 0x25000032, integer(3072))]),
        ("bcdedit /set loadoptions busparams=1.5.0",
         [set_(D, 0x12000030, string("busparams=1.5.0"))]),
        ("bcdedit /set maxgroup on", [set_(D, 0x26000064, YES)]),
        ("bcdedit /set nointegritychecks on", [set_(D, 0x16000048, YES)]),
        ("bcdedit /set nolowmem on", [set_(D, 0x26000030, YES)]),
        ("bcdedit /set novesa on", [set_(D, 0x26000042, YES)]),
        ("bcdedit /set novga on", [set_(D, 0x26000043, YES)]),
        ("bcdedit /set nx Optin", [set_(D, 0x25000020, integer(0))]),
        ("bcdedit /set nx OptOut", [set_(D, 0x25000020, integer(1))]),
        ("bcdedit /set nx AlwaysOn", [set_(D, 0x25000020, integer(3))]),
        ("bcdedit /set pae Default", [set_(D, 0x25000021, integer(0))]),
        ("bcdedit /set pae ForceDisable", [set_(D, 0x25000021, integer(2))]),
        ("bcdedit /set pciexpress forcedisable", [set_(D, 0x25000072, integer(1))]),
        ("bcdedit /set quietboot on", [set_(D, 0x26000041, YES)]),
        ("bcdedit /set sos on", [set_(D, 0x26000091, YES)]),
        ("bcdedit /set testsigning on", [set_(D, 0x16000049, YES)]),
        ("bcdedit /set tpmbootentropy ForceEnable", [set_(D, 0x25000100, integer(2))]),
        ("bcdedit /set tscsyncpolicy Enhanced", [set_(D, 0x250000A6, integer(2))]),
        ("bcdedit /set tscsyncpolicy Legacy", [set_(D, 0x250000A6, integer(1))]),
        ("bcdedit /set usefirmwarepcisettings yes", [set_(D, 0x26000070, YES)]),
        ("bcdedit /set useplatformclock yes", [set_(D, 0x260000A2, YES)]),
        ("bcdedit /set uselegacyapicmode yes", [set_(D, 0x26000054, YES)]),
        ("bcdedit /set useplatformtick yes", [set_(D, 0x260000A4, YES)]),
        ("bcdedit /set vga on", [set_(D, 0x26000040, YES)]),
        ("bcdedit /set xsavedisable 1", [set_(D, 0x2500012B, integer(1))]),
        ("bcdedit /set x2apicpolicy disable", [set_(D, 0x25000055, integer(1))]),
        ("bcdedit /set x2apicpolicy enable", [set_(D, 0x25000055, integer(2))]),
    ]),
    # --- /deletevalue, /timeout, /default, /displayorder, /toolsdisplayorder, /bootsequence ---
    Page(DEVTEST + "bcdedit--deletevalue", INSTALLED, [
        ("bcdedit /set groupsize 4", [set_(D, 0x25000066, integer(4))]),
        ("bcdedit /deletevalue groupsize", [gone(D, 0x25000066)]),
        ("bcdedit /deletevalue groupsize", [exit_(NOT_FOUND, "Element not found")]),
    ]),
    Page(DEVTEST + "bcdedit--timeout", INSTALLED, [
        ("bcdedit /timeout 30", [set_(BOOTMGR, 0x25000004, integer(30))]),
    ]),
    Page(DEVTEST + "bcdedit--default", BIOS, [
        *[(line, []) for line in DOC_ENTRIES[1:2]],
        (f"bcdedit /default {GCB}", [set_(BOOTMGR, 0x23000003, string(GCB))]),
        ("bcdedit /default {ntldr}", [exit_(NOT_FOUND, "reference the specified entry")]),
        ('bcdedit /create {ntldr} /d "Earlier Windows OS Loader"', [obj("{ntldr}", NTLDR)]),
        ("bcdedit /default {ntldr}",
         [set_(BOOTMGR, 0x23000003, string("{466f5a88-0af2-4f76-9038-095b170dc21c}"))]),
    ]),
    Page(DEVTEST + "bcdedit--displayorder", BIOS, [
        (f"bcdedit /displayorder {G80} {GCB} {{ntldr}}",
         [exit_(NOT_FOUND, "reference the specified entry")]),
        *[(line, []) for line in DOC_ENTRIES],
        ('bcdedit /create {ntldr} /d "Earlier Windows OS Loader"', []),
        (f"bcdedit /displayorder {G80} {GCB} {{ntldr}}",
         [set_(BOOTMGR, 0x24000001,
               strings(G80, GCB, "{466f5a88-0af2-4f76-9038-095b170dc21c}"))]),
        (f"bcdedit /displayorder {G49} /addlast",
         [set_(BOOTMGR, 0x24000001,
               strings(G80, GCB, "{466f5a88-0af2-4f76-9038-095b170dc21c}", G49))]),
    ]),
    Page(DEVTEST + "bcdedit--toolsdisplayorder", BIOS, [
        *[(line, []) for line in DOC_ENTRIES],
        (f"bcdedit /toolsdisplayorder {G80} {GCB} {{memdiag}}",
         [set_(BOOTMGR, 0x24000010,
               strings(G80, GCB, "{b2721d73-1db4-4c62-bf78-c548a880142d}"))]),
        (f"bcdedit /toolsdisplayorder {G80} /addlast",
         [set_(BOOTMGR, 0x24000010,
               strings(GCB, "{b2721d73-1db4-4c62-bf78-c548a880142d}", G80))]),
    ]),
    Page(DEVTEST + "bcdedit--bootsequence", BIOS, [
        *[(line, []) for line in DOC_ENTRIES],
        ('bcdedit /create {ntldr} /d "Earlier Windows OS Loader"', []),
        (f"bcdedit /bootsequence {G80} {GCB} {{ntldr}}",
         [set_(BOOTMGR, 0x24000002,
               strings(G80, GCB, "{466f5a88-0af2-4f76-9038-095b170dc21c}"))]),
        (f"bcdedit /bootsequence {G49} /addlast",
         [set_(BOOTMGR, 0x24000002,
               strings(G80, GCB, "{466f5a88-0af2-4f76-9038-095b170dc21c}", G49))]),
    ]),
    # --- /ems, /emssettings, /bootems, /event ------------------------------------------------
    Page(DEVTEST + "bcdedit--ems", BIOS, [
        *[(line, []) for line in DOC_ENTRIES[:1]],
        (f"bcdedit /ems {G49} on", [set_(G49, 0x260000B0, YES)]),
    ]),
    Page(DEVTEST + "bcdedit--emssettings", BIOS, [
        ("bcdedit /emssettings EMSPORT:2 EMSBAUDRATE:115200",
         [set_(EMS, 0x15000022, integer(2)), set_(EMS, 0x15000023, integer(115200))]),
        ("bcdedit /emssettings BIOS", [gone(EMS, 0x15000022), gone(EMS, 0x15000023)]),
    ]),
    Page(DEVTEST + "bcdedit--event", INSTALLED, [
        ("bcdedit /event ON", [set_(D, 0x26000141, YES)]),
        *[(line, []) for line in DOC_ENTRIES[1:2]],
        (f"bcdedit /event {GCB} OFF", [set_(GCB, 0x26000141, NO)]),
    ]),
    Page("https://learn.microsoft.com/windows-server/administration/"
         "get-started-with-setup-and-boot-event-collection", INSTALLED, [
        # "To enable event transport locally on the target computer"
        ("bcdedit /event yes", [set_(D, 0x26000141, YES)]),
        ("bcdedit /eventsettings net hostip:1.2.3.4 port:50000 key:a.b.c.d",
         [out("Key=a.b.c.d"), set_(DBG, 0x15000011, integer(3)),
          set_(DBG, 0x1500001A, bytes([1, 2, 3, 4]) + bytes(4)),
          set_(DBG, 0x1500001B, integer(50000)), set_(DBG, 0x1600001C, YES)]),
        # "Validate target computer configuration": Key, Debugtype = NET, Hostip, Port, DHCP
        ("bcdedit /eventsettings", [out("debugtype               NET"),
                                    out("hostip                  1.2.3.4"),
                                    out("port                    50000"),
                                    out("dhcp                    Yes")]),
        ("bcdedit /eventsettings  net hostip:aaa port:50000 key:bbb busparams:X.Y.Z",
         [exit_(24, "")]),          # the page's placeholders: not an address, not b.d.f
    ]),
    # --- debugging -----------------------------------------------------------------------------
    Page(DEVTEST + "bcdedit--dbgsettings", INSTALLED, [
        ("bcdedit /dbgsettings net hostip:10.125.5.10 port:50000",
         [out("Key="), set_(DBG, 0x15000011, integer(3)),
          set_(DBG, 0x1500001A, bytes([10, 125, 5, 10]) + bytes(4)),
          set_(DBG, 0x1500001B, integer(50000))]),
        ("bcdedit /dbgsettings 1394 channel:1",
         [set_(DBG, 0x15000011, integer(1)), set_(DBG, 0x15000015, integer(1))]),
        ("bcdedit /dbgsettings usb targetname:myTarget",
         [set_(DBG, 0x15000011, integer(2)), set_(DBG, 0x12000016, string("myTarget"))]),
        ("bcdedit /dbgsettings serial debugport:2 baudrate:115200",
         [set_(DBG, 0x15000011, integer(0)), set_(DBG, 0x15000013, integer(2)),
          set_(DBG, 0x15000014, integer(115200))]),
        ("bcdedit /dbgsettings", [out("debugtype               Serial"),
                                  out("debugport               2")]),
        ("bcdedit /dbgsettings LOCAL", [set_(DBG, 0x15000011, integer(4))]),
        ("bcdedit /dbgsettings serial /start AUTOENABLE /noumex",
         [set_(DBG, 0x15000018, integer(1)), set_(DBG, 0x16000017, YES)]),
    ]),
    Page(DEVTEST + "bcdedit--debug", INSTALLED, [
        *[(line, []) for line in DOC_ENTRIES[:1]],
        (f"bcdedit /debug {G49} on", [set_(G49, 0x260000A0, YES)]),
        ("bcdedit /dbgsettings usb targetname:myVistaTarget",
         [set_(DBG, 0x12000016, string("myVistaTarget"))]),
        ("bcdedit /debug ON", [set_(D, 0x260000A0, YES)]),
        ("bcdedit /debug on", [set_(D, 0x260000A0, YES)]),
        ("bcdedit /dbgsettings", [out("targetname              myVistaTarget")]),
    ]),
    Page(DEVTEST + "bcdedit--bootdebug", INSTALLED, [
        ("bcdedit /bootdebug on", [set_(D, 0x16000010, YES)]),
        ("bcdedit /bootdebug {bootmgr} off", [set_(BOOTMGR, 0x16000010, NO)]),
        ("bcdedit /bootdebug {bootmgr} on", [set_(BOOTMGR, 0x16000010, YES)]),
        ("bcdedit /bootdebug on", [set_(D, 0x16000010, YES)]),
        ("bcdedit /debug on", [set_(D, 0x260000A0, YES)]),
    ]),
    Page(DEVTEST + "bcdedit--hypervisorsettings", INSTALLED, [
        ("bcdedit /hypervisorsettings", [out("hypervisordebugtype     Serial")]),
        ("bcdedit /hypervisorsettings NET HOSTIP:192.168.1.2 PORT:50000 BUSPARAMS:0.25.0",
         [out("Key="), set_(HV, 0x250000F3, integer(3)),
          set_(HV, 0x250000FD, bytes([192, 168, 1, 2]) + bytes(4)),
          set_(HV, 0x250000FE, integer(50000)), set_(HV, 0x220000F9, string("0.25.0"))]),
        ("bcdedit /hypervisorsettings SERIAL DEBUGPORT:1 BAUDRATE:115200",
         [set_(HV, 0x250000F3, integer(0)), set_(HV, 0x250000F4, integer(1)),
          set_(HV, 0x250000F5, integer(115200))]),
        ("bcdedit /set {hypervisorsettings} hypervisordebugport 2",
         [set_(HV, 0x250000F4, integer(2))]),
        ("bcdedit /set {current} HYPERVISORDEBUG ON", [set_(D, 0x260000F2, YES)]),
    ]),
    Page(DEBUGGER + "setting-up-a-network-debugging-connection", INSTALLED, [
        ("bcdedit /debug on", [set_(D, 0x260000A0, YES)]),
        ("bcdedit /dbgsettings net hostip:192.168.2.1 port:50000 key:2steg4fzbj2sz.23418vzkd4ko3."
         "1g34ou07z4pev.1sp3yo9yz874p",
         [out("Key=2steg4fzbj2sz.23418vzkd4ko3.1g34ou07z4pev.1sp3yo9yz874p"),
          set_(DBG, 0x1200001D,
               string("2steg4fzbj2sz.23418vzkd4ko3.1g34ou07z4pev.1sp3yo9yz874p"))]),
        ("bcdedit /set {dbgsettings} busparams 0.25.0",
         [set_(DBG, 0x12000019, string("0.25.0"))]),
        ("bcdedit /dbgsettings net hostip:192.168.2.1 port:50005 nodhcp",
         [set_(DBG, 0x1600001C, NO), set_(DBG, 0x1500001B, integer(50005))]),
        ("bcdedit /deletevalue {dbgsettings} busparams", [gone(DBG, 0x12000019)]),
        ("bcdedit /set {default} bootdebug on", [set_(D, 0x16000010, YES)]),
        ("bcdedit /dbgsettings", [out("hostip                  192.168.2.1"),
                                  out("port                    50005")]),
    ]),
    Page(DEBUGGER + "setting-up-a-null-modem-cable-connection", INSTALLED, [
        ("bcdedit /debug on", [set_(D, 0x260000A0, YES)]),
        ("bcdedit /dbgsettings serial debugport:1 baudrate:115200",
         [set_(DBG, 0x15000013, integer(1)), set_(DBG, 0x15000014, integer(115200))]),
        ("bcdedit /set {current} debugtype serial", [set_(D, 0x15000011, integer(0))]),
        ("bcdedit /set {current} debugport 1", [set_(D, 0x15000013, integer(1))]),
        ("bcdedit /set {current} baudrate 115200", [set_(D, 0x15000014, integer(115200))]),
    ]),
    Page(DEVTEST + "the-testsigning-boot-configuration-option", INSTALLED, [
        ("bcdedit /set testsigning on", [set_(D, 0x16000049, YES)]),
        ("bcdedit /set testsigning off", [set_(D, 0x16000049, NO)]),
        ("Bcdedit.exe -set TESTSIGNING ON", [set_(D, 0x16000049, YES)]),
        ("bcdedit /set loadoptions DISABLE_INTEGRITY_CHECKS",
         [set_(D, 0x12000030, string("DISABLE_INTEGRITY_CHECKS"))]),
        ("bcdedit /set nointegritychecks on", [set_(D, 0x16000048, YES)]),
        ("bcdedit /deletevalue loadoptions", [gone(D, 0x12000030)]),
        ("bcdedit /set nointegritychecks off", [set_(D, 0x16000048, NO)]),
    ]),
    # --- identifiers, output, stores -------------------------------------------------------------
    Page(DEVTEST + "boot-options-identifiers", INSTALLED, [
        ("bcdedit /enum", [out("Windows Boot Manager"), out("identifier              {bootmgr}"),
                           out("identifier              {default}")]),
        ("bcdedit /enum {current}", [out("Windows Boot Loader"),
                                     out("identifier              {default}")]),
        ("bcdedit /v", [out("{9dea862c-5cdd-4e70-acc1-f32b344d4795}")]),
        ("bcdedit /enum ALL", [out("Firmware Boot Manager"), out("Hypervisor Settings")]),
        ("bcdedit /enum ACTIVE", [out("Windows Boot Manager")]),
        ("bcdedit /enum FIRMWARE", [out("Firmware Boot Manager")]),
        ("bcdedit /enum BOOTAPP", [out("Windows Boot Loader"), out("Windows Memory Tester")]),
        ("bcdedit /enum BOOTMGR", [out("identifier              {bootmgr}")]),
        ("bcdedit /enum OSLOADER", [out("Windows Boot Loader")]),
        ("bcdedit /enum RESUME", [out("Resume from Hibernate")]),
        ("bcdedit /enum INHERIT", [out("Global Settings")]),
        ("bcdedit /enum {dbgsettings} /v",
         [out("identifier              {4636856e-540f-4170-a130-a84776f4c654}")]),
        ("bcdedit /enum all /v", [out("{a5a30fa2-3d06-4e9f-b5f4-a01df9d1fcba}")]),
        ("bcdedit /enum {globalsettings}", [out("Global Settings")]),
        ("bcdedit /enum {bootloadersettings}", [out("Boot Loader Settings")]),
        ("bcdedit /enum {resumeloadersettings}", [out("Resume Loader Settings")]),
        ("bcdedit /enum {badmemory}", [out("RAM Defects")]),
        ("bcdedit /enum {memdiag}", [out("Windows Memory Tester")]),
        ("bcdedit /enum {emssettings}", [out("EMS Settings")]),
        ("bcdedit /enum {hypervisorsettings}", [out("Hypervisor Settings")]),
        ("bcdedit /enum {fwbootmgr}", [out("Firmware Boot Manager")]),
        ("bcdedit /enum {ramdiskoptions}", [exit_(NOT_FOUND, "reference the specified entry")]),
        ("bcdedit /enum {ntldr}", [exit_(NOT_FOUND, "reference the specified entry")]),
    ]),
    Page(DEVTEST + "adding-boot-entries", BIOS, [
        ('bcdedit /copy {current} /d "DebugEntry"',
         [out("The entry was successfully copied to {")]),
        ("bcdedit /displayorder {current} {guid}",
         [set_(BOOTMGR, 0x24000001, strings(D, "{new}"))]),
        ('bcdedit /create /d "My Windows Vista" /application osloader',
         [out("was successfully created."), obj("{new}", OSLOADER)]),
        ("bcdedit /displayorder {guid} /addlast", []),
        ("bcdedit /displayorder {guid} /remove", []),
        ("bcdedit /delete {guid}", [obj("{new}", None)]),
        ("bcdedit", [out("Windows Boot Manager"), out("displayorder            {default}")]),
    ]),
    Page(DEVTEST + "changing-the-friendly-name-of-a-boot-entry", BIOS, [
        ('bcdedit /set {current} description "Debug Windows 10"',
         [set_(D, 0x12000004, string("Debug Windows 10"))]),
        ('bcdedit /set {default} description "My Windows 10"',
         [set_(D, 0x12000004, string("My Windows 10"))]),
    ]),
    Page(DEVTEST + "changing-the-default-boot-entry", BIOS, [
        *[(line, []) for line in DOC_ENTRIES[:1]],
        (f"bcdedit /default {G49}", [set_(BOOTMGR, 0x23000003, string(G49))]),
        ("bcdedit /set {bootmgr} default {current}", [set_(BOOTMGR, 0x23000003, string(G49))]),
    ]),
    Page(DEVTEST + "changing-the-boot-menu-time-out", BIOS, [
        ("bcdedit /timeout 15", [set_(BOOTMGR, 0x25000004, integer(15))]),
        ("bcdedit /set {bootmgr} timeout 5", [set_(BOOTMGR, 0x25000004, integer(5))]),
    ]),
    Page(DEVTEST + "boot-parameters-to-test-drivers-for-multiple-processor-group-support",
         INSTALLED, [
             ("bcdedit /set groupsize 2", [set_(D, 0x25000066, integer(2))]),
             ("bcdedit /set groupaware on", [set_(D, 0x26000065, YES)]),
             ("bcdedit /set maxgroup on", [set_(D, 0x26000064, YES)]),
             ("bcdedit /deletevalue groupsize", [gone(D, 0x25000066)]),
             ("bcdedit /deletevalue groupaware", [gone(D, 0x26000065)]),
         ]),
    Page(DEVTEST + "boot-parameters-to-manipulate-memory", INSTALLED, [
        ("bcdedit /set {current} truncatememory 0x40000000",
         [set_(D, 0x15000007, integer(0x40000000))]),
        ("bcdedit /set {current} truncatememory 1073741824",
         [set_(D, 0x15000007, integer(1073741824))]),
        ("bcdedit /set {current} removememory 256", [set_(D, 0x25000031, integer(256))]),
        ("bcdedit /set {badmemory} badmemorylist 0x125A0D 0x125A0E",
         [set_("{badmemory}", 0x1700000A, integer(0x125A0D) + integer(0x125A0E))]),
        ("bcdedit /set {badmemory} badmemoryaccess no",
         [set_("{badmemory}", 0x1600000B, NO)]),
        ("bcdedit /deletevalue {badmemory} badmemorylist", [gone("{badmemory}", 0x1700000A)]),
    ]),
    Page(DEVTEST + "boot-parameters-to-configure-dep-and-pae", INSTALLED, [
        ("bcdedit /set nx AlwaysOff", [set_(D, 0x25000020, integer(2))]),
        ("bcdedit /set pae ForceEnable", [set_(D, 0x25000021, integer(1))]),
        ("bcdedit /set {current} nx OptOut", [set_(D, 0x25000020, integer(1))]),
        ("bcdedit /set {current} increaseuserva 2800", [set_(D, 0x25000032, integer(2800))]),
    ]),
    Page(DEVTEST + "using-boot-parameters", INSTALLED, [
        ("bcdedit /set {current} safeboot minimal", [set_(D, 0x25000080, integer(0))]),
        ("bcdedit /set {current} safeboot network", [set_(D, 0x25000080, integer(1))]),
        ("bcdedit /set {current} safeboot dsrepair", [set_(D, 0x25000080, integer(2))]),
        ("bcdedit /set {current} safebootalternateshell yes", [set_(D, 0x26000081, YES)]),
        ("bcdedit /deletevalue {current} safeboot", [gone(D, 0x25000080)]),
        ("bcdedit /deletevalue {current} safebootalternateshell", [gone(D, 0x26000081)]),
        ("bcdedit /set {current} numproc 2", [set_(D, 0x25000061, integer(2))]),
        ("bcdedit /set {current} sos on", [set_(D, 0x26000091, YES)]),
        ("bcdedit /set {current} bootlog yes", [set_(D, 0x26000090, YES)]),
        ("bcdedit /set {current} quietboot yes", [set_(D, 0x26000041, YES)]),
        ("bcdedit /set {current} vsmlaunchtype off", [set_(D, 0x25000142, integer(0))]),
        ("bcdedit /set {current} vsmlaunchtype auto", [set_(D, 0x25000142, integer(1))]),
        ("bcdedit /set {current} isolatedcontext no", [set_(D, 0x16000060, NO)]),
        ("bcdedit /set {current} allowedinmemorysettings 0x15000075",
         [set_(D, 0x17000077, integer(0x15000075))]),
        ("bcdedit /set {current} hypervisorlaunchtype off", [set_(D, 0x250000F0, integer(0))]),
        ("bcdedit /set {globalsettings} advancedoptions true",
         [set_("{globalsettings}", 0x16000040, YES)]),
        ("bcdedit /set {bootmgr} displaybootmenu yes", [set_(BOOTMGR, 0x26000020, YES)]),
        ("bcdedit /set {default} bootstatuspolicy ignoreallfailures",
         [set_(D, 0x250000E0, integer(1))]),
        ("bcdedit /set {default} recoveryenabled No", [set_(D, 0x16000009, NO)]),
        ("bcdedit /set {bootmgr} flightsigning on", [set_(BOOTMGR, 0x1600007E, YES)]),
        ("bcdedit /set flightsigning on", [set_(D, 0x1600007E, YES)]),
        ("bcdedit /set {current} custom:250000c2 0", [set_(D, 0x250000C2, integer(0))]),
    ]),
    # --- Azure offline repair (the pages bcdtool exists for) -----------------------------------
    Page("https://learn.microsoft.com/troubleshoot/azure/virtual-machines/windows/"
         "serial-console-windows", BIOS, [
             ("bcdedit /store F:\\boot\\bcd /set {bootmgr} displaybootmenu yes",
              [set_(BOOTMGR, 0x26000020, YES)]),
             ("bcdedit /store F:\\boot\\bcd /set {bootmgr} timeout 5",
              [set_(BOOTMGR, 0x25000004, integer(5))]),
             ("bcdedit /store F:\\boot\\bcd /set {bootmgr} bootems yes",
              [set_(BOOTMGR, 0x16000020, YES)]),
             ("bcdedit /store F:\\boot\\bcd /ems {default} ON", [set_(D, 0x260000B0, YES)]),
             ("bcdedit /store F:\\boot\\bcd /emssettings EMSPORT:1 EMSBAUDRATE:115200",
              [set_(EMS, 0x15000022, integer(1)), set_(EMS, 0x15000023, integer(115200))]),
             ('bcdedit /store F:\\boot\\bcd /ems "{default}" OFF', [set_(D, 0x260000B0, NO)]),
             ('bcdedit /store F:\\boot\\bcd /set "{bootmgr}" bootems no',
              [set_(BOOTMGR, 0x16000020, NO)]),
             ("bcdedit /store F:\\boot\\bcd /enum", [out("bootems                 No")]),
             ("bcdedit /store F:\\boot\\bcd /set {default} recoveryenabled Off",
              [set_(D, 0x16000009, NO)]),
             ("bcdedit /store F:\\boot\\bcd /set {default} bootstatuspolicy IgnoreAllFailures",
              [set_(D, 0x250000E0, integer(1))]),
             ("bcdedit /store F:\\boot\\bcd /set {default} safeboot minimal",
              [set_(D, 0x25000080, integer(0))]),
             ("bcdedit /store F:\\boot\\bcd /deletevalue {default} safeboot",
              [gone(D, 0x25000080)]),
             ("bcdedit /store F:\\boot\\bcd /set {default} nointegritychecks off",
              [set_(D, 0x16000048, NO)]),
             ("bcdedit /store F:\\boot\\bcd /set {default} testsigning off",
              [set_(D, 0x16000049, NO)]),
             ("bcdedit /store F:\\boot\\bcd /set {bootmgr} device partition=F:",
              [exit_(UNSUPPORTED, "disk")]),
             ("bcdedit /store F:\\boot\\bcd /set {default} osdevice partition=F:",
              [exit_(UNSUPPORTED, "disk")]),
             ("bcdedit /store F:\\boot\\bcd /set {default} device partition=F:",
              [exit_(UNSUPPORTED, "disk")]),
             ("bcdedit /store F:\\boot\\bcd /set {bootmgr} integrityservices disable",
              [set_(BOOTMGR, 0x1500004B, integer(2))]),
             ("bcdedit /store F:\\boot\\bcd /enum /v",
              [out("{9dea862c-5cdd-4e70-acc1-f32b344d4795}")]),
         ]),
    # --- WinPE: PXE and RAM disk stores ---------------------------------------------------------
    Page("https://learn.microsoft.com/windows/deployment/configure-a-pxe-server-to-load-windows-pe",
         NEW, [
             ('bcdedit.exe /store c:\\BCD /create {ramdiskoptions} /d "Ramdisk options"',
              [obj("{ramdiskoptions}", DEVICE_OPTIONS),
               set_("{ramdiskoptions}", 0x12000004, string("Ramdisk options"))]),
             ("bcdedit.exe /store c:\\BCD /set {ramdiskoptions} ramdisksdidevice boot",
              [set_("{ramdiskoptions}", 0x31000003,
                    bytes(16) + bytes.fromhex("05000000000000004800000000000000") + bytes(56))]),
             ("bcdedit.exe /store c:\\BCD /set {ramdiskoptions} ramdisksdipath \\Boot\\boot.sdi",
              [set_("{ramdiskoptions}", 0x32000004, string("\\Boot\\boot.sdi"))]),
             ('bcdedit.exe /store c:\\BCD /create /d "winpe boot image" /application osloader',
              [obj("{new}", OSLOADER), set_("{new}", 0x12000004, string("winpe boot image"))]),
             ("bcdedit.exe /store c:\\BCD /set {GUID1} device "
              "ramdisk=[boot]\\Boot\\boot.wim,{ramdiskoptions}",
              [contains("{new}", 0x11000001, WIM, RAMDISKOPTIONS)]),
             ("bcdedit.exe /store c:\\BCD /set {GUID1} path \\windows\\system32\\winload.exe",
              [set_("{new}", 0x12000002, string("\\windows\\system32\\winload.exe"))]),
             ("bcdedit.exe /store c:\\BCD /set {GUID1} osdevice "
              "ramdisk=[boot]\\Boot\\boot.wim,{ramdiskoptions}",
              [contains("{new}", 0x21000001, WIM, RAMDISKOPTIONS)]),
             ("bcdedit.exe /store c:\\BCD /set {GUID1} systemroot \\windows",
              [set_("{new}", 0x22000002, string("\\windows"))]),
             ("bcdedit.exe /store c:\\BCD /set {GUID1} detecthal Yes",
              [set_("{new}", 0x26000010, YES)]),
             ("bcdedit.exe /store c:\\BCD /set {GUID1} winpe Yes",
              [set_("{new}", 0x26000022, YES)]),
             ('bcdedit.exe /store c:\\BCD /create {bootmgr} /d "boot manager"',
              [obj(BOOTMGR, BOOTMGR_TYPE), set_(BOOTMGR, 0x12000004, string("boot manager"))]),
             ("bcdedit.exe /store c:\\BCD /set {bootmgr} timeout 30",
              [set_(BOOTMGR, 0x25000004, integer(30))]),
             ("bcdedit.exe /store c:\\BCD -displayorder {GUID1} -addlast",
              [set_(BOOTMGR, 0x24000001, strings("{new}"))]),
             ("bcdedit.exe /store C:\\BCD /enum all",
              [out("Setup Ramdisk Options"), out("ramdisksdipath          \\Boot\\boot.sdi"),
               out("device                  ramdisk=[boot]\\Boot\\boot.wim,{ramdiskoptions}"),
               out("winpe                   Yes")]),
         ]),
    Page("https://learn.microsoft.com/windows-hardware/manufacture/desktop/"
         "boot-to-vhd--native-boot--add-a-virtual-hard-disk-to-the-boot-menu", BIOS, [
             ('bcdedit /copy {default} /d "vhd boot (locate)"',
              [out("The entry was successfully copied to {")]),
             ("bcdedit /set {guid} device vhd=[locate]\\windows.vhdx",
              [contains("{new}", 0x11000001, string("\\windows.vhdx"))]),
             ("bcdedit /set {guid} osdevice vhd=[locate]\\windows.vhdx",
              [contains("{new}", 0x21000001, string("\\windows.vhdx"))]),
             ("bcdedit /set {guid} detecthal on", [set_("{new}", 0x26000010, YES)]),
             ("bcdedit /set {guid} device vhd=[C:]\\windows.vhdx", [exit_(UNSUPPORTED, "disk")]),
             ("bcdedit /default {guid}", [set_(BOOTMGR, 0x23000003, string("{new}"))]),
             ("bcdedit", [out("vhd=[locate]\\windows.vhdx")]),
         ]),
    Page("https://learn.microsoft.com/azure-stack/asdk/asdk-prepare-host", BIOS, [
        ('bcdedit /copy {current} /d "Azure Stack"', [out("successfully copied")]),
        ("bcdedit /set {CLSID} device vhd=[C:]\\CloudBuilder.vhdx",
         [exit_(UNSUPPORTED, "disk")]),
        ("bcdedit /set {CLSID} detecthal on", [set_("{new}", 0x26000010, YES)]),
        ("bcdedit /default {CLSID}", [set_(BOOTMGR, 0x23000003, string("{new}"))]),
    ]),
    # --- Credential Guard / Device Guard opt-out (the SecConfig.efi procedure) ------------------
    Page("https://learn.microsoft.com/windows/security/identity-protection/credential-guard/"
         "configure", INSTALLED, [
             (f'bcdedit /create {SECCONFIG} /d "DebugTool" /application osloader',
              [obj(SECCONFIG, OSLOADER), set_(SECCONFIG, 0x12000004, string("DebugTool"))]),
             (f'bcdedit /set {SECCONFIG} path "\\EFI\\Microsoft\\Boot\\SecConfig.efi"',
              [set_(SECCONFIG, 0x12000002, string("\\EFI\\Microsoft\\Boot\\SecConfig.efi"))]),
             (f"bcdedit /set {{bootmgr}} bootsequence {SECCONFIG}",
              [set_(BOOTMGR, 0x24000002, strings(SECCONFIG))]),
             (f"bcdedit /set {SECCONFIG} loadoptions DISABLE-LSA-ISO",
              [set_(SECCONFIG, 0x12000030, string("DISABLE-LSA-ISO"))]),
             (f"bcdedit /set {SECCONFIG} loadoptions DISABLE-LSA-ISO,DISABLE-VBS",
              [set_(SECCONFIG, 0x12000030, string("DISABLE-LSA-ISO,DISABLE-VBS"))]),
             (f"bcdedit /set {SECCONFIG} device partition=X:", [exit_(UNSUPPORTED, "disk")]),
             ("bcdedit /set vsmlaunchtype off", [set_(D, 0x25000142, integer(0))]),
             ("bcdedit /set {fwbootmgr} displayorder {bootmgr} /addfirst", [
                 contains(FW, 0x24000001, string("{9dea862c-5cdd-4e70-acc1-f32b344d4795}"),
                          at=0)]),
         ]),
    # --- bcdedit's own help (bcdedit /? /set, /? FORMATS): devices --------------------------------
    Page("bcdedit.exe /? /set and /? FORMATS (the help text Windows ships)", BIOS, [
        *[(line, []) for line in DOC_ENTRIES[1:2]],
        (f"bcdedit /set {GCB} device partition=C:", [exit_(UNSUPPORTED, "disk")]),
        (f"bcdedit /set {GCB} osdevice vhd=[C:]\\vdisks\\disk01.vhd",
         [exit_(UNSUPPORTED, "disk")]),
        (f"bcdedit /set {GCB} path \\windows\\system32\\winload.exe",
         [set_(GCB, 0x12000002, string("\\windows\\system32\\winload.exe"))]),
        ("bcdedit /set nx optin", [set_(D, 0x25000020, integer(0))]),
        ("bcdedit /set {current} osdevice partition=C:", [exit_(UNSUPPORTED, "disk")]),
        ("bcdedit /set {current} device partition=C:", [exit_(UNSUPPORTED, "disk")]),
        ("bcdedit /set {current} device hd_partition=C:", [exit_(UNSUPPORTED, "disk")]),
        ("bcdedit /set {default} device ramdisk=[C:]\\sources\\boot.wim,{ramdiskoptions}",
         [exit_(UNSUPPORTED, "disk")]),
        ("bcdedit /set {default} device ramdisk=[boot]\\sources\\boot.wim,{ramdiskoptions}",
         [contains(D, 0x11000001, string("\\sources\\boot.wim"), RAMDISKOPTIONS)]),
        ("bcdedit /set {default} osdevice ramdisk=[locate]\\sources\\boot.wim,{ramdiskoptions}",
         [contains(D, 0x21000001, string("\\sources\\boot.wim"), RAMDISKOPTIONS)]),
        ("bcdedit /set {default} device boot",
         [set_(D, 0x11000001, bytes(16) + bytes.fromhex("05000000000000004800000000000000")
               + bytes(56))]),
        ("bcdedit /set {default} osdevice locate=\\Windows\\system32\\winload.exe",
         [contains(D, 0x21000001, string("\\Windows\\system32\\winload.exe"))]),
        # bare locate: the bytes of Windows 8.1's corpus store whose every device is locate
        # (win81-bios-installed-sysreserved.bcd): search for the entry's path, 12000002
        ("bcdedit /set {default} device locate",
         [set_(D, 0x11000001, bytes.fromhex("00" * 16 + "08000000000000001e00000000000000"
                                            "0000000002000012000000000000"))]),
        (f"bcdedit /set {GCB} device file=[boot]\\EFI\\tool.efi",
         [contains(GCB, 0x11000001, string("\\EFI\\tool.efi"))]),
        ("bcdedit /set {default} custom:26000010 yes", [set_(D, 0x26000010, YES)]),
        ("bcdedit /set {bootmgr} custom:26000020 no", [set_(BOOTMGR, 0x26000020, NO)]),
        ("bcdedit /set {default} nosuchelement 1", [exit_(ELEMENT, "not recognized")]),
        ("bcdedit /set {default} testsign on", [exit_(ELEMENT, "Did you mean testsigning")]),
        ("bcdedit /set {bootmgr} ems on", [exit_(ELEMENT, "osloader")]),
        ("bcdedit /sett {default} nx optin", [exit_(ARGUMENT, "did you mean /set")]),
        ("bcdedit /enum firmwar", [exit_(IDENT, "did you mean FIRMWARE")]),
        ("bcdedit /set {default} nx Sometimes", [exit_(ARGUMENT, "OptIn")]),
        ("bcdedit /set {nonsense} nx OptIn", [exit_(IDENT, "not valid")]),
    ]),
    # --- whole stores ---------------------------------------------------------------------------
    Page("https://learn.microsoft.com/windows-hardware/manufacture/desktop/"
         "bcdedit-command-line-options", BIOS, [
             ("bcdedit /export C:\\Data\\BCDBackup", [exit_(ARGUMENT, "Windows path")]),
             ("bcdedit /import C:\\Data\\BCDBackup", [exit_(ARGUMENT, "Windows path")]),
             ("bcdedit /createstore C:\\Data\\BCD", [exit_(ARGUMENT, "Windows path")]),
             ("bcdedit /sysstore C:", [exit_(LIVE, "live Windows")]),
             ("bcdedit /set {bootmgr} flightsigning on", [set_(BOOTMGR, 0x1600007E, YES)]),
             ("bcdedit /set flightsigning on", [set_(D, 0x1600007E, YES)]),
             ("bcdedit /mirror {default}", [out("successfully copied")]),
             ("bcdedit /deletevalue {bootmgr} toolsdisplayorder", [gone(BOOTMGR, 0x24000010)]),
             ("bcdedit /delete {memdiag}", [exit_(BCD, "/f")]),
             ("bcdedit /delete {memdiag} /f", [obj("{memdiag}", None)]),
             ("bcdedit /create {memdiag}", [obj("{memdiag}", 0x10200005)]),
             ('bcdedit /create /d "CDROM options" /device',
              [obj("{new}", DEVICE_OPTIONS), out("was successfully created.")]),
             ('bcdedit /create /d "Loader settings" /inherit osloader',
              [obj("{new}", 0x20200003)]),
             ("bcdedit /create {dbgsettings}", [exit_(BCD, "already exists")]),
             ("bcdedit /?", [out("/store")]),
             ("bcdedit /? topics", [out("FORMATS")]),
             ("bcdedit /? ID", [out("{bootmgr}")]),
             ("bcdedit /? TYPES OSLOADER", [out("bootmenupolicy")]),
             ("bcdedit /? FORMATS", [out("partition=")]),
             ("bcdedit /? /createstore", [out("/createstore")]),
             ("bcdedit /? set", [out("/set")]),
         ]),
]


def line_count() -> int:
    """How many documented lines the table holds."""
    return sum(len(page.steps) for page in PAGES)
