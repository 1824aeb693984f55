"""BCD layer: the single table of BCD element types (code, names, format, scope, enum values).

Reference: ../shared/reference/bcd.md §2 (type encoding) and §6 (element tables).  Everything that
names, parses, encodes or prints an element looks it up here; no other module hard-codes codes.

An element code is `C F SSSSSS`: class nibble (1 library, 2 application, 3 device, 4 setup
template, 5 OEM), format nibble, 24-bit subtype.  Class-2 codes mean different things for
different application types (0x23000003 is `default` on a boot manager, `resumeobject` on an OS
loader), so names are looked up per *scope* (see `scope_of_type`).
"""

from __future__ import annotations

import difflib
import re
from enum import IntEnum
from typing import NamedTuple

from bcdtool.errors import ElementError


class Format(IntEnum):
    """Element value formats (the format nibble, bits 24-27 of the element code)."""

    DEVICE = 1
    STRING = 2
    OBJECT = 3
    OBJECT_LIST = 4
    INTEGER = 5
    BOOLEAN = 6
    INTEGER_LIST = 7
    BINARY = 8  # listed by ntbcd.h, never seen in a store


#: Short format names used in JSON and listings.
FORMAT_NAMES = {Format.DEVICE: "device", Format.STRING: "string", Format.OBJECT: "object",
                Format.OBJECT_LIST: "objectlist", Format.INTEGER: "integer",
                Format.BOOLEAN: "boolean", Format.INTEGER_LIST: "integerlist",
                Format.BINARY: "binary"}

# Scopes: which object classes an element applies to.
LIBRARY = "library"        # class 1: every object
BOOTMGR = "bootmgr"        # {bootmgr}, {fwbootmgr}
OSLOADER = "osloader"      # Windows Boot Loader and 0x20200003 inherit objects
RESUME = "resume"          # Resume from Hibernate and 0x20200004 inherit objects
MEMDIAG = "memdiag"        # Windows Memory Tester
NTLDR = "ntldr"            # legacy OS loader
STARTUP = "startup"        # startup module (0x10400009)
DEVICE = "device"          # device options objects (class 3)
TEMPLATE = "template"      # setup-template elements (class 4), hidden unless verbose


def element_format(code: int) -> int:
    """The format nibble of an element code (may be outside `Format` for hostile input)."""
    return (code >> 24) & 0xF


def element_class(code: int) -> int:
    """The class nibble of an element code."""
    return (code >> 28) & 0xF


def scope_of_type(object_type: int) -> str | None:
    """The class-2 scope of an object of `object_type`, or None when it has none."""
    top = (object_type >> 28) & 0xF
    if top == 1:
        return {1: BOOTMGR, 2: BOOTMGR, 3: OSLOADER, 4: RESUME, 5: MEMDIAG, 6: NTLDR,
                9: STARTUP}.get(object_type & 0xFFFFF)
    if top == 2 and (object_type >> 20) & 0xF == 2:
        return {3: OSLOADER, 4: RESUME}.get(object_type & 0xFFFFF)
    if top == 3:
        return DEVICE
    return None


class ElementDef(NamedTuple):
    """One row of the element table (`values`: the names of enumeration values)."""

    code: int
    name: str | None          # bcdedit's name; None = printed as custom:xxxxxxxx
    symbolic: str             # WMI Bcd… name or bcdedit-internal BCDE_… name
    scope: str
    values: dict[str, int] = {}       # never changed: a shared empty default is safe

    @property
    def format(self) -> int:
        """The value format of this element."""
        return element_format(self.code)

    @property
    def display_name(self) -> str:
        """The name bcdedit prints: its own name, else custom:xxxxxxxx."""
        return self.name or custom_name(self.code)

    def to_json(self) -> dict:
        """The row as JSON: code (0x-hex), name, symbolic name, scope, format, enum values."""
        return {"code": f"{self.code:#010x}", "name": self.display_name,
                "symbolic": self.symbolic, "scope": self.scope,
                "format": FORMAT_NAMES.get(self.format, str(self.format)),
                "values": dict(self.values)}

    def value_name(self, number: int) -> str | None:
        """The enumeration name of an integer value, if this element has one."""
        for name, value in self.values.items():
            if value == number:
                return name
        return None


#: Integer elements bcdedit prints in hexadecimal (`claimedtpmcounter 0x10002` in the corpus'
#: win11-uefi-enum-flightsigning.txt); every other named integer prints in decimal.
HEX_INTEGERS = frozenset({(OSLOADER, "claimedtpmcounter")})
#: Integer elements holding an IPv4 address (first octet in the lowest byte): bcdedit takes and
#: prints them dotted (`/set hypervisorhostip 192.168.1.2`; /dbgsettings lists `hostip
#: 192.168.2.1`).
IPV4_INTEGERS = frozenset({(LIBRARY, "hostip"), (OSLOADER, "hypervisorhostip")})


def custom_name(code: int) -> str:
    """bcdedit's name for an element it does not know."""
    return f"custom:{code:08x}"


