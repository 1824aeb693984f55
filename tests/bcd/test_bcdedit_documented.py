"""Every documented bcdedit command-line form, table-driven (Microsoft's pages BCDEdit /set,
/dbgsettings, /hypervisorsettings, /bootsequence, /displayorder, /timeout, /emssettings,
/eventsettings, /copy, /create, /delete, /import, /sysstore and the boot options reference).

Each form either works as bcdedit does — the element it writes is read back with python-registry
(never our reader) and must be the registry type and bytes Windows writes (booleans one byte,
integers eight, strings UTF-16 with one NUL, lists REG_MULTI_SZ; cross-checked against every
corpus store that holds the same element) — or is refused with one line, its own exit code and
a next step.  Every row writes: the element is removed first when the store already has it."""

from __future__ import annotations

import io
import shlex
import shutil

import pytest
from Registry import Registry

from bcdtool.bcd import bcdedit as be
from bcdtool.bcd import enum
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import (BcdError, ElementError, InvalidArgumentError, InvalidIdentifierError,
                            LiveSystemError, NotFoundError, UnsupportedError)
from bcdtool.regf.hive import Hive
from tests.bcd._corpus import corpus_stores, registry_elements
from tests.helpers.common import run_cli, sha

STORE = "win10-bios-installed-sysreserved.bcd"
LOADER = "{99066a2d-6dcc-11eb-9378-f32123128c9c}"     # the store's {default}
BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
GLOBAL = "{7ea2e1ac-2e61-4728-aaa3-896d9d0a9f0e}"
DBG = "{4636856e-540f-4170-a130-a84776f4c654}"
EMS = "{0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9}"
BADMEM = "{5189b25c-5558-4bf2-bca4-289b11bd29e2}"
MEMDIAG = "{b2721d73-1db4-4c62-bf78-c548a880142d}"
RESUMESET = "{1afa9c49-16ab-4a5c-901b-212802da9460}"
RAMOPTS = "{c77a2612-6d5b-11eb-9ff2-e9f459e1e131}"   # WinRE's ramdisk options
HV = "{7ff607e0-4395-11db-b0de-0800200c9a66}"
WINRE = "{c77a2611-6d5b-11eb-9ff2-e9f459e1e131}"
REG_SZ, REG_BINARY, REG_MULTI_SZ = 1, 3, 7


def B(value: bool) -> tuple[int, bytes]:
    """A boolean as bcdedit writes it: REG_BINARY, one byte."""
    return REG_BINARY, bytes([value])


def I(value: int) -> tuple[int, bytes]:  # noqa: E743 (the table reads better with B/I/S)
    """An integer as bcdedit writes it: REG_BINARY, eight bytes little-endian."""
    return REG_BINARY, value.to_bytes(8, "little")


def S(text: str) -> tuple[int, bytes]:
    """A string or object as bcdedit writes it: REG_SZ, UTF-16LE and one NUL."""
    return REG_SZ, (text + "\0").encode("utf-16-le")


def L(*items: str) -> tuple[int, bytes]:
    """An object list: REG_MULTI_SZ, each item and a closing empty one."""
    return REG_MULTI_SZ, ("".join(i + "\0" for i in items) + "\0").encode("utf-16-le")


#: (command line as documented, object written, element code, registry type and bytes)
SETS = [
    ('/set {default} bootlog yes', LOADER, 0x26000090, B(True)),
    ('/set bootlog no', LOADER, 0x26000090, B(False)),
    ('/set {default} bootmenupolicy legacy', LOADER, 0x250000c2, I(0x0)),
    ('/set {default} bootmenupolicy Standard', LOADER, 0x250000c2, I(0x1)),
    ('/set {default} bootstatuspolicy IgnoreAllFailures', LOADER, 0x250000e0, I(0x1)),
    ('/set {default} bootstatuspolicy DisplayAllFailures', LOADER, 0x250000e0, I(0x0)),
    ('/set {default} bootstatuspolicy IgnoreShutdownFailures', LOADER, 0x250000e0, I(0x2)),
    ('/set {default} bootstatuspolicy IgnoreBootFailures', LOADER, 0x250000e0, I(0x3)),
    ('/set {default} bootstatuspolicy IgnoreCheckpointFailures', LOADER, 0x250000e0, I(0x4)),
    ('/set {default} bootstatuspolicy DisplayShutdownFailures', LOADER, 0x250000e0, I(0x5)),
    ('/set {default} bootstatuspolicy DisplayBootFailures', LOADER, 0x250000e0, I(0x6)),
    ('/set {default} bootstatuspolicy DisplayCheckpointFailures', LOADER, 0x250000e0, I(0x7)),
    ('/set {default} bootux disabled', LOADER, 0x250000f7, I(0x0)),
    ('/set {default} bootux basic', LOADER, 0x250000f7, I(0x1)),
    ('/set {default} bootux standard', LOADER, 0x250000f7, I(0x2)),
    ('/set {default} disabledynamictick yes', LOADER, 0x260000a5, B(True)),
    ('/set {default} disableelamdrivers yes', LOADER, 0x260000e1, B(True)),
    ('/set {default} forcelegacyplatform yes', LOADER, 0x260000a3, B(True)),
    ('/set {default} groupsize 2', LOADER, 0x25000066, I(0x2)),
    ('/set {default} groupaware on', LOADER, 0x26000065, B(True)),
    ('/set {default} hypervisordebug on', LOADER, 0x260000f2, B(True)),
    ('/set {default} hypervisordebugtype serial', LOADER, 0x250000f3, I(0x0)),
    ('/set {default} hypervisordebugtype 1394', LOADER, 0x250000f3, I(0x1)),
    ('/set {default} hypervisordebugtype net', LOADER, 0x250000f3, I(0x3)),
    ('/set {default} hypervisordebugport 1', LOADER, 0x250000f4, I(0x1)),
    ('/set {default} hypervisorbaudrate 115200', LOADER, 0x250000f5, I(0x1c200)),
    ('/set {default} hypervisorchannel 23', LOADER, 0x250000f6, I(0x17)),
    ('/set {default} hypervisorhostip 192.168.1.2', LOADER, 0x250000fd, I(0x201a8c0)),
    ('/set {default} hypervisorhostport 50000', LOADER, 0x250000fe, I(0xc350)),
    ('/set {default} hypervisordhcp no', LOADER, 0x26000114, B(False)),
    ('/set {default} hypervisoriommupolicy enable', LOADER, 0x25000115, I(0x1)),
    ('/set {default} hypervisoriommupolicy disable', LOADER, 0x25000115, I(0x2)),
    ('/set {default} hypervisoriommupolicy default', LOADER, 0x25000115, I(0x0)),
    ('/set {default} hypervisorlaunchtype auto', LOADER, 0x250000f0, I(0x1)),
    ('/set {default} hypervisorlaunchtype Off', LOADER, 0x250000f0, I(0x0)),
    ('/set hypervisorlaunchtype off', LOADER, 0x250000f0, I(0x0)),
    ('/set {default} hypervisornumproc 4', LOADER, 0x250000fa, I(0x4)),
    ('/set {default} hypervisorrootproc 2', LOADER, 0x25000113, I(0x2)),
    ('/set {default} hypervisorrootprocpernode 1', LOADER, 0x250000fb, I(0x1)),
    ('/set {default} hypervisoruselargevtlb yes', LOADER, 0x260000fc, B(True)),
    ('/set {default} hypervisorschedulertype core', LOADER, 0x2500011a, I(0x3)),
    ('/set {default} hypervisorschedulertype classic', LOADER, 0x2500011a, I(0x1)),
    ('/set {default} hypervisorschedulertype root', LOADER, 0x2500011a, I(0x4)),
    ('/set {default} hypervisordisableslat yes', LOADER, 0x260000f8, B(True)),
    ('/set {hypervisorsettings} hypervisordebugtype serial', HV, 0x250000f3, I(0x0)),
    ('/set {hypervisorsettings} hypervisorbaudrate 115200', HV, 0x250000f5, I(0x1c200)),
    ('/set {default} increaseuserva 3072', LOADER, 0x25000032, I(0xc00)),
    ('/set {default} maxgroup on', LOADER, 0x26000064, B(True)),
    ('/set {default} nointegritychecks on', LOADER, 0x16000048, B(True)),
    ('/set nointegritychecks off', LOADER, 0x16000048, B(False)),
    ('/set {default} nolowmem on', LOADER, 0x26000030, B(True)),
    ('/set {default} novesa on', LOADER, 0x26000042, B(True)),
    ('/set {default} novga on', LOADER, 0x26000043, B(True)),
    ('/set {default} vga on', LOADER, 0x26000040, B(True)),
    ('/set {default} nx OptIn', LOADER, 0x25000020, I(0x0)),
    ('/set {default} nx OptOut', LOADER, 0x25000020, I(0x1)),
    ('/set {default} nx AlwaysOn', LOADER, 0x25000020, I(0x3)),
    ('/set {default} nx AlwaysOff', LOADER, 0x25000020, I(0x2)),
    ('/set {default} onecpu on', LOADER, 0x26000060, B(True)),
    ('/set {default} pae Default', LOADER, 0x25000021, I(0x0)),
    ('/set {default} pae ForceEnable', LOADER, 0x25000021, I(0x1)),
    ('/set {default} pae ForceDisable', LOADER, 0x25000021, I(0x2)),
    ('/set {default} pciexpress default', LOADER, 0x25000072, I(0x0)),
    ('/set {default} pciexpress forcedisable', LOADER, 0x25000072, I(0x1)),
    ('/set {default} quietboot on', LOADER, 0x26000041, B(True)),
    ('/set {default} removememory 1536', LOADER, 0x25000031, I(0x600)),
    ('/set {default} sos on', LOADER, 0x26000091, B(True)),
    ('/set sos off', LOADER, 0x26000091, B(False)),
    ('/set {default} testsigning on', LOADER, 0x16000049, B(True)),
    ('/set testsigning off', LOADER, 0x16000049, B(False)),
    ('/set TESTSIGNING ON', LOADER, 0x16000049, B(True)),
    ('/set {default} tpmbootentropy default', LOADER, 0x25000100, I(0x0)),
    ('/set {default} tpmbootentropy ForceDisable', LOADER, 0x25000100, I(0x1)),
    ('/set {default} tpmbootentropy ForceEnable', LOADER, 0x25000100, I(0x2)),
    ('/set {default} truncatememory 0x40000000', LOADER, 0x15000007, I(0x40000000)),
    ('/set {default} truncatememory 1073741824', LOADER, 0x15000007, I(0x40000000)),
    ('/set {default} tscsyncpolicy Default', LOADER, 0x250000a6, I(0x0)),
    ('/set {default} tscsyncpolicy Legacy', LOADER, 0x250000a6, I(0x1)),
    ('/set {default} tscsyncpolicy Enhanced', LOADER, 0x250000a6, I(0x2)),
    ('/set {default} usefirmwarepcisettings yes', LOADER, 0x26000070, B(True)),
    ('/set {default} uselegacyapicmode yes', LOADER, 0x26000054, B(True)),
    ('/set {default} usephysicaldestination yes', LOADER, 0x26000051, B(True)),
    ('/set {default} useplatformclock true', LOADER, 0x260000a2, B(True)),
    ('/set useplatformclock false', LOADER, 0x260000a2, B(False)),
    ('/set {default} useplatformtick yes', LOADER, 0x260000a4, B(True)),
    ('/set {default} vm yes', LOADER, 0x1600001e, B(True)),
    ('/set {default} vsmlaunchtype off', LOADER, 0x25000142, I(0x0)),
    ('/set {default} vsmlaunchtype auto', LOADER, 0x25000142, I(0x1)),
    ('/set {default} x2apicpolicy enable', LOADER, 0x25000055, I(0x2)),
    ('/set {default} x2apicpolicy disable', LOADER, 0x25000055, I(0x1)),
    ('/set {default} xsavedisable 1', LOADER, 0x2500012b, I(0x1)),
    ('/set {default} numproc 2', LOADER, 0x25000061, I(0x2)),
    ('/set numproc 1', LOADER, 0x25000061, I(0x1)),
    ('/set {default} configaccesspolicy Default', LOADER, 0x15000047, I(0x0)),
    ('/set {default} configaccesspolicy DisallowMmConfig', LOADER, 0x15000047, I(0x1)),
    ('/set {default} firstmegabytepolicy UseNone', LOADER, 0x1500000c, I(0x0)),
    ('/set {default} firstmegabytepolicy UseAll', LOADER, 0x1500000c, I(0x1)),
    ('/set {default} firstmegabytepolicy UsePrivate', LOADER, 0x1500000c, I(0x2)),
    ('/set {default} msi Default', LOADER, 0x25000071, I(0x0)),
    ('/set {default} msi ForceDisable', LOADER, 0x25000071, I(0x1)),
    ('/set {default} halbreakpoint yes', LOADER, 0x260000a1, B(True)),
    ('/set {default} safeboot minimal', LOADER, 0x25000080, I(0x0)),
    ('/set {default} safeboot network', LOADER, 0x25000080, I(0x1)),
    ('/set {default} safeboot dsrepair', LOADER, 0x25000080, I(0x2)),
    ('/set safeboot Minimal', LOADER, 0x25000080, I(0x0)),
    ('/set {default} safebootalternateshell yes', LOADER, 0x26000081, B(True)),
    ('/set {default} recoveryenabled No', LOADER, 0x16000009, B(False)),
    ('/set {current} recoveryenabled no', LOADER, 0x16000009, B(False)),
    ('/set {default} bootstatuspolicy ignoreallfailures', LOADER, 0x250000e0, I(0x1)),
    ('/set {default} debug on', LOADER, 0x260000a0, B(True)),
    ('/set {default} debugtype serial', LOADER, 0x15000011, I(0x0)),
    ('/set {default} debugport 1', LOADER, 0x15000013, I(0x1)),
    ('/set {default} baudrate 115200', LOADER, 0x15000014, I(0x1c200)),
    ('/set {default} bootdebug on', LOADER, 0x16000010, B(True)),
    ('/set {default} ems on', LOADER, 0x260000b0, B(True)),
    ('/set {default} event on', LOADER, 0x26000141, B(True)),
    ('/set {default} perfmem 16', LOADER, 0x25000033, I(0x10)),
    ('/set {default} clustermodeaddressing 2', LOADER, 0x25000050, I(0x2)),
    ('/set {default} restrictapiccluster 2', LOADER, 0x25000052, I(0x2)),
    ('/set {default} nocrashautoreboot yes', LOADER, 0x26000024, B(True)),
    ('/set {default} lastknowngood yes', LOADER, 0x26000025, B(True)),
    ('/set {default} stampdisks yes', LOADER, 0x26000004, B(True)),
    ('/set {default} winpe yes', LOADER, 0x26000022, B(True)),
    ('/set {default} detecthal yes', LOADER, 0x26000010, B(True)),
    ('/set {default} maxproc yes', LOADER, 0x26000062, B(True)),
    ('/set {default} driverloadfailurepolicy UseErrorControl', LOADER, 0x250000c1, I(0x1)),
    ('/set {default} driverloadfailurepolicy Fatal', LOADER, 0x250000c1, I(0x0)),
    ('/set {default} bootlog yes', LOADER, 0x26000090, B(True)),
    ('/set {default} linearaddress57 OptOut', LOADER, 0x15000088, I(0x1)),
    ('/set {default} linearaddress57 OptIn', LOADER, 0x15000088, I(0x2)),
    ('/set {default} isolatedcontext yes', LOADER, 0x16000060, B(True)),
    ('/set {default} hypervisorenforcedcodeintegrity Enable', LOADER, 0x25000144, I(0x1)),
    ('/set {default} claimedtpmcounter 0x1', LOADER, 0x25000130, I(0x1)),
    ('/set {default} kerneldebugtype serial', LOADER, 0x2500012c, I(0x0)),
    ('/set {default} kernelbaudrate 115200', LOADER, 0x25000139, I(0x1c200)),
    ('/set {default} kerneldebugport 1', LOADER, 0x2500012f, I(0x1)),
    ('/set {default} sos yes', LOADER, 0x26000091, B(True)),
    ('/set {default} xsavepolicy 1', LOADER, 0x25000120, I(0x1)),
    ('/set {default} custom:16000069 true', LOADER, 0x16000069, B(True)),
    ('/set {globalsettings} custom:16000069 true', GLOBAL, 0x16000069, B(True)),
    ('/set {globalsettings} custom:16000067 true', GLOBAL, 0x16000067, B(True)),
    ('/set {globalsettings} custom:16000068 true', GLOBAL, 0x16000068, B(True)),
    ('/set {default} custom:250000c2 1', LOADER, 0x250000c2, I(0x1)),
    ('/set {default} custom:0x250000c2 1', LOADER, 0x250000c2, I(0x1)),
    ('/set {default} 250000c2 1', LOADER, 0x250000c2, I(0x1)),
    ('/set {default} 0x250000c2 1', LOADER, 0x250000c2, I(0x1)),
    ('/set {default} allowedinmemorysettings 0x15000075', LOADER, 0x17000077, I(0x15000075)),
    ('/set {globalsettings} advancedoptions true', GLOBAL, 0x16000040, B(True)),
    ('/set {globalsettings} optionsedit yes', GLOBAL, 0x16000041, B(True)),
    ('/set {default} onetimeadvancedoptions yes', LOADER, 0x260000c3, B(True)),
    ('/set {bootmgr} displaybootmenu yes', BOOTMGR, 0x26000020, B(True)),
    ('/set {bootmgr} timeout 30', BOOTMGR, 0x25000004, I(0x1e)),
    ('/set {bootmgr} bootems yes', BOOTMGR, 0x16000020, B(True)),
    ('/set {bootmgr} flightsigning on', BOOTMGR, 0x1600007e, B(True)),
    ('/set flightsigning on', LOADER, 0x1600007e, B(True)),
    ('/set {bootmgr} resume yes', BOOTMGR, 0x26000005, B(True)),
    ('/set {bootmgr} integrityservices enable', BOOTMGR, 0x1500004b, I(0x1)),
    ('/set {bootmgr} integrityservices disable', BOOTMGR, 0x1500004b, I(0x2)),
    ('/set {bootmgr} graphicsresolution 1024x768', BOOTMGR, 0x15000052, I(0x0)),
    ('/set {bootmgr} graphicsresolution 800x600', BOOTMGR, 0x15000052, I(0x1)),
    ('/set {bootmgr} noerrordisplay yes', BOOTMGR, 0x26000021, B(True)),
    ('/set {bootmgr} nointegritychecks yes', BOOTMGR, 0x16000048, B(True)),
    ('/set {bootmgr} bootdebug on', BOOTMGR, 0x16000010, B(True)),
    ('/set {bootmgr} debugtype serial', BOOTMGR, 0x15000011, I(0x0)),
    ('/set {bootmgr} displaymessage Recovery', BOOTMGR, 0x15000065, I(0x3)),
    ('/set {bootmgr} displaymessageoverride Recovery', BOOTMGR, 0x15000066, I(0x3)),
    ('/set {globalsettings} highestmode on', GLOBAL, 0x16000054, B(True)),
    ('/set {globalsettings} graphicsmodedisabled yes', GLOBAL, 0x16000046, B(True)),
    ('/set {dbgsettings} debugtype net', DBG, 0x15000011, I(0x3)),
    ('/set {dbgsettings} hostip 192.168.1.2', DBG, 0x1500001a, I(0x201a8c0)),
    ('/set {dbgsettings} port 50000', DBG, 0x1500001b, I(0xc350)),
    ('/set {dbgsettings} dhcp no', DBG, 0x1600001c, B(False)),
    ('/set {dbgsettings} debugstart AutoEnable', DBG, 0x15000018, I(0x1)),
    ('/set {dbgsettings} debugtype Local', DBG, 0x15000011, I(0x4)),
    ('/set {emssettings} emsport 1', EMS, 0x15000022, I(0x1)),
    ('/set {emssettings} emsbaudrate 115200', EMS, 0x15000023, I(0x1c200)),
    ('/set {emssettings} bootems yes', EMS, 0x16000020, B(True)),
    ('/set {badmemory} badmemoryaccess no', BADMEM, 0x1600000b, B(False)),
    ('/set {memdiag} passcount 2', MEMDIAG, 0x25000001, I(0x2)),
    ('/set {memdiag} testmix extended', MEMDIAG, 0x25000002, I(0x1)),
    ('/set {memdiag} testmix basic', MEMDIAG, 0x25000002, I(0x0)),
    ('/set {memdiag} cacheenable yes', MEMDIAG, 0x26000003, B(True)),
    ('/set {memdiag} failuresenabled no', MEMDIAG, 0x26000004, B(False)),
    ('/set {resumeloadersettings} pae yes', RESUMESET, 0x26000004, B(True)),
    ('/set {c77a2612-6d5b-11eb-9ff2-e9f459e1e131} ramdisktftpblocksize 8192',
     RAMOPTS, 0x35000007, I(0x2000)),
    ('/set {c77a2612-6d5b-11eb-9ff2-e9f459e1e131} ramdisktftpwindowsize 16',
     RAMOPTS, 0x35000008, I(0x10)),
    ('/set {c77a2612-6d5b-11eb-9ff2-e9f459e1e131} ramdisktftpvarwindow yes',
     RAMOPTS, 0x3600000b, B(True)),
    ('/set {c77a2612-6d5b-11eb-9ff2-e9f459e1e131} ramdiskimageoffset 0x8000',
     RAMOPTS, 0x35000001, I(0x8000)),
    ('/set {c77a2612-6d5b-11eb-9ff2-e9f459e1e131} exportascd yes', RAMOPTS, 0x36000006, B(True)),
    ('/set {99066a2d-6dcc-11eb-9378-f32123128c9c} removememory 256', LOADER, 0x25000031, I(0x100)),
    ('/set {default} nx OptIN', LOADER, 0x25000020, I(0x0)),
    # strings, objects and lists
    ("/set {default} hal halmacpi.dll", LOADER, 0x22000012, S("halmacpi.dll")),
    ("/set {default} kernel ntkrnlmp.exe", LOADER, 0x22000011, S("ntkrnlmp.exe")),
    ("/set {default} loadoptions DISABLE_INTEGRITY_CHECKS", LOADER, 0x12000030,
     S("DISABLE_INTEGRITY_CHECKS")),
    ("/set loadoptions DDISABLE_INTEGRITY_CHECKS", LOADER, 0x12000030,
     S("DDISABLE_INTEGRITY_CHECKS")),
    ("/set {default} hypervisorbusparams 0.25.0", LOADER, 0x220000f9, S("0.25.0")),
    ("/set {default} hypervisorloadoptions NOFORCESNOOP=TRUE", LOADER, 0x22000117,
     S("NOFORCESNOOP=TRUE")),
    ("/set {default} path \\windows\\system32\\winload.efi", LOADER, 0x12000002,
     S("\\windows\\system32\\winload.efi")),
    ("/set {default} systemroot \\Windows", LOADER, 0x22000002, S("\\Windows")),
    ('/set {default} description "Windows 10 rescue"', LOADER, 0x12000004,
     S("Windows 10 rescue")),
    ("/set {default} locale de-DE", LOADER, 0x12000005, S("de-DE")),
    ("/set {bootmgr} locale fr-FR", BOOTMGR, 0x12000005, S("fr-FR")),
    ("/set {dbgsettings} busparams 0.25.0", DBG, 0x12000019, S("0.25.0")),
    ("/set {dbgsettings} key 1.2.3.4", DBG, 0x1200001d, S("1.2.3.4")),
    ("/set {dbgsettings} targetname U1", DBG, 0x12000016, S("U1")),
    ("/set {dbgsettings} hostipv6 fe80::1", DBG, 0x1200001f, S("fe80::1")),
    ("/set {c77a2612-6d5b-11eb-9ff2-e9f459e1e131} ramdisksdipath \\boot\\boot.sdi", RAMOPTS,
     0x32000004, S("\\boot\\boot.sdi")),
    ("/set {default} custom:12000004 custom-description", LOADER, 0x12000004,
     S("custom-description")),
    ("/set {bootmgr} default {memdiag}", BOOTMGR, 0x23000003, S(MEMDIAG)),
    ("/set {default} resumeobject {memdiag}", LOADER, 0x23000003, S(MEMDIAG)),
    ("/set {default} recoverysequence {memdiag}", LOADER, 0x14000008, L(MEMDIAG)),
    ("/set {default} inherit {bootloadersettings} {globalsettings}", LOADER, 0x14000006,
     L("{6efb52bf-1766-41db-a6b3-0ee5eff72bd7}", GLOBAL)),
    ("/set {bootmgr} bootsequence {memdiag}", BOOTMGR, 0x24000002, L(MEMDIAG)),
    ("/set {bootmgr} toolsdisplayorder {memdiag} {default}", BOOTMGR, 0x24000010,
     L(MEMDIAG, LOADER)),
    ("/set {bootmgr} displayorder {default} {memdiag}", BOOTMGR, 0x24000001,
     L(LOADER, MEMDIAG)),
    ("/bootsequence {memdiag}", BOOTMGR, 0x24000002, L(MEMDIAG)),
    ("/bootsequence {memdiag} {default}", BOOTMGR, 0x24000002, L(MEMDIAG, LOADER)),
    ("/bootsequence {memdiag} /addfirst", BOOTMGR, 0x24000002, L(MEMDIAG)),
    ("/toolsdisplayorder {default} /addlast", BOOTMGR, 0x24000010, L(LOADER)),
    ("/displayorder {memdiag} /addfirst", BOOTMGR, 0x24000001, L(MEMDIAG)),
    ("/default {memdiag}", BOOTMGR, 0x23000003, S(MEMDIAG)),
    ("/timeout 15", BOOTMGR, 0x25000004, I(15)),
    ("/timeout 0", BOOTMGR, 0x25000004, I(0)),
    ("/ems {default} ON", LOADER, 0x260000b0, B(True)),
    ("/ems off", LOADER, 0x260000b0, B(False)),
    ("/bootems {bootmgr} on", BOOTMGR, 0x16000020, B(True)),
    ("/debug on", LOADER, 0x260000a0, B(True)),
    ("/debug {default} OFF", LOADER, 0x260000a0, B(False)),
    ("/bootdebug on", LOADER, 0x16000010, B(True)),
    ("/bootdebug {bootmgr} off", BOOTMGR, 0x16000010, B(False)),
    ("/event {default} yes", LOADER, 0x26000141, B(True)),
    ("/emssettings EMSPORT:2 EMSBAUDRATE:57600", EMS, 0x15000022, I(2)),
    ("/emssettings EMSPORT:1 EMSBAUDRATE:115200", EMS, 0x15000023, I(115200)),
    ("/dbgsettings serial debugport:2", DBG, 0x15000013, I(2)),
    ("/dbgsettings SERIAL DEBUGPORT:1 BAUDRATE:115200", DBG, 0x15000014, I(115200)),
    ("/dbgsettings 1394 CHANNEL:32", DBG, 0x15000015, I(32)),
    ("/dbgsettings 1394 channel:1", DBG, 0x15000011, I(1)),
    ("/dbgsettings USB TARGETNAME:U1", DBG, 0x12000016, S("U1")),
    ("/dbgsettings usb targetname:usbdbg", DBG, 0x15000011, I(2)),
    ("/dbgsettings NET HOSTIP:192.168.1.2 PORT:50000 KEY:2steg4fzbj2sz.23418vzkd4ko3."
     "1g34ou07z4pev.1sp3yo9yz874p", DBG, 0x1200001d,
     S("2steg4fzbj2sz.23418vzkd4ko3.1g34ou07z4pev.1sp3yo9yz874p")),
    ("/dbgsettings net hostip:10.125.4.86 port:50000 key:a.b.c.d", DBG, 0x1500001a,
     I(0x56047d0a)),
    ("/dbgsettings net hostip:10.0.0.1 port:50001 key:a.b.c.d nodhcp", DBG, 0x1600001c,
     B(False)),
    ("/dbgsettings net hostip:10.0.0.1 port:50001 key:a.b.c.d busparams:0.25.0", DBG,
     0x12000019, S("0.25.0")),
    ("/dbgsettings net hostip:10.0.0.1 port:50001 key:a.b.c.d busparams=0.25.0", DBG,
     0x12000019, S("0.25.0")),
    ("/dbgsettings LOCAL", DBG, 0x15000011, I(4)),
    ("/dbgsettings serial debugport:1 /start AUTOENABLE", DBG, 0x15000018, I(1)),
    ("/dbgsettings serial debugport:1 baudrate:115200 /start active /noumex", DBG, 0x16000017,
     B(True)),
    ("/dbgsettings /start disable", DBG, 0x15000018, I(2)),
    ("/dbgsettings /noumex", DBG, 0x16000017, B(True)),
    ("/eventsettings net hostip:10.0.0.1 port:50001 key:a.b.c.d", DBG, 0x1500001b, I(50001)),
    ("/hypervisorsettings SERIAL DEBUGPORT:1 BAUDRATE:115200", HV, 0x250000f5, I(115200)),
    ("/hypervisorsettings 1394 CHANNEL:23", HV, 0x250000f6, I(23)),
    ("/hypervisorsettings NET HOSTIP:192.168.1.2 PORT:50000 BUSPARAMS:0.25.0 KEY:a.b.c.d",
     HV, 0x250000fe, I(50000)),
]