# Enumerations shared by several elements.
_DISPLAYMESSAGE = {"Default": 0, "Resume": 1, "HyperV": 2, "Recovery": 3, "StartupRepair": 4,
                   "SystemImageRecovery": 5, "CommandPrompt": 6, "SystemRestore": 7,
                   "PushButtonReset": 8}
_MENUPOLICY = {"Legacy": 0, "Standard": 1}
_BOOTUX = {"Disabled": 0, "Basic": 1, "Standard": 2}
_DEFAULT_FORCE = {"Default": 0, "ForceDisable": 1}

_L, _B, _O, _R, _M = LIBRARY, BOOTMGR, OSLOADER, RESUME, MEMDIAG

# (code, bcdedit name, symbolic name, scope, enum values) — bcd.md §6.
_ROWS: list[tuple] = [
    # §6.1 library elements
    (0x11000001, "device", "BcdLibraryDevice_ApplicationDevice", _L),
    (0x12000002, "path", "BcdLibraryString_ApplicationPath", _L),
    (0x12000004, "description", "BcdLibraryString_Description", _L),
    (0x12000005, "locale", "BcdLibraryString_PreferredLocale", _L),
    (0x14000006, "inherit", "BcdLibraryObjectList_InheritedObjects", _L),
    (0x15000007, "truncatememory", "BcdLibraryInteger_TruncatePhysicalMemory", _L),
    (0x14000008, "recoverysequence", "BcdLibraryObjectList_RecoverySequence", _L),
    (0x16000009, "recoveryenabled", "BcdLibraryBoolean_AutoRecoveryEnabled", _L),
    (0x1700000a, "badmemorylist", "BcdLibraryIntegerList_BadMemoryList", _L),
    (0x1600000b, "badmemoryaccess", "BcdLibraryBoolean_AllowBadMemoryAccess", _L),
    (0x1500000c, "firstmegabytepolicy", "BcdLibraryInteger_FirstMegabytePolicy", _L,
     {"UseNone": 0, "UseAll": 1, "UsePrivate": 2}),
    (0x1500000d, "relocatephysical", "BcdLibraryInteger_RelocatePhysicalMemory", _L),
    (0x1500000e, "avoidlowmemory", "BcdLibraryInteger_AvoidLowPhysicalMemory", _L),
    (0x1600000f, "traditionalkseg", "BcdLibraryBoolean_TraditionalKsegMappings", _L),
    (0x16000010, "bootdebug", "BcdLibraryBoolean_DebuggerEnabled", _L),
    (0x15000011, "debugtype", "BcdLibraryInteger_DebuggerType", _L,
     {"Serial": 0, "1394": 1, "USB": 2, "NET": 3, "Local": 4}),
    (0x15000012, "debugaddress", "BcdLibraryInteger_SerialDebuggerPortAddress", _L),
    (0x15000013, "debugport", "BcdLibraryInteger_SerialDebuggerPort", _L),
    (0x15000014, "baudrate", "BcdLibraryInteger_SerialDebuggerBaudRate", _L),
    (0x15000015, "channel", "BcdLibraryInteger_1394DebuggerChannel", _L),
    (0x12000016, "targetname", "BcdLibraryString_UsbDebuggerTargetName", _L),
    (0x16000017, "noumex", "BcdLibraryBoolean_DebuggerIgnoreUsermodeExceptions", _L),
    (0x15000018, "debugstart", "BcdLibraryInteger_DebuggerStartPolicy", _L,
     {"Active": 0, "AutoEnable": 1, "Disable": 2}),
    (0x12000019, "busparams", "BcdLibraryString_DebuggerBusParameters", _L),
    (0x1500001a, "hostip", "BcdLibraryInteger_DebuggerNetHostIP", _L),
    (0x1500001b, "port", "BcdLibraryInteger_DebuggerNetPort", _L),
    (0x1600001c, "dhcp", "BcdLibraryBoolean_DebuggerNetDhcp", _L),
    (0x1200001d, "key", "BcdLibraryString_DebuggerNetKey", _L),
    (0x1600001e, "vm", "BCDE_LIBRARY_TYPE_DEBUGGER_NET_VM", _L),
    (0x1200001f, "hostipv6", "BCDE_LIBRARY_TYPE_DEBUGGER_NET_HOST_IPV6", _L),
    (0x16000020, "bootems", "BcdLibraryBoolean_EmsEnabled", _L),
    (0x15000022, "emsport", "BcdLibraryInteger_EmsPort", _L),
    (0x15000023, "emsbaudrate", "BcdLibraryInteger_EmsBaudRate", _L),
    (0x12000030, "loadoptions", "BcdLibraryString_LoadOptionsString", _L),
    (0x16000040, "advancedoptions", "BcdLibraryBoolean_DisplayAdvancedOptions", _L),
    (0x16000041, "optionsedit", "BcdLibraryBoolean_DisplayOptionsEdit", _L),
    (0x15000042, "keyringaddress", "BcdLibraryInteger_FVEKeyRingAddress", _L),
    (0x11000043, "bootstatdevice", "BcdLibraryDevice_BsdLogDevice", _L),
    (0x12000044, "bootstatfilepath", "BcdLibraryString_BsdLogPath", _L),
    (0x16000045, "preservebootstat", "BcdLibraryBoolean_BsdPreserveLog", _L),
    (0x16000046, "graphicsmodedisabled", "BcdLibraryBoolean_GraphicsModeDisabled", _L),
    (0x15000047, "configaccesspolicy", "BcdLibraryInteger_ConfigAccessPolicy", _L,
     {"Default": 0, "DisallowMmConfig": 1}),
    (0x16000048, "nointegritychecks", "BcdLibraryBoolean_DisableIntegrityChecks", _L),
    (0x16000049, "testsigning", "BcdLibraryBoolean_AllowPrereleaseSignatures", _L),
    (0x1200004a, "fontpath", "BcdLibraryString_FontPath", _L),
    (0x1500004b, "integrityservices", "BcdLibraryInteger_SiPolicy", _L,
     {"Default": 0, "Enable": 1, "Disable": 2}),
    (0x1500004c, "volumebandid", "BcdLibraryInteger_FveBandId", _L),
    (0x16000050, "extendedinput", "BcdLibraryBoolean_ConsoleExtendedInput", _L),
    (0x15000051, "initialconsoleinput", "BcdLibraryInteger_InitialConsoleInput", _L),
    (0x15000052, "graphicsresolution", "BcdLibraryInteger_GraphicsResolution", _L,
     {"1024x768": 0, "800x600": 1, "1024x600": 2}),
    (0x16000053, "restartonfailure", "BcdLibraryBoolean_RestartOnFailure", _L),
    (0x16000054, "highestmode", "BcdLibraryBoolean_GraphicsForceHighestMode", _L),
    (0x16000060, "isolatedcontext", "BcdLibraryBoolean_IsolatedExecutionContext", _L),
    (0x15000065, "displaymessage", "BcdLibraryInteger_BootUxDisplayMessage", _L, _DISPLAYMESSAGE),
    (0x15000066, "displaymessageoverride", "BcdLibraryInteger_BootUxDisplayMessageOverride", _L,
     _DISPLAYMESSAGE),
    (0x16000067, None, "BcdLibraryBoolean_BootUxLogoDisable", _L),
    (0x16000068, "nobootuxtext", "BcdLibraryBoolean_BootUxTextDisable", _L),
    (0x16000069, "nobootuxprogress", "BcdLibraryBoolean_BootUxProgressDisable", _L),
    (0x1600006a, "nobootuxfade", "BcdLibraryBoolean_BootUxFadeDisable", _L),
    (0x1600006c, "bootuxdisabled", "BcdLibraryBoolean_BootUxDisable", _L),
    (0x16000072, "nokeyboard", "BcdLibraryBoolean_ForceNoKeyboard", _L),
    (0x16000074, "bootshutdowndisabled", "BcdLibraryBoolean_BootShutdownDisabled", _L),
    (0x17000077, "allowedinmemorysettings", "BcdLibraryIntegerList_AllowedInMemorySettings", _L),
    (0x1600007a, "mobilegraphics", "BCDE_LIBRARY_TYPE_TWO_BOOT_IMAGES", _L),
    (0x1600007b, "forcefipscrypto", "BcdLibraryBoolean_ForceFipsCrypto", _L),
    (0x1500007d, "booterrorux", "BcdLibraryInteger_BootErrorUx", _L,
     {"Legacy": 0, "Standard": 1, "Simple": 2}),
    (0x1600007e, "flightsigning", "BcdLibraryBoolean_AllowFlightSignatures", _L),
    (0x1500007f, "measuredbootlogformat", "BcdLibraryInteger_BootMeasurementLogFormat", _L),
    (0x15000080, "displayrotation", "BCDE_LIBRARY_TYPE_DISPLAY_ROTATION", _L),
    (0x15000081, "logcontrol", "BCDE_LIBRARY_TYPE_LOG_CONTROL", _L),
    (0x16000082, "nofirmwaresync", "BcdLibraryBoolean_NoFirmwareSync", _L),
    (0x11000084, "windowssyspart", "BcdLibraryDevice_WindowsSystemDevice", _L),
    (0x16000087, "numlock", "BcdLibraryBoolean_NumLockOn", _L),
    (0x12000088, "additionalcipolicy", "BcdLibraryString_AdditionalCiPolicy", _L),
    # [GC] Geoff Chappell's element list (1809+), named as bcdedit prints them; not in bcd.md §6
    (0x15000079, "bootuxtransitiontime", "BCDE_LIBRARY_TYPE_BOOTUX_BITMAP_TRANSITION_TIME", _L),
    (0x15000088, "linearaddress57", "BCDE_LIBRARY_TYPE_LINEAR_ADDRESS_57_POLICY", _L,
     {"Default": 0, "OptOut": 1, "OptIn": 2}),
    # §6.2 boot manager
    (0x24000001, "displayorder", "BcdBootMgrObjectList_DisplayOrder", _B),
    (0x24000002, "bootsequence", "BcdBootMgrObjectList_BootSequence", _B),
    (0x23000003, "default", "BcdBootMgrObject_DefaultObject", _B),
    (0x25000004, "timeout", "BcdBootMgrInteger_Timeout", _B),
    (0x26000005, "resume", "BcdBootMgrBoolean_AttemptResume", _B),
    (0x23000006, "resumeobject", "BcdBootMgrObject_ResumeObject", _B),
    (0x24000007, "startupsequence", "BcdBootMgrObjectList_StartupSequence", _B),
    (0x24000010, "toolsdisplayorder", "BcdBootMgrObjectList_ToolsDisplayOrder", _B),
    (0x26000020, "displaybootmenu", "BcdBootMgrBoolean_DisplayBootMenu", _B),
    (0x26000021, "noerrordisplay", "BcdBootMgrBoolean_NoErrorDisplay", _B),
    (0x21000022, "bcddevice", "BcdBootMgrDevice_BcdDevice", _B),
    (0x22000023, "bcdfilepath", "BcdBootMgrString_BcdFilePath", _B),
    (0x26000025, "hiberboot", "BcdBootMgrBoolean_HiberRoot", _B),
    (0x26000028, "processcustomactionsfirst", "BcdBootMgrBoolean_ProcessCustomActionsFirst", _B),
    (0x27000030, "customactions", "BcdBootMgrIntegerList_CustomActionsList", _B),
    (0x26000031, "persistbootsequence", "BcdBootMgrBoolean_PersistBootSequence", _B),
    (0x26000032, "skipstartupsequence", "BCDE_BOOTMGR_TYPE_SKIP_STARTUP_SEQUENCE", _B),
    (0x22000040, "fverecoveryurl", "BcdBootMgrString_FveRecoveryUrl", _B),
    (0x22000041, "fverecoverymessage", "BcdBootMgrString_FveRecoveryMessage", _B),
    (0x26000042, "flightedbootmgr", "BCDE_BOOTMGR_TYPE_BOOT_FLIGHT_BOOTMGR", _B),
    # §6.3 OS loader
    (0x21000001, "osdevice", "BcdOSLoaderDevice_OSDevice", _O),
    (0x22000002, "systemroot", "BcdOSLoaderString_SystemRoot", _O),
    (0x23000003, "resumeobject", "BcdOSLoaderObject_AssociatedResumeObject", _O),
    (0x26000004, "stampdisks", "BcdOSLoaderBoolean_StampDisks", _O),
    (0x26000010, "detecthal", "BcdOSLoaderBoolean_DetectKernelAndHal", _O),
    (0x22000011, "kernel", "BcdOSLoaderString_KernelPath", _O),
    (0x22000012, "hal", "BcdOSLoaderString_HalPath", _O),
    (0x22000013, "dbgtransport", "BcdOSLoaderString_DbgTransportPath", _O),
    (0x25000020, "nx", "BcdOSLoaderInteger_NxPolicy", _O,
     {"OptIn": 0, "OptOut": 1, "AlwaysOff": 2, "AlwaysOn": 3}),
    (0x25000021, "pae", "BcdOSLoaderInteger_PAEPolicy", _O,
     {"Default": 0, "ForceEnable": 1, "ForceDisable": 2}),
    (0x26000022, "winpe", "BcdOSLoaderBoolean_WinPEMode", _O),
    (0x26000024, "nocrashautoreboot", "BcdOSLoaderBoolean_DisableCrashAutoReboot", _O),
    (0x26000025, "lastknowngood", "BcdOSLoaderBoolean_UseLastGoodSettings", _O),
    (0x26000030, "nolowmem", "BcdOSLoaderBoolean_NoLowMemory", _O),
    (0x25000031, "removememory", "BcdOSLoaderInteger_RemoveMemory", _O),
    (0x25000032, "increaseuserva", "BcdOSLoaderInteger_IncreaseUserVa", _O),
    (0x25000033, "perfmem", "BcdOSLoaderInteger_PerformaceDataMemory", _O),
    (0x26000040, "vga", "BcdOSLoaderBoolean_UseVgaDriver", _O),
    (0x26000041, "quietboot", "BcdOSLoaderBoolean_DisableBootDisplay", _O),
    (0x26000042, "novesa", "BcdOSLoaderBoolean_DisableVesaBios", _O),
    (0x26000043, "novga", "BcdOSLoaderBoolean_DisableVgaMode", _O),
    (0x25000050, "clustermodeaddressing", "BcdOSLoaderInteger_ClusterModeAddressing", _O),
    (0x26000051, "usephysicaldestination", "BcdOSLoaderBoolean_UsePhysicalDestination", _O),
    (0x25000052, "restrictapiccluster", "BcdOSLoaderInteger_RestrictApicCluster", _O),
    (0x22000053, "evstore", "BcdOSLoaderString_OSLoaderTypeEVStore", _O),
    (0x26000054, "uselegacyapicmode", "BcdOSLoaderBoolean_UseLegacyApicMode", _O),
    (0x25000055, "x2apicpolicy", "BcdOSLoaderInteger_X2ApicPolicy", _O,
     {"Default": 0, "Disable": 1, "Enable": 2}),
    (0x26000060, "onecpu", "BcdOSLoaderBoolean_UseBootProcessorOnly", _O),
    (0x25000061, "numproc", "BcdOSLoaderInteger_NumberOfProcessors", _O),
    (0x26000062, "maxproc", "BcdOSLoaderBoolean_ForceMaximumProcessors", _O),
    (0x25000063, "configflags", "BcdOSLoaderBoolean_ProcessorConfigurationFlags", _O),
    (0x26000064, "maxgroup", "BcdOSLoaderBoolean_MaximizeGroupsCreated", _O),
    (0x26000065, "groupaware", "BcdOSLoaderBoolean_ForceGroupAwareness", _O),
    (0x25000066, "groupsize", "BcdOSLoaderInteger_GroupSize", _O),
    (0x26000070, "usefirmwarepcisettings", "BcdOSLoaderBoolean_UseFirmwarePciSettings", _O),
    (0x25000071, "msi", "BcdOSLoaderInteger_MsiPolicy", _O, _DEFAULT_FORCE),
    (0x25000072, "pciexpress", "BcdOSLoaderInteger_PciExpressPolicy", _O, _DEFAULT_FORCE),
    (0x25000080, "safeboot", "BcdOSLoaderInteger_SafeBoot", _O,
     {"Minimal": 0, "Network": 1, "DsRepair": 2}),
    (0x26000081, "safebootalternateshell", "BcdOSLoaderBoolean_SafeBootAlternateShell", _O),
    (0x26000090, "bootlog", "BcdOSLoaderBoolean_BootLogInitialization", _O),
    (0x26000091, "sos", "BcdOSLoaderBoolean_VerboseObjectLoadMode", _O),
    (0x260000a0, "debug", "BcdOSLoaderBoolean_KernelDebuggerEnabled", _O),
    (0x260000a1, "halbreakpoint", "BcdOSLoaderBoolean_DebuggerHalBreakpoint", _O),
    (0x260000a2, "useplatformclock", "BcdOSLoaderBoolean_UsePlatformClock", _O),
    (0x260000a3, "forcelegacyplatform", "BcdOSLoaderBoolean_ForceLegacyPlatform", _O),
    (0x260000a4, "useplatformtick", "BcdOSLoaderBoolean_UsePlatformTick", _O),
    (0x260000a5, "disabledynamictick", "BcdOSLoaderBoolean_DisableDynamicTick", _O),
    (0x250000a6, "tscsyncpolicy", "BcdOSLoaderInteger_TscSyncPolicy", _O,
     {"Default": 0, "Legacy": 1, "Enhanced": 2}),
    (0x260000b0, "ems", "BcdOSLoaderBoolean_EmsEnabled", _O),
    (0x250000c0, None, "BcdOSLoaderInteger_ForceFailure", _O),
    (0x250000c1, "driverloadfailurepolicy", "BcdOSLoaderInteger_DriverLoadFailurePolicy", _O,
     {"Fatal": 0, "UseErrorControl": 1}),
    (0x250000c2, "bootmenupolicy", "BcdOSLoaderInteger_BootMenuPolicy", _O, _MENUPOLICY),
    (0x260000c3, "onetimeadvancedoptions", "BcdOSLoaderBoolean_AdvancedOptionsOneTime", _O),
    (0x260000c4, "onetimeoptionsedit", "BcdOSLoaderBoolean_EditOptionsOneTime", _O),
    (0x250000e0, "bootstatuspolicy", "BcdOSLoaderInteger_BootStatusPolicy", _O,
     {"DisplayAllFailures": 0, "IgnoreAllFailures": 1, "IgnoreShutdownFailures": 2,
      "IgnoreBootFailures": 3, "IgnoreCheckpointFailures": 4, "DisplayShutdownFailures": 5,
      "DisplayBootFailures": 6, "DisplayCheckpointFailures": 7,
      "AlwaysDisplayStartupFailures": 8}),
    (0x260000e1, "disableelamdrivers", "BcdOSLoaderBoolean_DisableElamDrivers", _O),
    (0x250000f0, "hypervisorlaunchtype", "BcdOSLoaderInteger_HypervisorLaunchType", _O,
     {"Off": 0, "Auto": 1}),
    (0x260000f2, "hypervisordebug", "BcdOSLoaderBoolean_HypervisorDebuggerEnabled", _O),
    (0x250000f3, "hypervisordebugtype", "BcdOSLoaderInteger_HypervisorDebuggerType", _O,
     {"Serial": 0, "1394": 1, "None": 2, "Net": 3}),
    (0x250000f4, "hypervisordebugport", "BcdOSLoaderInteger_HypervisorDebuggerPortNumber", _O),
    (0x250000f5, "hypervisorbaudrate", "BcdOSLoaderInteger_HypervisorDebuggerBaudrate", _O),
    (0x250000f6, "hypervisorchannel", "BcdOSLoaderInteger_HypervisorDebugger1394Channel", _O),
    (0x250000f7, "bootux", "BcdOSLoaderInteger_BootUxPolicy", _O, _BOOTUX),
    (0x260000f8, "hypervisordisableslat", "BcdOSLoaderBoolean_HypervisorSlatDisabled", _O),
    (0x220000f9, "hypervisorbusparams", "BcdOSLoaderString_HypervisorDebuggerBusParams", _O),
    (0x250000fa, "hypervisornumproc", "BcdOSLoaderInteger_HypervisorNumProc", _O),
    (0x250000fb, "hypervisorrootprocpernode", "BcdOSLoaderInteger_HypervisorRootProcPerNode", _O),
    (0x260000fc, "hypervisoruselargevtlb", "BcdOSLoaderBoolean_HypervisorUseLargeVTlb", _O),
    (0x250000fd, "hypervisorhostip", "BcdOSLoaderInteger_HypervisorDebuggerNetHostIp", _O),
    (0x250000fe, "hypervisorhostport", "BcdOSLoaderInteger_HypervisorDebuggerNetHostPort", _O),
    (0x25000100, "tpmbootentropy", "BcdOSLoaderInteger_TpmBootEntropyPolicy", _O,
     {"Default": 0, "ForceDisable": 1, "ForceEnable": 2}),
    (0x22000110, "hypervisorusekey", "BcdOSLoaderString_HypervisorDebuggerNetKey", _O),
    (0x25000113, "hypervisorrootproc", "BcdOSLoaderInteger_HypervisorRootProc", _O),
    (0x26000114, "hypervisordhcp", "BcdOSLoaderBoolean_HypervisorDebuggerNetDhcp", _O),
    (0x25000115, "hypervisoriommupolicy", "BcdOSLoaderInteger_HypervisorIommuPolicy", _O,
     {"Default": 0, "Enable": 1, "Disable": 2}),
    (0x26000116, "hypervisorusevapic", "BcdOSLoaderBoolean_HypervisorUseVApic", _O),
    (0x22000117, "hypervisorloadoptions", "BcdOSLoaderString_HypervisorLoadOptions", _O),
    # Values [L]: the scheduler type numbers Hyper-V logs at start (event 2: 1 classic, 3 core,
    # 4 root); bcdedit's own mapping is not published.
    (0x2500011a, "hypervisorschedulertype", "BcdOSLoaderInteger_HypervisorSchedulerType", _O,
     {"Classic": 1, "Core": 3, "Root": 4}),
    (0x25000120, "xsavepolicy", "BcdOSLoaderInteger_XSavePolicy", _O),
    *[(0x25000121 + n, f"xsaveaddfeature{n}", f"BcdOSLoaderInteger_XSaveAddFeature{n}", _O)
      for n in range(8)],
    (0x25000129, "xsaveremovefeature", "BcdOSLoaderInteger_XSaveRemoveFeature", _O),
    (0x2500012a, "xsaveprocessorsmask", "BcdOSLoaderInteger_XSaveProcessorsMask", _O),
    (0x2500012b, "xsavedisable", "BcdOSLoaderInteger_XSaveDisable", _O),
    (0x2500012c, "kerneldebugtype", "BCDE_OSLOADER_TYPE_KERNEL_DEBUGGER_TYPE", _O,
     {"Serial": 0, "1394": 1, "USB": 2, "NET": 3}),
    (0x2500012f, "kerneldebugport", "BCDE_OSLOADER_TYPE_KERNEL_DEBUGGER_PORT_NUMBER", _O),
    (0x25000130, "claimedtpmcounter", "BcdOSLoaderInteger_ClaimedTpmCounter", _O),
    (0x25000139, "kernelbaudrate", "BCDE_OSLOADER_TYPE_KERNEL_DEBUGGER_BAUDRATE", _O),
    (0x22000137, "imchivename", "BcdOSLoaderString_IMCHiveName", _O),
    (0x21000138, "imcdevice", "BcdOSLoaderDevice_IMCDevice", _O),
    (0x26000141, "event", "BCDE_OSLOADER_TYPE_EVENT_LOGGING_ENABLED", _O),
    (0x25000142, "vsmlaunchtype", "BcdOSLoaderInteger_VsmLaunchType", _O, {"Off": 0, "Auto": 1}),
    (0x25000144, "hypervisorenforcedcodeintegrity",
     "BCDE_OSLOADER_TYPE_HYPERVISOR_ENFORCED_CODE_INTEGRITY", _O,
     {"Disable": 0, "Enable": 1, "Strict": 2}),
    # §6.4 resume
    (0x21000001, "filedevice", "BcdResumeDevice_HiberFileDevice", _R),
    (0x22000002, "filepath", "BcdResumeString_HiberFilePath", _R),
    (0x26000003, "customsettings", "BcdResumeBoolean_UseCustomSettings", _R),
    (0x26000004, "pae", "BcdResumeBoolean_x86PaeMode", _R),
    (0x21000005, "associatedosdevice", "BcdResumeDevice_AssociatedOsDevice", _R),
    (0x26000006, "debugoptionenabled", "BcdResumeBoolean_DebugOptionEnabled", _R),
    (0x25000007, "bootux", "BcdResumeInteger_BootUxPolicy", _R, _BOOTUX),
    (0x25000008, "bootmenupolicy", "BcdResumeInteger_BootMenuPolicy", _R, _MENUPOLICY),
    # §6.4 memory tester
    (0x25000001, "passcount", "BcdMemDiagInteger_PassCount", _M),
    (0x25000002, "testmix", "BcdMemDiagInteger_TestMix", _M, {"Basic": 0, "Extended": 1}),
    (0x26000003, "cacheenable", "BcdMemDiagBoolean_CacheEnable", _M),
    (0x26000004, "failuresenabled", "BcdMemDiagBoolean_FailuresEnabled", _M),
    (0x25000005, "stridefailcount", "BcdMemDiagInteger_StrideFailCount", _M),
    (0x25000006, "invcfailcount", "BcdMemDiagInteger_InvcFailCount", _M),
    (0x25000007, "matsfailcount", "BcdMemDiagInteger_MatsFailCount", _M),
    (0x25000008, "randfailcount", "BcdMemDiagInteger_RandFailCount", _M),
    (0x25000009, "chckrfailcount", "BcdMemDiagInteger_ChckrFailCount", _M),
    # §6.5 device objects
    (0x35000001, "ramdiskimageoffset", "BcdDeviceInteger_RamdiskImageOffset", DEVICE),
    (0x35000002, "ramdisktftpclientport", "BcdDeviceInteger_TftpClientPort", DEVICE),
    (0x31000003, "ramdisksdidevice", "BcdDeviceInteger_SdiDevice", DEVICE),
    (0x32000004, "ramdisksdipath", "BcdDeviceInteger_SdiPath", DEVICE),
    (0x35000005, "ramdiskimagelength", "BcdDeviceInteger_RamdiskImageLength", DEVICE),
    (0x36000006, "exportascd", "BcdDeviceBoolean_RamdiskExportAsCd", DEVICE),
    (0x35000007, "ramdisktftpblocksize", "BcdDeviceInteger_RamdiskTftpBlockSize", DEVICE),
    (0x35000008, "ramdisktftpwindowsize", "BcdDeviceInteger_RamdiskTftpWindowSize", DEVICE),
    (0x36000009, "ramdiskmcenabled", "BcdDeviceBoolean_RamdiskMulticastEnabled", DEVICE),
    (0x3600000a, "ramdiskmctftpfallback", "BcdDeviceBoolean_RamdiskMulticastTftpFallback",
     DEVICE),
    (0x3600000b, "ramdisktftpvarwindow", "BcdDeviceBoolean_RamdiskTftpVarWindow", DEVICE),
    # §6.6 setup template (bcdedit has no names: printed custom:…, only with /v)
    (0x45000001, None, "BcdSetupInteger_DeviceType", TEMPLATE),
    (0x42000002, None, "BcdSetupString_ApplicationRelativePath", TEMPLATE),
    (0x42000003, None, "BcdSetupString_RamdiskDeviceRelativePath", TEMPLATE),
    (0x46000004, None, "BcdSetupBoolean_OmitOsLoaderElements", TEMPLATE),
    # bcdedit /v names this one (a published /enum /v of a BCD-Template shows it, corpus SOURCES)
    (0x47000006, "elementstomigrate", "BcdSetupIntegerList_ElementsToMigrateList", TEMPLATE),
    (0x46000010, None, "BcdSetupBoolean_RecoveryOs", TEMPLATE),
    # §6.7 other application types
    (0x22000001, "bpbstring", "BcdOSLoaderString_BpbString", NTLDR),
    (0x26000001, "pxesoftreboot", "BcdStartupBoolean_PxeSoftReboot", STARTUP),
    (0x22000002, "applicationname", "BcdStartupString_PxeApplicationName", STARTUP),
]