#: (command line, error class, words of the message's next step); the store is the one above.
REFUSED = [
    ("/set 99066a2d-6dcc-11eb-9378-f32123128c9c removememory 256", InvalidIdentifierError,
     "'{99066a2d-6dcc-11eb-9378-f32123128c9c}'"),
    ("/delete 99066a2d-6dcc-11eb-9378-f32123128c9c /f", InvalidIdentifierError, "in braces"),
    ("/enum 99066A2D-6DCC-11EB-9378-F32123128C9C", InvalidIdentifierError, "in braces"),
    ("/displayorder 99066a2d-6dcc-11eb-9378-f32123128c9c /addlast", InvalidIdentifierError,
     "in braces"),
    ("/set default nx OptIn", InvalidIdentifierError, "'{default}' in quotes"),
    ("/set {ramdiskoptions} ramdisksdipath \\boot\\boot.sdi", NotFoundError,
     "bcdedit /create {ramdiskoptions}"),
    ("/enum {ntldr}", NotFoundError, "bcdedit /create {ntldr}"),
    ("/default {ntldr}", NotFoundError, "bcdedit /create {ntldr}"),
    ("/set {fwbootmgr} displayorder {bootmgr} /addfirst", NotFoundError, "efibootmgr"),
    ("/set {18b123cd-2bf6-11db-bfae-00e018e2b8db} removememory 256", NotFoundError,
     "/enum all"),
    ("/set {default} osdevice partition=C:", UnsupportedError, "whole disk"),
    ("/set {bootmgr} device partition=S:", UnsupportedError, "whole disk"),
    ("/set {default} device hd_partition=C:", UnsupportedError, "whole disk"),
    ("/set {default} device partition=#2", UnsupportedError, "whole disk"),
    ("/set {default} device vhd=[C:]\\vhd\\win.vhdx", UnsupportedError, "whole disk"),
    ("/set {default} device ramdisk=[C:]\\sources\\boot.wim,{ramdiskoptions}", UnsupportedError,
     "whole disk"),
    ("/set {memdiag} device partition=\\Device\\HarddiskVolume1", UnsupportedError,
     "partition=#N"),
    ("/sysstore C:", LiveSystemError, "/store FILE"),
    ("/set {bootmgr} nx OptIn", ElementError, "osloader entries"),
    ("/set {default} timeout 5", ElementError, "bootmgr entries"),
    ("/set {default} unknownthing 1", ElementError, "/? TYPES OSLOADER"),
    ("/set {bootmgr} unknownthing 1", ElementError, "/? TYPES BOOTMGR"),
    ("/set {default} custom:f0000001 1", ElementError, "second hex digit"),
    ("/ems {bootmgr} on", ElementError, "osloader entries"),
    ("/set {default} quietboot maybe", InvalidArgumentError, "Yes/No"),
    ("/set {default} numproc -1", InvalidArgumentError, "out of range"),
    ("/set {default} nx Sometimes", InvalidArgumentError, "OptIn"),
    ("/set {default} description", InvalidArgumentError, "bcdedit /?"),
    ("/timeout soon", InvalidArgumentError, "not valid"),
    ("/ems {default} maybe", InvalidArgumentError, "ON or OFF"),
    ("/displayorder {memdiag} /addfirst /addlast", InvalidArgumentError, "bcdedit /?"),
    ("/copy {default}", InvalidArgumentError, "/d description"),
    ("/create /d x", InvalidArgumentError, "/application"),
    ("/create /d x /application kernel", InvalidArgumentError, "OSLOADER"),
    ("/create {bootmgr} /d x /application osloader", InvalidArgumentError, "well-known"),
    ("/create {dbgsettings} /d Debugger", BcdError, ""),
    ("/delete {memdiag}", BcdError, "/f"),
    ("/delete {default} /g", InvalidArgumentError, "/cleanup"),
    ("/create {current} /d x", InvalidIdentifierError, "without an identifier"),
    ("/create {default} /d x /application osloader", InvalidIdentifierError,
     "without an identifier"),
    ("/deletevalue groupsize", NotFoundError, "/enum {current} /v"),
    ("/deletevalue {default} safeboot", NotFoundError, "/enum {default} /v"),
    ("/dbgsettings bluetooth", InvalidArgumentError, "SERIAL"),
    ("/dbgsettings /start autoenable debugport:1", InvalidArgumentError, "SERIAL DEBUGPORT:1"),
    ("/dbgsettings serial nodhcp", InvalidArgumentError, "NET"),
    ("/dbgsettings net hostip:10.0.0.1 port:50000 key:a.b.c.d newkey", InvalidArgumentError,
     "exclude"),
    ("/hypervisorsettings usb", InvalidArgumentError, "NET"),
    ("/hypervisorsettings serial debugport:1 /noumex", InvalidArgumentError, "/dbgsettings"),
    ("/eventsettings net hostip:10.0.0.1 port:50001 /start active", InvalidArgumentError,
     "/dbgsettings"),
    ("/emssettings", InvalidArgumentError, "EMSPORT"),
    ("/emssettings EMSPORT", InvalidArgumentError, "bcdedit /?"),
    ("/enum everything", InvalidIdentifierError, "ACTIVE"),
    ("/frobnicate", InvalidArgumentError, "bcdedit /?"),
    ("/sett {default} nx OptIn", InvalidArgumentError, "/set"),
    ("/export C:\\backup\\bcd", InvalidArgumentError, "this machine"),
]