ELEMENTS: tuple[ElementDef, ...] = tuple(
    ElementDef(row[0], row[1], row[2], row[3], dict(row[4]) if len(row) > 4 else {})
    for row in _ROWS)

_BY_SCOPE_CODE: dict[tuple[str, int], ElementDef] = {(e.scope, e.code): e for e in ELEMENTS}
_BY_SCOPE_NAME: dict[tuple[str, str], ElementDef] = {
    (e.scope, e.name.lower()): e for e in ELEMENTS if e.name}

_FORMAT_VALUES = frozenset(int(f) for f in Format)
_CUSTOM_RE = re.compile(r"^(?:custom:(?:0x)?|0x)?([0-9a-f]{8})$", re.IGNORECASE)


def lookup(code: int, object_type: int) -> ElementDef | None:
    """The table row for `code` on an object of `object_type` (None when truly unknown)."""
    scope = {1: LIBRARY, 3: DEVICE, 4: TEMPLATE}.get(element_class(code))
    if scope is None and element_class(code) == 2:
        scope = scope_of_type(object_type)
    if scope is None:
        return None
    return _BY_SCOPE_CODE.get((scope, code))


def display_name(code: int, object_type: int) -> str:
    """The name bcdedit prints for `code` on an object of `object_type`."""
    row = lookup(code, object_type)
    return row.display_name if row else custom_name(code)


def is_hidden(code: int) -> bool:
    """True for setup-template elements, which bcdedit shows only with /v."""
    return element_class(code) == 4


def resolve(name: str, object_type: int) -> ElementDef:
    """Resolve a bcdedit element name, `custom:XXXXXXXX` or hex code for an object type.

    Raises:
        ElementError: with bcdedit's message when the name is unknown or does not apply.
    """
    text = name.strip()
    match = _CUSTOM_RE.match(text)
    if match:
        code = int(match.group(1), 16)
        if element_format(code) not in _FORMAT_VALUES:
            raise ElementError(f"{NOT_RECOGNIZED} In custom:XXXXXXXX the second hex digit is "
                               "the format, 1 to 8 (e.g. custom:16000069 is a boolean).",
                               path=text)
        return lookup(code, object_type) or ElementDef(code, None, custom_name(code), "custom")
    key = text.lower()
    # class-1 (library) and class-4 (setup template) names apply to every object
    scopes = (LIBRARY, TEMPLATE, scope_of_type(object_type))
    for scope in scopes:
        if scope and (scope, key) in _BY_SCOPE_NAME:
            return _BY_SCOPE_NAME[(scope, key)]
    raise ElementError(NOT_RECOGNIZED + _suggestion(key, scopes), path=text)