@pytest.fixture
def bios(corpus) -> BcdStore:
    return BcdStore(Hive.open(corpus / "bcd" / STORE))


def _words(line: str) -> list[str]:
    """The arguments bcdedit receives from cmd.exe for `line`: split at spaces outside double
    quotes, the quotes removed, backslashes kept."""
    lexer = shlex.shlex(line, posix=False)
    lexer.whitespace_split = True
    return [w[1:-1] if len(w) > 1 and w[0] == w[-1] == '"' else w for w in lexer]


def _run(store: BcdStore, line: str) -> be.Outcome:
    return be.execute(be.parse_args(_words(line)), store)


def _registry(store: BcdStore, guid: str, code: int) -> tuple[int, bytes] | None:
    """(registry type, bytes) of an element as python-registry reads the store's new bytes."""
    reg = Registry.Registry(io.BytesIO(store.to_bytes()))
    try:
        value = reg.open(f"Objects\\{guid}\\Elements\\{code:08X}").value("Element")
    except Registry.RegistryKeyNotFoundException:
        return None
    return value.value_type(), value.raw_data()


def _without(store: BcdStore, guid: str, code: int) -> BcdStore:
    """A fresh store from `store`'s bytes with element `code` of `guid` removed, so the command
    under test has something to write."""
    if code in store.get(guid).elements:
        store.delete_element(guid, code)
    return BcdStore(Hive.from_bytes(store.to_bytes()))


@pytest.mark.parametrize("line, guid, code, expected", SETS, ids=[r[0] for r in SETS])
def test_documented_form_writes_windows_bytes(bios, line, guid, code, expected):
    store = _without(bios, guid, code)
    out = _run(store, line)
    assert out.lines and (out.lines[-1] == be.SUCCESS or out.lines[0].startswith("Key=")), out
    assert _registry(store, guid, code) == expected
    # bcdedit prints it back in a form `/set` takes again, to the same bytes
    obj = BcdStore(Hive.from_bytes(store.to_bytes())).get(guid)
    printed = enum.value_lines(store, obj, obj.elements[code], enum.View())
    assert not any(p.startswith("<") for p in printed)


def test_the_table_encodes_as_windows_does():
    """Every element the table writes that a Windows-written corpus store also holds has there
    the registry type the table expects, and booleans and integers the same width."""
    seen: dict[int, set[tuple[int, int]]] = {}
    for path in corpus_stores():
        for _, _, code, vtype, raw in registry_elements(path):
            seen.setdefault(code, set()).add((vtype, len(raw) if vtype == REG_BINARY else -1))
    checked = 0
    for _line, _guid, code, (vtype, raw) in SETS:
        if code not in seen:
            continue
        checked += 1
        shape = (vtype, len(raw) if vtype == REG_BINARY else -1)
        assert shape in seen[code], (f"{code:08x}", shape, seen[code])
    assert checked >= 40      # most of the table is checked against Windows' own bytes