def _suggestion(key: str, scopes: tuple) -> str:
    """What a mistyped or misplaced element name probably meant: the entry types it belongs to,
    or the close names this entry has."""
    elsewhere = sorted({scope for (scope, name) in _BY_SCOPE_NAME if name == key})
    if elsewhere:
        return f" {key} is an element of {' and '.join(elsewhere)} entries."
    names = sorted({name for (scope, name) in _BY_SCOPE_NAME if scope in scopes})
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.8)
    if close:
        return f" Did you mean {' or '.join(close)}?"
    scope = scopes[-1] or LIBRARY
    return (f" Run bcdedit /? TYPES {scope.upper()} for the names this entry takes, or give "
            "the element as custom:XXXXXXXX.")


def element(name: str, scope: str = LIBRARY) -> int:
    """The code of the element bcdedit calls `name` in `scope` (library by default).

    Used to name the codes other modules need, so that each code is written once, in the table.

    Raises:
        ElementError: when the table has no such element (a programming error, raised at import).
    """
    row = _BY_SCOPE_NAME.get((scope, name.lower()))
    if row is None:
        raise ElementError(f"no element {name!r} in scope {scope!r}", path=name)
    return row.code


class E:
    """Codes of the elements the code base refers to by name, each looked up in the table.

    Library (class 1) elements carry bcdedit's name; class-2 codes, which mean different things
    for different application types, carry it too where that name is unique among the scopes
    used here, else a scope prefix (`LOADER_RESUMEOBJECT`).
    """

    # library
    DESCRIPTION = element("description")
    INHERIT = element("inherit")
    BOOTDEBUG = element("bootdebug")
    DEBUGTYPE = element("debugtype")
    DEBUGPORT = element("debugport")
    BAUDRATE = element("baudrate")
    CHANNEL = element("channel")
    TARGETNAME = element("targetname")
    NOUMEX = element("noumex")
    DEBUGSTART = element("debugstart")
    BUSPARAMS = element("busparams")
    HOSTIP = element("hostip")
    PORT = element("port")
    KEY = element("key")
    BOOTEMS = element("bootems")
    EMSPORT = element("emsport")
    EMSBAUDRATE = element("emsbaudrate")
    # boot manager
    DISPLAYORDER = element("displayorder", BOOTMGR)
    BOOTSEQUENCE = element("bootsequence", BOOTMGR)
    DEFAULT = element("default", BOOTMGR)
    TIMEOUT = element("timeout", BOOTMGR)
    TOOLSDISPLAYORDER = element("toolsdisplayorder", BOOTMGR)
    # OS loader
    LOADER_RESUMEOBJECT = element("resumeobject", OSLOADER)
    DEBUG = element("debug", OSLOADER)
    EMS = element("ems", OSLOADER)
    EVENT = element("event", OSLOADER)


#: The library integer element bcdboot lists in `allowedinmemorysettings` (bcd.md §6.1: default
#: value 0x15000075); bcdedit has no name for it, so it is not a row of the table.
BCDBOOT_IN_MEMORY_SETTING = 0x15000075


#: bcdedit's message for an element that is unknown or does not apply to the entry.
NOT_RECOGNIZED = ("The element data type specified is not recognized, or does not apply to the "
                  "specified entry.")