@pytest.mark.parametrize("line, error, step", REFUSED, ids=[r[0] for r in REFUSED])
def test_documented_form_refused_with_a_next_step(bios, line, error, step):
    before = bios.to_bytes()
    with pytest.raises(error) as caught:
        _run(bios, line)
    assert type(caught.value) is error          # its own exit code, not a parent's
    text = str(caught.value)
    assert "\n" not in text and step in text, text
    assert bios.to_bytes() == before or error is not BcdError


def test_refusals_have_distinct_exit_codes():
    codes = {cls: cls.exit_code for cls in {r[1] for r in REFUSED}}
    assert len(set(codes.values())) == len(codes), codes


@pytest.mark.parametrize("line, error", [(r[0], r[1]) for r in REFUSED[::3]] + [
    ("/import C:\\backup\\bcd", InvalidArgumentError),
    ("/import /tmp/does-not-exist-bcdtool /clean", NotFoundError),
    ("/store", InvalidArgumentError),
], ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_refusal_through_the_cli_leaves_the_store(corpus, tmp_path, capsys, line, error,
                                                    isolated_state):
    """The command line as pasted: the exit code of the error class, one line on stderr,
    nothing on stdout, the store's bytes unchanged."""
    target = tmp_path / "BCD"
    shutil.copy(corpus / "bcd" / STORE, target)
    before = sha(target)
    code, out, err = run_cli(capsys, "bcdedit", "/store", target, *_words(line))
    assert (code, out) == (error.exit_code, ""), err
    assert len(err.strip().splitlines()) == 1 and err.startswith("bcdtool: error: "), err
    assert sha(target) == before
