"""Read every serial-console-related configuration source of a guest root (read only).

Each reader returns plain data with the guest path and line numbers it came from.  A file that
cannot be read (binary, oversized, a hostile symlink) becomes a `FileIssue`, never a crash.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from bcdtool.errors import BcdToolError, NotFoundError
from bcdtool.linux import (cmdline, gettyspeed, inittab, kernelstub, raspi, refind, shell,
                           syslinux, uboot, uki)
from bcdtool.linux.paths import GuestRoot

GRUB_DEFAULT = "/etc/default/grub"
GRUB_DEFAULT_D = "/etc/default/grub.d"
GRUB_CFG_DIRS = ("/boot/grub", "/boot/grub2")
#: Flatcar: the ESP (mounted at /boot) holds the OS's own grub.cfg; the OEM partition's grub.cfg
#: is the documented place for local settings (`linux_console`, `linux_append`).
FLATCAR_GRUB_CFG = "/boot/flatcar/grub/grub.cfg"
FLATCAR_OEM_CFGS = ("/oem/grub.cfg", "/usr/share/oem/grub.cfg")
#: Alpine's update-extlinux settings (sourced as sh), then its drop-ins.
UPDATE_EXTLINUX = "/etc/update-extlinux.conf"
UPDATE_EXTLINUX_D = "/etc/update-extlinux.d"
#: SUSE's perl-Bootloader settings: DEFAULT_APPEND is what the next kernel's entry gets.
SYSCONFIG_BOOTLOADER = "/etc/sysconfig/bootloader"
#: kernel-install's command line for kernels installed later (systemd-boot, EL9 BLS).
KERNEL_CMDLINE = "/etc/kernel/cmdline"
NIXOS_CONFIG = "/etc/nixos/configuration.nix"
CLOUD_CFG = "/etc/cloud/cloud.cfg"
CLOUD_CFG_D = "/etc/cloud/cloud.cfg.d"
LEGACY_GRUB = ("/boot/grub/grub.conf", "/boot/grub/menu.lst", "/etc/grub.conf")
GRUBENV_PATHS = ("/boot/grub2/grubenv", "/boot/grub/grubenv")
#: BLS type #1 entries: on /boot (Fedora, Arch, XBOOTLDR), or on an ESP mounted at /boot/efi
#: (Debian's and openSUSE's systemd-boot) or /efi.
BLS_DIRS = ("/boot/loader/entries", "/boot/efi/loader/entries", "/efi/loader/entries")
SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d",
               "/lib/sysctl.d")
GRUBENV_SIZE = 1024
#: clr-boot-manager (Clear Linux) and kernel-install drop-ins: one argument file each.
KERNEL_CMDLINE_D = "/etc/kernel/cmdline.d"
UKI_CONF = "/etc/kernel/uki.conf"
#: u-boot-menu (Debian Arm boards) writes /boot/extlinux/extlinux.conf from this file.
UBOOT_DEFAULT = "/etc/default/u-boot"
#: Raspberry Pi firmware files (Raspberry Pi OS bookworm, Debian raspi-firmware; older /boot).
RPI_DIRS = ("/boot/firmware", "/boot")
LILO_CONF = "/etc/lilo.conf"
FLASH_KERNEL_DEFAULT = "/etc/default/flash-kernel"
#: IBM Z: zipl writes the kernel, initrd and command line into a boot map it reads at IPL.
ZIPL_CONF = "/etc/zipl.conf"
#: systemd-boot's own settings and binaries on the ESP (to tell it is installed).
LOADER_CONF_PATHS = ("/boot/loader/loader.conf", "/efi/loader/loader.conf",
                     "/boot/efi/loader/loader.conf")
ESP_DIRS = ("/boot", "/efi", "/boot/efi")
#: runit: service definitions and the service folder runsvdir reads at boot.
RUNIT_SV = "/etc/sv"
RUNIT_DEFAULT = "/etc/runit/runsvdir/default"
#: dinit (Chimera Linux): service files, and the boot service's waits-for.d folder that
#: `dinitctl enable` links them into; /etc/default/agetty-PORT holds a getty's GETTY_BAUD.
DINIT_DIRS = ("/etc/dinit.d", "/usr/lib/dinit.d")
DINIT_BOOT = "/etc/dinit.d/boot.d"
DINIT_BINARIES = ("/usr/bin/dinit", "/sbin/dinit", "/usr/sbin/dinit")
#: Architectures whose firmware has PC COM ports (GRUB's `serial` unit = ttyS<unit>).
PC_ARCHES = ("x86_64", "i386")
#: Arguments that mark a rescue entry, which is not expected to carry the serial console.
RESCUE_ARGS = ("single", "recovery", "emergency", "systemd.unit=rescue.target")
MAX_EFI_VENDORS = 64
MAX_BLS_ENTRIES = 512

_LINUX_CMD = re.compile(r"^([ \t]*)((?:linux|linux16|linuxefi)(?:\$\{?suf\}?)?)([ \t]+)(\S+)"
                        r"([ \t]*)(.*)$")
#: Kernel images that are not Linux (memtest86+, boot sectors, COM32 modules).
_NOT_LINUX_IMAGE = re.compile(r"memtest|\.(bin|c32|com|img|0)$", re.I)
_GRUB_SET = re.compile(r"""^[ \t]*set[ \t]+([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|'([^']*)'|(\S*))""")
_LEGACY_KERNEL = re.compile(r"^([ \t]*)(kernel)([ \t]+)(\S+)([ \t]*)(.*)$")


@dataclass
class FileIssue:
    """A file that could not be used."""

    path: str
    message: str


@dataclass
class TextFile:
    """A guest text file: its guest path, original bytes and decoded text."""

    path: str
    data: bytes
    text: str

    def line_span(self, lineno: int) -> tuple[int, int]:
        """Start and end offsets (without the newline) of 1-based line `lineno`."""
        start = 0
        for _ in range(lineno - 1):
            start = self.text.index("\n", start) + 1
        end = self.text.find("\n", start)
        return start, len(self.text) if end < 0 else end


@dataclass
class KernelLine:
    """A `linux`/`linuxefi`/`linux16`/`kernel` line or a BLS `options` line: where its args are."""

    file: TextFile
    line: int
    command: str
    args_start: int       # offset in file.text
    args_end: int
    title: str = ""       # the enclosing menuentry's (or legacy `title`) name

    @property
    def args_text(self) -> str:
        """The argument text as written (may hold `$var` references)."""
        return self.file.text[self.args_start:self.args_end]

    @property
    def rescue(self) -> bool:
        """A recovery/rescue entry (grub-mkconfig gives it GRUB_CMDLINE_LINUX only)."""
        return (any(a in RESCUE_ARGS for a in self.args_text.split())
                or "rescue" in self.file.path.rsplit("/", 1)[-1]
                or bool(re.search(r"recovery|rescue", self.title, re.I)))


@dataclass
class Grubenv:
    """A GRUB environment block (`grubenv`): variables and the block's layout."""

    file: TextFile
    values: dict[str, str]
    lines: dict[str, int]

    def span(self, name: str) -> tuple[int, int] | None:
        """Offsets of the value of `name` in the file text."""
        if name not in self.lines:
            return None
        start, end = self.file.line_span(self.lines[name])
        return start + len(name) + 1, end


@dataclass
class Guest:
    """Everything read from one guest root."""

    root: GuestRoot
    os_release: dict[str, str] = field(default_factory=dict)
    arch: str | None = None
    grub_files: list[TextFile] = field(default_factory=list)
    grub_env: shell.ShellEnv = field(default_factory=shell.ShellEnv)
    grub_cfgs: list[TextFile] = field(default_factory=list)
    linux_lines: list[KernelLine] = field(default_factory=list)
    bls_entries: list[TextFile] = field(default_factory=list)
    bls_options: list[KernelLine] = field(default_factory=list)
    grubenv: Grubenv | None = None
    legacy: TextFile | None = None
    legacy_kernels: list[KernelLine] = field(default_factory=list)
    #: systemd | upstart | sysv | busybox | runit | dinit | s6 | 66 | unknown
    init: str = "unknown"
    openrc: bool = False                # OpenRC runs the services (Alpine, Gentoo)
    openrc_gettys: dict[str, str] = field(default_factory=dict)   # runlevel link -> target
    agetty_service: str | None = None   # OpenRC's /etc/init.d/agetty (agetty.ttyS0 links to it)
    device: str = "ttyS0"               # the serial port checked and fixed
    device_reason: str = ""             # why that port
    cloud: str | None = None            # cloud-init datasource named in the guest
    unit_path: str | None = None        # where serial-getty@.service lives
    getty_links: dict[str, str | None] = field(default_factory=dict)
    #: Units under /etc/systemd/system that mask the serial getty (or getty.target).
    getty_masks: list[str] = field(default_factory=list)
    inittab: TextFile | None = None
    upstart_serial: str | None = None
    securetty: TextFile | None = None
    pam_securetty: bool = False
    passwords: dict | None = None
    sysrq: tuple[str, int, str] | None = None   # (file, line, value)
    issues: list[FileIssue] = field(default_factory=list)
    extlinux: list[tuple[TextFile, syslinux.Config]] = field(default_factory=list)
    extlinux_lines: list[KernelLine] = field(default_factory=list)
    #: Linux labels with no APPEND at all (neither their own nor a global one).
    extlinux_bare: list[tuple[TextFile, syslinux.Label]] = field(default_factory=list)
    update_extlinux: list[TextFile] = field(default_factory=list)
    update_extlinux_env: shell.ShellEnv = field(default_factory=shell.ShellEnv)
    sysconfig_bootloader: TextFile | None = None
    sysconfig_env: shell.ShellEnv = field(default_factory=shell.ShellEnv)
    kernel_cmdline: TextFile | None = None
    nixos_config: TextFile | None = None
    flatcar_oem: TextFile | None = None
    #: GRUB script variables `set` in grub.cfg (and Flatcar's OEM grub.cfg): name -> GrubVar.
    grub_vars: dict[str, GrubVar] = field(default_factory=dict)
    #: Clear Linux / kernel-install argument drop-ins (/etc/kernel/cmdline.d/*.conf).
    cmdline_d: list[TextFile] = field(default_factory=list)
    clear_linux: bool = False
    uki_conf: TextFile | None = None
    ukis: list[Uki] = field(default_factory=list)
    uboot_files: list[TextFile] = field(default_factory=list)
    uboot_env: shell.ShellEnv = field(default_factory=shell.ShellEnv)
    #: Raspberry Pi: cmdline.txt (the whole kernel command line) and config.txt.
    rpi_cmdline: TextFile | None = None
    rpi_config: TextFile | None = None
    #: config.txt's `include`d files for every board, in order (each may set enable_uart).
    rpi_includes: list[TextFile] = field(default_factory=list)
    lilo: TextFile | None = None
    #: rEFInd: refind_linux.conf files and refind.conf, and their kernel option strings.
    refind_files: list[TextFile] = field(default_factory=list)
    refind_lines: list[KernelLine] = field(default_factory=list)
    loader_conf: TextFile | None = None
    #: Evidence of which EFI boot loader is installed: (guest path, what it shows).
    efi_loaders: list[tuple[str, str]] = field(default_factory=list)
    runit: bool = False
    #: runit service folders (/etc/sv/NAME) and the links enabling them at boot; for dinit
    #: (init "dinit") its getty service files and the links in /etc/dinit.d/boot.d.
    runit_services: list[str] = field(default_factory=list)
    runit_enabled: dict[str, str] = field(default_factory=dict)
    runit_dir: str = RUNIT_DEFAULT
    #: A system whose boot configuration is not edited in place: (kind, evidence path).
    immutable: tuple[str, str] | None = None
    read_only_root: tuple[str, str] | None = None
    #: The speed the port's getty runs at, where it is written (inittab or runit service).
    getty_speed: GettySpeed | None = None
    #: U-Boot boot scripts (boot.scr) and the environment files they import (armbianEnv.txt).
    uboot_scripts: list[UbootScript] = field(default_factory=list)
    uboot_env_files: dict[str, TextFile] = field(default_factory=dict)
    #: Debian's flash-kernel settings (it writes boot.scr from LINUX_KERNEL_CMDLINE).
    flash_kernel: TextFile | None = None
    #: kernelstub (Pop!_OS): its JSON configuration and `user.kernel_options` in it.
    kernelstub: TextFile | None = None
    kernelstub_options: kernelstub.Options | None = None
    #: IBM Z's zipl: its configuration (zipl.conf) and whether the guest has zipl at all.
    zipl_conf: TextFile | None = None
    zipl: str | None = None
    #: The serial speed fix writes when --baud is not given, and why.
    baud: int = 115200
    baud_reason: str = ""

    @property
    def main_cfgs(self) -> list[TextFile]:
        """The grub.cfg files GRUB boots from (with `linux` lines or BLS), not EFI stubs."""
        return [tf for tf in self.grub_cfgs
                if any(k.file is tf for k in self.linux_lines)
                or re.search(r"^\s*blscfg\b", tf.text, re.M)]

    @property
    def kernel_lines(self) -> list[KernelLine]:
        """Every boot-time kernel command line found."""
        return self.linux_lines + self.bls_options + self.legacy_kernels + \
            self.extlinux_lines + self.rpi_lines + self.refind_lines

    @property
    def rpi_lines(self) -> list[KernelLine]:
        """cmdline.txt as a kernel line (the firmware passes its first line as is)."""
        tf = self.rpi_cmdline
        if tf is None:
            return []
        end = tf.text.find("\n")
        return [KernelLine(tf, 1, "cmdline.txt", 0, len(tf.text) if end < 0 else end)]

    @property
    def systemd_boot(self) -> bool:
        """True when systemd-boot is installed (loader.conf, or its binary on the ESP)."""
        return self.loader_conf is not None or any(
            "systemd-boot" in what for _, what in self.efi_loaders)

    @property
    def shell_files(self) -> list[TextFile]:
        """Every shell-sourced settings file read (for edits of their assignments)."""
        return self.grub_files + self.update_extlinux + self.uboot_files + \
            ([self.sysconfig_bootloader] if self.sysconfig_bootloader else [])

    @property
    def boot_loaders(self) -> list[str]:
        """The boot loaders whose configuration was found, in the guest's own words."""
        out = []
        if self.grub_cfgs or self.grub_files:
            out.append("GRUB 2")
        if self.legacy is not None:
            out.append("GRUB legacy")
        if self.extlinux:
            out.append("extlinux/syslinux")
        if self.zipl_conf is not None or self.arch == "s390x":
            out.append("zipl")
        elif (self.bls_entries and not (self.grub_cfgs or self.grub_files)) or \
                self.systemd_boot or self.ukis:
            out.append("systemd-boot")
        if self.rpi_cmdline is not None:
            out.append("Raspberry Pi firmware")
        if self.lilo is not None:
            out.append("LILO")
        if self.refind_files:
            out.append("rEFInd")
        if self.uboot_scripts:
            out.append("U-Boot script")
        return out

    @property
    def grub_reads_bls(self) -> bool:
        """True when GRUB itself boots the BLS entries (Fedora/RHEL's `blscfg`)."""
        return any(re.search(r"^\s*blscfg\b", tf.text, re.M) for tf in self.grub_cfgs)

    def runit_service(self, device: str) -> str | None:
        """The service that runs a getty on `device`: runit's folder (Void's agetty-<port>, or
        Debian getty-run's getty-<port>, whose getty-ttyS0 follows the kernel's last
        console=), or dinit's agetty-<port> file (/etc/dinit.d before /usr/lib/dinit.d)."""
        for name in (f"agetty-{device}", f"getty-{device}"):
            for path in self.runit_services:
                if path.rsplit("/", 1)[1] == name:
                    return path
        return None

    @property
    def pc(self) -> bool:
        """True for a PC (or an unknown architecture, read as one): GRUB and syslinux drive
        its COM ports; elsewhere GRUB's menu is on the firmware's console."""
        return self.arch is None or self.arch in PC_ARCHES

    def default_console_is(self, device: str) -> bool:
        """True when the kernel makes `device` its console without any console= (IBM Power:
        the hypervisor console hvc0 registers itself as the preferred console)."""
        return self.arch == "ppc64" and device == "hvc0"

    def baud_for(self, device: str) -> int:
        """The speed fix writes for `device` when none is given (choose_baud's, for the port
        the guest was read for; 115200 for another)."""
        return self.baud if device == self.device else 115200

    @property
    def busybox(self) -> bool:
        """True when BusyBox init reads /etc/inittab."""
        return self.init == "busybox"


@dataclass
class GettySpeed:
    """The baud list a getty is started with: the file, line and the span of the value
    (`file` None: no file sets it, and `path` is where it belongs)."""

    path: str
    file: TextFile | None
    line: int | None
    span: tuple[int, int]
    speeds: list[int]


@dataclass
class Uki:
    """A unified kernel image: its built-in command line (None: none, or unreadable)."""

    path: str
    cmdline: str | None
    error: str = ""


@dataclass
class UbootScript:
    """A U-Boot boot script: the file U-Boot runs (boot.scr, or boot.cmd when no image is
    there), its text (None: unreadable, `error` says why), boot.cmd beside it when it differs
    from the image (edited but not compiled), and what the script gives the kernel."""

    path: str
    text: str | None
    directory: str
    outcome: uboot.Outcome | None = None
    error: str = ""
    stale_source: str | None = None
    source: str | None = None           # boot.cmd beside it


@dataclass
class GrubVar:
    """A `set NAME=value` in a GRUB script: its value and where the value's text is."""

    value: str
    file: TextFile
    line: int
    span: tuple[int, int]


def read_text(guest: Guest, path: str) -> TextFile | None:
    """A guest text file, or None when absent; unusable files are recorded as issues."""
    try:
        if not guest.root.exists(path):
            return None
        data = guest.root.read(path)
    except NotFoundError:
        return None
    except BcdToolError as exc:
        guest.issues.append(FileIssue(path, exc.message))
        return None
    if b"\x00" in data:
        guest.issues.append(FileIssue(path, "binary data where a text file was expected"))
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return TextFile(path, data, text)


_TITLE = re.compile(r"""^\s*(?:menuentry\s+(?:'([^']*)'|"([^"]*)"|(\S+))|title\s+(.*))""")


def _kernel_lines(tf: TextFile, pattern: re.Pattern) -> list[KernelLine]:
    out, offset, title = [], 0, ""
    for lineno, line in enumerate(tf.text.split("\n"), 1):
        t = _TITLE.match(line)
        if t:
            title = next(g for g in t.groups() if g is not None)
        m = pattern.match(line)
        if m and not line.lstrip().startswith("#") and _boots_linux(m.group(4), m.group(6)):
            out.append(KernelLine(tf, lineno, m.group(2), offset + m.start(6), offset + m.end(6),
                                  title))
        offset += len(line) + 1
    return out


def _boots_linux(first: str, rest: str) -> bool:
    """False for `kernel --type=netbsd ...`, memtest86+ and other images that are not Linux."""
    words = [first] + rest.split()
    for w in words:
        if w.startswith("--type="):
            if w != "--type=linux":
                return False
        elif not w.startswith("--"):
            return not _NOT_LINUX_IMAGE.search(w.rsplit("/", 1)[-1])
    return False


def read_os_release(guest: Guest) -> None:
    tf = read_text(guest, "/etc/os-release") or read_text(guest, "/usr/lib/os-release")
    if tf is None:
        for path in ("/etc/redhat-release", "/etc/centos-release", "/etc/SuSE-release"):
            legacy = read_text(guest, path)
            if legacy is not None:
                guest.os_release = {"PRETTY_NAME": legacy.text.strip().splitlines()[0][:200]}
                return
        return
    env = shell.parse([(tf.path, tf.text)])
    guest.os_release = {k: v for k, v in env.values.items() if v is not None and len(k) < 64}


_ELF_MACHINES = {0x3E: "x86_64", 0x03: "i386", 0xB7: "aarch64", 0x28: "arm", 0xF3: "riscv64",
                 0x15: "ppc64", 0x16: "s390x"}


def read_arch(guest: Guest) -> None:
    """The guest's CPU architecture, from the ELF header of its shell (never run)."""
    for path in ("/bin/sh", "/usr/bin/sh", "/sbin/init", "/usr/bin/bash", "/bin/bash"):
        try:
            if guest.root.kind(path) != "file":
                continue
            head = guest.root.read(path)[:20]
        except BcdToolError:
            continue
        if head[:4] == b"\x7fELF" and len(head) >= 20:
            little = head[5] == 1
            machine = int.from_bytes(head[18:20], "little" if little else "big")
            guest.arch = _ELF_MACHINES.get(machine, f"elf-{machine:#x}")
            return


def read_grub_defaults(guest: Guest) -> None:
    files = []
    tf = read_text(guest, GRUB_DEFAULT)
    if tf is not None:
        files.append(tf)
    for path in guest.root.glob(GRUB_DEFAULT_D, ".cfg"):
        tf = read_text(guest, path)
        if tf is not None:
            files.append(tf)
    guest.grub_files = files
    guest.grub_env = shell.parse([(f.path, f.text) for f in files])


def grub_cfg_paths(guest: Guest) -> list[str]:
    """Candidate generated grub.cfg files (BIOS and every EFI vendor folder)."""
    paths = [f"{d}/grub.cfg" for d in GRUB_CFG_DIRS]
    for vendor in guest.root.listdir("/boot/efi/EFI")[:MAX_EFI_VENDORS]:
        paths.append(f"/boot/efi/EFI/{vendor}/grub.cfg")
    paths.append(FLATCAR_GRUB_CFG)
    return paths


def _distinct_files(guest: Guest, paths: Iterable[str]) -> Iterator[TextFile]:
    """Each readable file among `paths` once, even when several paths link to it."""
    seen = set()
    for path in paths:
        try:
            key = guest.root.resolve(path)
        except BcdToolError as exc:
            guest.issues.append(FileIssue(path, exc.message))
            continue
        if key in seen:
            continue
        seen.add(key)
        tf = read_text(guest, path)
        if tf is not None:
            yield tf


def read_grub_cfgs(guest: Guest) -> None:
    for tf in _distinct_files(guest, grub_cfg_paths(guest)):
        guest.grub_cfgs.append(tf)
        guest.linux_lines.extend(_kernel_lines(tf, _LINUX_CMD))
        _grub_sets(guest, tf)
    for tf in _distinct_files(guest, FLATCAR_OEM_CFGS):
        guest.flatcar_oem = tf          # sourced by Flatcar's grub.cfg before the entries
        _grub_sets(guest, tf)
        break


def _grub_sets(guest: Guest, tf: TextFile) -> None:
    """Record `set NAME=value` of a GRUB script; a set under another platform's branch
    (`if [ "$grub_platform" = efi ]`, `= xen`) is skipped: the BIOS (pc) one counts."""
    offset = 0
    chains: list[list[bool]] = []       # per open `if`: [skip this branch, chain is platform]
    for lineno, line in enumerate(tf.text.split("\n"), 1):
        words = line.split()
        if words[:1] in (["if"], ["elif"]):
            platform = "grub_platform" in line
            skip = platform and not re.search(r"=\s*\"?pc\"?\s*\]", line)
            if words[0] == "if":
                chains.append([skip, platform])
            elif chains:
                chains[-1] = [skip, chains[-1][1] or platform]
        elif words[:1] == ["else"] and chains:
            chains[-1][0] = chains[-1][1]   # the else of a platform test is not the pc branch
        elif words[:1] == ["fi"] and chains:
            chains.pop()
        if words[:1] == ["load_env"] and not any(c[0] for c in chains):
            _load_env(guest, words[1:])
        m = _GRUB_SET.match(line)
        if m and not any(c[0] for c in chains):
            group = 3 if m.group(3) is not None else 4 if m.group(4) is not None else 5
            guest.grub_vars[m.group(1)] = GrubVar(m.group(group), tf, lineno,
                                                  (offset + m.start(group), offset + m.end(group)))
        offset += len(line) + 1


_LOAD_ENV_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def _load_env(guest: Guest, args: list[str]) -> None:
    """`load_env -f FILE`: Photon OS and CBL-Mariner keep their kernel's name and command line
    (`photon_cmdline`, `mariner_cmdline`) in such files; their variables join grub_vars."""
    if "-f" not in args or args.index("-f") + 1 >= len(args):
        return
    path = _LOAD_ENV_VAR.sub(lambda m: guest.grub_vars[m.group(1)].value
                             if m.group(1) in guest.grub_vars else m.group(0),
                             args[args.index("-f") + 1].strip("\"'"))
    if "$" in path or not path.startswith("/") or path in GRUBENV_PATHS:
        return                          # grubenv itself is read as such (kernelopts)
    tf = read_text(guest, path)
    if tf is None:
        return
    env = parse_grubenv(tf)
    for name, value in env.values.items():
        start, end = env.span(name)
        guest.grub_vars[name] = GrubVar(value, tf, env.lines[name], (start, end))


def parse_grubenv(tf: TextFile) -> Grubenv:
    """Variables of a grubenv block (`name=value` lines after the header, `#` padding)."""
    values, lines = {}, {}
    for lineno, line in enumerate(tf.text.split("\n"), 1):
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        values[name] = value
        lines[name] = lineno
    return Grubenv(tf, values, lines)


def read_bls(guest: Guest) -> None:
    for path in GRUBENV_PATHS:
        tf = read_text(guest, path)
        if tf is not None:
            guest.grubenv = parse_grubenv(tf)
            break
    paths = [p for d in BLS_DIRS for p in guest.root.glob(d, ".conf")]
    for tf in _distinct_files(guest, paths[:MAX_BLS_ENTRIES]):
        guest.bls_entries.append(tf)
        if not re.search(r"^[ \t]*linux[ \t]", tf.text, re.M):
            continue    # an `efi` entry (memtest86+, a shell, another OS): not a Linux kernel
        offset = 0
        for lineno, line in enumerate(tf.text.split("\n"), 1):
            m = re.match(r"^([ \t]*)(options)([ \t]+)(.*)$", line)
            if m:
                guest.bls_options.append(KernelLine(tf, lineno, "options", offset + m.start(4),
                                                    offset + m.end(4)))
            offset += len(line) + 1


def read_legacy(guest: Guest) -> None:
    for tf in _distinct_files(guest, LEGACY_GRUB):
        if guest.legacy is None:
            guest.legacy = tf
            guest.legacy_kernels = _kernel_lines(tf, _LEGACY_KERNEL)


def read_extlinux(guest: Guest) -> None:
    """extlinux/syslinux configs, the APPEND lines of their Linux labels, and Alpine's
    update-extlinux settings that regenerate them."""
    for tf in _distinct_files(guest, syslinux.CONFIG_PATHS):
        cfg = syslinux.parse(tf.text)
        guest.extlinux.append((tf, cfg))
        global_used = False
        for label in cfg.linux_labels:
            if label.append_span is not None:
                start, end = label.append_span
                guest.extlinux_lines.append(KernelLine(tf, label.append_line, "APPEND", start, end,
                                                       label.name))
            elif cfg.global_append is not None:
                global_used = True
            else:
                guest.extlinux_bare.append((tf, label))
        if global_used:
            line, (start, end) = cfg.global_append
            guest.extlinux_lines.append(KernelLine(tf, line, "APPEND", start, end, "(global)"))
    files = [tf for tf in [read_text(guest, UPDATE_EXTLINUX)] if tf is not None]
    for path in guest.root.glob(UPDATE_EXTLINUX_D, ".conf"):
        tf = read_text(guest, path)
        if tf is not None:
            files.append(tf)
    guest.update_extlinux = files
    guest.update_extlinux_env = shell.parse([(f.path, f.text) for f in files])


def read_regenerated(guest: Guest) -> None:
    """Settings from which a distribution regenerates its boot entries."""
    tf = read_text(guest, SYSCONFIG_BOOTLOADER)
    if tf is not None:
        guest.sysconfig_bootloader = tf
        guest.sysconfig_env = shell.parse([(tf.path, tf.text)])
    guest.kernel_cmdline = read_text(guest, KERNEL_CMDLINE)
    guest.nixos_config = read_text(guest, NIXOS_CONFIG)
    tf = read_text(guest, kernelstub.CONFIG)
    if tf is not None:
        guest.kernelstub_options = kernelstub.kernel_options(tf.text)
        if guest.kernelstub_options is None:
            guest.issues.append(FileIssue(tf.path, "not a kernelstub configuration (JSON with "
                                                   "user.kernel_options, a list of strings)"))
        else:
            guest.kernelstub = tf
    guest.clear_linux = guest.os_release.get("ID") == "clear-linux-os" or any(
        guest.root.exists(p) for p in ("/usr/bin/clr-boot-manager", "/usr/sbin/clr-boot-manager"))
    guest.cmdline_d = [tf for tf in (read_text(guest, p)
                                     for p in guest.root.glob(KERNEL_CMDLINE_D, ".conf"))
                       if tf is not None]
    guest.uki_conf = read_text(guest, UKI_CONF)
    tf = read_text(guest, UBOOT_DEFAULT)
    if tf is not None:
        guest.uboot_files = [tf]
        guest.uboot_env = shell.parse([(tf.path, tf.text)])


def read_ukis(guest: Guest) -> None:
    """Unified kernel images on the ESP/XBOOTLDR and the command line built into each."""
    seen = set()
    for d in uki.DIRS:
        for path in guest.root.glob(d)[:MAX_EFI_VENDORS]:
            if not path.lower().endswith(".efi"):
                continue
            try:
                key = guest.root.resolve(path)
                if key in seen or guest.root.kind(path) != "file":
                    continue
                seen.add(key)
                has_linux, text = uki.cmdline(guest.root.read_head(path, uki.HEAD_BYTES), path)
            except BcdToolError as exc:
                guest.ukis.append(Uki(path, None, exc.message))
                continue
            if has_linux:
                guest.ukis.append(Uki(path, text))


def read_rpi(guest: Guest) -> None:
    """Raspberry Pi firmware: cmdline.txt next to config.txt (both or neither)."""
    for d in RPI_DIRS:
        config = read_text(guest, f"{d}/config.txt")
        if config is None:
            continue
        guest.rpi_config = config
        guest.rpi_includes = [tf for tf in (read_text(guest, f"{d}/{name}")
                                            for name in raspi.includes(config.text)[:16])
                              if tf is not None]
        name = raspi.cmdline_name([config.text] + [tf.text for tf in guest.rpi_includes])
        guest.rpi_cmdline = read_text(guest, f"{d}/{name}")
        return


def rpi_uart(guest: Guest) -> tuple[TextFile, raspi.Setting] | None:
    """The enable_uart that wins: the last one for every board in config.txt, or in a file it
    includes after that line (the firmware reads includes in place)."""
    tf = guest.rpi_config
    if tf is None:
        return None
    winner = None
    main = raspi.uart_setting(tf.text)
    order = raspi.includes(tf.text)
    by_name = {inc.path.rsplit("/", 1)[1]: inc for inc in guest.rpi_includes}
    lines = tf.text.split("\n")
    for name in order:
        inc = by_name.get(name)
        setting = raspi.uart_setting(inc.text) if inc is not None else None
        if setting is None:
            continue
        at = next(i for i, ln in enumerate(lines, 1) if ln.split() == ["include", name])
        if main is None or main.line < at:
            winner = (inc, setting)
    if winner is None and main is not None:
        winner = (tf, main)
    return winner


def uboot_reader(guest: Guest):
    """read/exists callbacks for evaluating a U-Boot script against the guest's files."""
    def read(path: str) -> str | None:
        if path not in guest.uboot_env_files:
            tf = read_text(guest, path)
            if tf is None:
                return None
            guest.uboot_env_files[path] = tf
        return guest.uboot_env_files[path].text

    def exists(path: str) -> bool:
        # Anything at the path counts, a link that leads nowhere (or out) too: a file that
        # "does not exist" is one fix may create, and it must never write through a link.
        try:
            return guest.root.kind(path, follow_last=False) is not None
        except BcdToolError:
            return True
    return read, exists


def read_uboot(guest: Guest) -> None:
    """U-Boot boot scripts where distro boot finds them, evaluated on paper."""
    read, exists = uboot_reader(guest)
    guest.flash_kernel = read_text(guest, FLASH_KERNEL_DEFAULT)
    if any(tf.path in uboot.EXTLINUX_FIRST for tf, _ in guest.extlinux):
        return      # distro boot tries extlinux.conf before any script: boot.scr never runs
    seen = set()
    for d in uboot.SCRIPT_DIRS:
        source = read_text(guest, f"{d}/boot.cmd")
        image = None
        for name in uboot.SCRIPT_NAMES:
            path = f"{d}/{name}"
            try:
                if not guest.root.exists(path) or guest.root.resolve(path) in seen:
                    continue
                seen.add(guest.root.resolve(path))
                image = path
                data = guest.root.read(path, limit=uboot.MAX_SCRIPT_BYTES)
                text = uboot.script_of_image(data, path)
            except BcdToolError as exc:
                guest.uboot_scripts.append(UbootScript(path, None, d, error=exc.message,
                                                       source=source and source.path))
                break
            stale = source.path if source is not None and \
                source.text.strip() != text.strip() else None
            guest.uboot_scripts.append(UbootScript(path, text, d, uboot.evaluate(
                text, d, read, exists), stale_source=stale, source=source and source.path))
            break
        if image is None and source is not None and re.search(r"\bbootargs\b", source.text):
            # No image beside it (on another partition, or never compiled): the source says
            # what the script does.
            guest.uboot_scripts.append(UbootScript(source.path, source.text, d, uboot.evaluate(
                source.text, d, read, exists), source=source.path))


def read_refind(guest: Guest) -> None:
    """rEFInd's refind_linux.conf beside the kernels (/boot, or an ESP vendor folder) and the
    manual stanzas of its refind.conf."""
    linux_confs = ["/boot/refind_linux.conf"]
    confs = []
    for esp in ESP_DIRS:
        for vendor in guest.root.listdir(f"{esp}/EFI")[:MAX_EFI_VENDORS]:
            linux_confs.append(f"{esp}/EFI/{vendor}/refind_linux.conf")
        confs += [f"{esp}/{folder}/refind.conf" for folder in refind.CONF_FOLDERS]
    for paths, parse, what in ((linux_confs, refind.linux_conf, "refind_linux.conf"),
                               (confs, refind.manual_options, "refind.conf options")):
        for tf in _distinct_files(guest, paths):
            guest.refind_files.append(tf)
            for o in parse(tf.text):
                guest.refind_lines.append(KernelLine(tf, o.line, what, o.span[0], o.span[1],
                                                     o.title))


def read_lilo(guest: Guest) -> None:
    guest.lilo = read_text(guest, LILO_CONF)
    guest.zipl_conf = read_text(guest, ZIPL_CONF)
    guest.zipl = next((p for p in ("/usr/sbin/zipl", "/sbin/zipl") if guest.root.exists(p)),
                      None)


def read_efi_loaders(guest: Guest) -> None:
    """What says which EFI boot loader is installed: loader.conf, the loaders' own folders, and
    what the removable-media path EFI/BOOT/BOOT*.EFI is (the firmware's boot order lives in
    NVRAM, which an offline guest does not have)."""
    for tf in _distinct_files(guest, LOADER_CONF_PATHS):
        guest.loader_conf = tf
        guest.efi_loaders.append((tf.path, "systemd-boot's loader.conf"))
        break
    for esp in ESP_DIRS:
        for vendor in guest.root.listdir(f"{esp}/EFI")[:MAX_EFI_VENDORS]:
            folder = f"{esp}/EFI/{vendor}"
            for name in guest.root.listdir(folder)[:MAX_EFI_VENDORS]:
                low = name.lower()
                if not low.endswith(".efi"):
                    continue
                if low.startswith("systemd-boot"):
                    guest.efi_loaders.append((f"{folder}/{name}", "systemd-boot binary"))
                elif low.startswith(("grub", "shim")) and vendor.lower() != "boot":
                    guest.efi_loaders.append((f"{folder}/{name}", "GRUB (or shim) binary"))
                elif vendor.lower() == "boot" and low.startswith("boot"):
                    guest.efi_loaders.append((f"{folder}/{name}",
                                              "fallback path, " + _efi_identity(guest,
                                                                                 f"{folder}/{name}")))


def _efi_identity(guest: Guest, path: str) -> str:
    """Which loader an EFI binary is, from its PE sections (systemd-boot's `.sdmagic`, the
    `.sbat` component names of GRUB and shim)."""
    try:
        secs = uki.sections(guest.root.read_head(path, uki.HEAD_BYTES), path)
    except BcdToolError:
        return "not readable as a PE image"
    if ".sdmagic" in secs:
        return "systemd-boot binary"
    sbat = secs.get(".sbat") or b""
    names = {ln.split(b",", 1)[0] for ln in sbat.splitlines()}
    if b"shim" in names:
        return "shim (starts GRUB)"
    if b"grub" in names or ".mods" in secs or "mods" in secs:
        return "GRUB binary"
    return "unknown loader"


#: os-release IDs of systems whose boot configuration is generated from elsewhere (an API, a
#: machine config, a signed kernel partition): editing their files offline is wrong or lost.
_IMMUTABLE_IDS = {"talos": "Talos Linux", "chromeos": "ChromeOS", "chromiumos": "ChromiumOS",
                  "bottlerocket": "Bottlerocket", "fedora-coreos": "Fedora CoreOS (ostree)",
                  "rhcos": "Red Hat CoreOS (ostree)", "ubuntu-core": "Ubuntu Core"}


#: Systems whose root is read-only by design, changed only through transactional-update.
_TRANSACTIONAL_IDS = {"opensuse-microos", "sle-micro", "suse-microos", "opensuse-leap-micro",
                      "microos", "transactional"}


def read_immutable(guest: Guest) -> None:
    """Immutable systems, and roots that are mounted read-only by design (transactional)."""
    osr = guest.os_release
    ident = osr.get("ID", "")
    if ident in _IMMUTABLE_IDS:
        guest.immutable = (_IMMUTABLE_IDS[ident], "/etc/os-release")
    elif guest.root.kind("/ostree") == "dir" or any(
            "ostree=" in k.args_text for k in guest.kernel_lines):
        guest.immutable = ("an ostree system (rpm-ostree/bootc)", "/ostree")
    # transactional-update can be installed on an ordinary read-write root too: only the
    # systems built around it (a read-only root) are refused.
    for path in ("/usr/sbin/transactional-update", "/sbin/transactional-update"):
        if guest.root.exists(path) and _TRANSACTIONAL_IDS & set(
                f"{ident} {osr.get('VARIANT_ID', '')}".split()):
            guest.read_only_root = ("transactional-update (openSUSE MicroOS, SLE Micro)", path)
            return
    fstab = read_text(guest, "/etc/fstab")
    for lineno, line in enumerate(fstab.text.splitlines() if fstab else [], 1):
        f = line.split()
        if len(f) >= 4 and f[1] == "/" and not f[0].startswith("#") \
                and "ro" in f[3].split(","):
            guest.read_only_root = ("/ is mounted read-only", f"/etc/fstab:{lineno}")


def read_cloud(guest: Guest) -> None:
    """The cloud the guest was made for: cloud-init's datasource_list, or the distribution."""
    texts = []
    for path in [CLOUD_CFG, *guest.root.glob(CLOUD_CFG_D, ".cfg")]:
        tf = read_text(guest, path)
        if tf is not None:
            texts.append(tf)
    for tf in reversed(texts):            # later files override earlier ones
        m = re.search(r"^datasource_list:\s*\[\s*['\"]?([A-Za-z0-9]+)", tf.text, re.M)
        if m:
            guest.cloud = m.group(1)
            return
    if guest.os_release.get("ID") == "amzn":
        guest.cloud = "Ec2"


def _init_name(root: GuestRoot) -> str | None:
    """The file name /sbin/init resolves to (`systemd`, `runit-init`, `busybox`, `init`)."""
    for path in ("/sbin/init", "/usr/sbin/init"):
        try:
            if root.kind(path) == "file":
                parts = root.resolve(path)
                return parts[-1] if parts else None
        except BcdToolError:
            return None
    return None


def read_runit(guest: Guest, init_name: str | None) -> None:
    """runit as init (Void, Debian runit-init): service folders and the default runsvdir."""
    root = guest.root
    guest.runit = (init_name is not None and "runit" in init_name) or (
        init_name is None and root.kind("/etc/runit/1") == "file")
    if not guest.runit:
        return
    # Debian's /etc/runit/2 starts the runsvdir named in /etc/runit/default.runsvdir.
    named = read_text(guest, "/etc/runit/default.runsvdir")
    if named is not None and re.fullmatch(r"[A-Za-z0-9_.-]+", named.text.strip()):
        guest.runit_dir = f"/etc/runit/runsvdir/{named.text.strip()}"
    guest.runit_services = [p for p in root.glob(RUNIT_SV) if _kind(guest, p) == "dir"]
    for name in root.listdir(guest.runit_dir):
        path = f"{guest.runit_dir}/{name}"
        guest.runit_enabled[path] = root.readlink(path) or ""


def _kind(guest: Guest, path: str) -> str | None:
    """What `path` is (links followed inside the guest); a loop or an unusable link is a
    FileIssue and counts as nothing."""
    try:
        return guest.root.kind(path)
    except BcdToolError as exc:
        if all(i.path != path for i in guest.issues):
            guest.issues.append(FileIssue(path, exc.message))
        return None


def read_dinit(guest: Guest, init_name: str | None) -> bool:
    """dinit as init (Chimera Linux): the agetty-* service files and the boot.d links."""
    root = guest.root
    if init_name != "dinit" and not (root.kind(DINIT_BOOT) == "dir" and any(
            root.exists(p) for p in DINIT_BINARIES)):
        return False
    guest.runit_dir = DINIT_BOOT
    guest.runit_services = [f"{d}/{n}" for d in DINIT_DIRS
                            for n in root.listdir(d)[:MAX_BLS_ENTRIES]
                            if n.startswith(("agetty-", "getty-"))
                            and _kind(guest, f"{d}/{n}") == "file"]
    for name in root.listdir(DINIT_BOOT):
        path = f"{DINIT_BOOT}/{name}"
        guest.runit_enabled[path] = root.readlink(path) or ""
    return True


def _s6_kind(root: GuestRoot, init_name: str | None) -> str | None:
    """"66" (Obarun's 66 suite on s6) or "s6" (s6-linux-init with s6-rc: Artix), or None."""
    if root.kind("/etc/66") == "dir" or init_name in ("66", "66-boot"):
        return "66"
    if root.kind("/etc/s6-linux-init") == "dir" or init_name == "s6-linux-init" or (
            root.kind("/etc/s6") == "dir" and root.exists("/usr/bin/s6-svscan")):
        return "s6"
    return None


def _speed_on_line(tf: TextFile, lineno: int) -> GettySpeed | None:
    start, end = tf.line_span(lineno)
    found = gettyspeed.speed_span(tf.text[start:end])
    return None if found is None else GettySpeed(tf.path, tf, lineno,
                                                 (start + found[0], start + found[1]), found[2])


def _openrc_speed(guest: Guest, device: str) -> GettySpeed:
    """OpenRC's agetty service passes `${baud}` from /etc/conf.d/agetty, then
    /etc/conf.d/agetty.<port> (sourced in that order); unset, agetty falls back to 9600."""
    own = f"/etc/conf.d/agetty.{device}"
    files = [tf for tf in (read_text(guest, "/etc/conf.d/agetty"), read_text(guest, own))
             if tf is not None]
    env = shell.parse([(tf.path, tf.text) for tf in files])
    a = env.last("baud")
    speeds = [int(x) for x in (a.value or "").split(",") if x.isdigit()] if a else []
    if a is not None and speeds and not a.word.unknown:
        tf = next(f for f in files if f.path == a.file)
        return GettySpeed(tf.path, tf, a.line, a.inner, speeds)
    return GettySpeed(own, None, None, (0, 0), [9600])


def _runit_speed(guest: Guest, service: str) -> GettySpeed | None:
    """Void: BAUD_RATE= in the service's conf; Debian getty-run: the getty line of its run;
    dinit (Chimera): GETTY_BAUD= in /etc/default/<service> (unset: not known here)."""
    name = service.rsplit("/", 1)[1]
    conf = read_text(guest, f"/etc/default/{name}" if guest.init == "dinit"
                     else f"{service}/conf")
    if guest.init == "dinit" and conf is None:
        return None
    if conf is not None:
        for a in shell.parse([(conf.path, conf.text)]).assignments:
            if a.name in ("BAUD_RATE", "GETTY_BAUD") and a.value and a.value.isdigit() \
                    and not a.word.unknown:
                start, end = a.inner
                return GettySpeed(conf.path, conf, a.line, (start, end), [int(a.value)])
    run = read_text(guest, f"{service}/run") if guest.init == "runit" else None
    if run is None:
        return None
    found = None
    for lineno, line in enumerate(run.text.split("\n"), 1):
        if not line.lstrip().startswith("#") and gettyspeed.speed_span(line) is not None:
            found = _speed_on_line(run, lineno)     # the last getty line is the one exec'd
    return found


def read_init(guest: Guest, device: str) -> None:
    root = guest.root
    # systemctl on Debian-family guests links to /lib/systemd/system, elsewhere to /usr/lib.
    family = (guest.os_release.get("ID", "") + " " + guest.os_release.get("ID_LIKE", "")).split()
    dirs = ["/lib/systemd/system", "/usr/lib/systemd/system"]
    if not {"debian", "ubuntu"} & set(family):
        dirs.reverse()
    for d in dirs:
        if root.kind(f"{d}/serial-getty@.service") == "file" and guest.unit_path is None:
            guest.unit_path = f"{d}/serial-getty@.service"
    has_systemd = any(root.exists(p) for p in ("/lib/systemd/systemd", "/usr/lib/systemd/systemd"))
    init_name = _init_name(root)
    read_runit(guest, init_name)
    s6 = _s6_kind(root, init_name)
    if guest.runit:
        guest.init = "runit"
    elif read_dinit(guest, init_name):
        guest.init = "dinit"
    elif init_name == "init" and root.exists("/etc/inittab"):
        guest.init = "sysv"             # sysvinit-core's /sbin/init, even with systemd installed
    elif has_systemd or guest.unit_path or guest.os_release.get("ID") == "nixos":
        guest.init = "systemd"          # NixOS keeps systemd in /nix/store, always
    elif root.exists("/etc/init") and any(n.endswith(".conf") for n in root.listdir("/etc/init")):
        guest.init = "upstart"
    elif s6 is not None:                # after systemd: s6 may be installed beside it
        guest.init = s6
    elif _is_busybox(root, "/sbin/init"):
        guest.init = "busybox"
    elif root.exists("/etc/inittab"):
        guest.init = "sysv"
    guest.openrc = any(root.exists(p) for p in ("/sbin/openrc", "/usr/sbin/openrc",
                                                "/sbin/openrc-run", "/etc/runlevels"))
    if guest.openrc:
        if root.kind("/etc/init.d/agetty") == "file":
            guest.agetty_service = "/etc/init.d/agetty"
        for level in root.listdir("/etc/runlevels")[:MAX_EFI_VENDORS]:
            for name in root.listdir(f"/etc/runlevels/{level}"):
                if name.startswith("agetty."):
                    path = f"/etc/runlevels/{level}/{name}"
                    guest.openrc_gettys[path] = root.readlink(path) or ""
    guest.getty_masks = []
    for name in (f"getty.target.wants/serial-getty@{device}.service",
                 f"serial-getty@{device}.service", "serial-getty@.service", "getty.target"):
        path = f"/etc/systemd/system/{name}"
        try:
            kind = root.kind(path, follow_last=False)
            guest.getty_links[path] = root.readlink(path) if kind == "link" else (
                "" if kind else None)
            if "/" not in name and _masked(root, path, guest.getty_links[path]):
                guest.getty_masks.append(path)
        except BcdToolError as exc:
            guest.issues.append(FileIssue(path, exc.message))
    guest.inittab = read_text(guest, "/etc/inittab")
    guest.getty_speed = None
    if guest.inittab is not None and guest.init in ("sysv", "busybox"):
        entry = inittab.getty_on(guest.inittab.text, device, busybox=guest.init == "busybox")
        if entry is not None:
            guest.getty_speed = _speed_on_line(guest.inittab, entry.line)
    service = guest.runit_service(device) if guest.init in ("runit", "dinit") else None
    if service is not None:
        guest.getty_speed = _runit_speed(guest, service)
    if guest.openrc and guest.agetty_service is not None and guest.getty_speed is None:
        guest.getty_speed = _openrc_speed(guest, device)
    if root.exists("/etc/init/serial.conf"):
        guest.upstart_serial = "/etc/init/serial.conf"
    guest.securetty = read_text(guest, "/etc/securetty")
    pam = read_text(guest, "/etc/pam.d/login")
    guest.pam_securetty = pam is None or "pam_securetty" in pam.text


def _masked(root: GuestRoot, path: str, target: str | None) -> bool:
    """systemd's mask: a link to /dev/null (absolute or relative: systemd resolves it), or an
    empty unit file."""
    if target:
        return posixpath.normpath(posixpath.join(posixpath.dirname(path), target)) == "/dev/null"
    return target == "" and root.kind(path, follow_last=False) == "file" and \
        root.read(path, limit=1) == b""


def read_passwords(guest: Guest) -> None:
    """Which login accounts have a usable password hash (the hashes themselves are dropped)."""
    shadow = read_text(guest, "/etc/shadow")
    if shadow is None:
        return
    passwd = read_text(guest, "/etc/passwd")
    shells = {}
    if passwd is not None:
        for line in passwd.text.splitlines():
            fields = line.split(":")
            if len(fields) >= 7:
                shells[fields[0]] = fields[6].strip()
    usable, locked = [], []
    for lineno, line in enumerate(shadow.text.splitlines(), 1):
        fields = line.split(":")
        if len(fields) < 2 or not fields[0] or line.startswith("#"):
            continue
        name, pw = fields[0], fields[1]
        sh = shells.get(name, "")
        if passwd is not None and (not sh or sh.endswith(("nologin", "/false", "/sync",
                                                           "/shutdown", "/halt"))):
            continue
        if pw.startswith("$") or (len(pw) == 13 and pw.isascii()):
            usable.append((name, lineno))
        else:
            locked.append((name, lineno))
    guest.passwords = {"file": shadow.path, "usable": usable, "locked": locked}


def read_sysctl(guest: Guest) -> None:
    """The value of kernel.sysrq that systemd-sysctl would apply (later files win)."""
    by_name: dict[str, str] = {}
    for d in reversed(SYSCTL_DIRS):
        for path in guest.root.glob(d, ".conf"):
            by_name[path.rsplit("/", 1)[1]] = path  # /etc overrides /usr/lib of the same name
    order = [by_name[n] for n in sorted(by_name)] + ["/etc/sysctl.conf"]
    for path in order:
        tf = read_text(guest, path)
        if tf is None:
            continue
        for lineno, line in enumerate(tf.text.splitlines(), 1):
            key, sep, value = line.partition("=")
            key = key.strip().lstrip("-").replace("/", ".")
            if sep and key == "kernel.sysrq" and not line.lstrip().startswith(("#", ";")):
                guest.sysrq = (path, lineno, value.strip())


def _is_busybox(root: GuestRoot, path: str) -> bool:
    """True when `path` is (a link to) BusyBox."""
    try:
        parts = root.resolve(path)
    except BcdToolError:
        return False
    return bool(parts) and parts[-1] == "busybox" and root.kind(path) == "file"


def read_guest(root: GuestRoot, device: str | None = None) -> Guest:
    """Read every source from a guest root; `device` (validated) overrides the port choice."""
    if device is not None:
        cmdline.validate_device(device)
    guest = Guest(root=root)
    read_os_release(guest)
    read_arch(guest)
    read_grub_defaults(guest)
    read_grub_cfgs(guest)
    read_bls(guest)
    read_legacy(guest)
    read_extlinux(guest)
    read_regenerated(guest)
    read_ukis(guest)
    read_rpi(guest)
    read_lilo(guest)
    read_refind(guest)
    read_uboot(guest)
    read_efi_loaders(guest)
    read_immutable(guest)
    read_cloud(guest)
    read_init(guest, "ttyS0")
    if device is not None:
        guest.device, guest.device_reason = device, "--device"
    else:
        guest.device, guest.device_reason = choose_device(guest)
    guest.baud, guest.baud_reason = choose_baud(guest, guest.device)
    guest.getty_links = {}
    read_init(guest, guest.device)
    read_passwords(guest)
    read_sysctl(guest)
    return guest


#: The serial console each cloud gives an Arm guest (AWS Graviton: a 16550 UART at ttyS0).
_ARM_CLOUD_CONSOLE = {"ec2": "ttyS0", "aws": "ttyS0", "azure": "ttyAMA0", "gce": "ttyAMA0",
                      "oracle": "ttyAMA0", "openstack": "ttyAMA0", "nocloud": "ttyAMA0"}


def choose_device(guest: Guest) -> tuple[str, str]:
    """The serial port to check and fix, and why: what the guest already uses first (a serial
    console= on its command lines, its cloud, its serial gettys), then the architecture.

    On x86 the serial console is COM1 (ttyS0) on every cloud and hypervisor; Arm machines differ
    (PL011 ttyAMA0 on Azure and QEMU virt, a 16550 at ttyS0 on AWS Graviton), so there the
    guest's own configuration decides.
    """
    arm = guest.arch in ("aarch64", "arm")
    if guest.arch in PC_ARCHES:
        for text, where in _command_line_texts(guest):
            serial = [c for c in cmdline.consoles(cmdline.args_of(text)) if c.serial]
            if serial and cmdline.hypervisor_console(serial[-1].device):
                # A Xen PV guest (PV-GRUB or pygrub boots it) has no COM port: hvc0 is its
                # console.
                return serial[-1].device, ("the guest's kernel command line names the "
                                           f"hypervisor console ({where}): a Xen PV guest, "
                                           "no COM port")
        return "ttyS0", f"{guest.arch}: COM1"
    for text, where in _command_line_texts(guest):
        serial = [c for c in cmdline.consoles(cmdline.args_of(text)) if c.serial]
        if serial and cmdline.DEVICE_NAME.match(serial[-1].device):
            return serial[-1].device, f"the guest's kernel command line names it ({where})"
    for script in guest.uboot_scripts:
        named = uboot.serial_consoles_named(script.text or "")
        if named:
            return named[-1][0], f"its U-Boot script names it ({script.path})"
    if arm and guest.cloud and guest.cloud.lower() in _ARM_CLOUD_CONSOLE:
        return (_ARM_CLOUD_CONSOLE[guest.cloud.lower()],
                f"cloud-init datasource {guest.cloud} (its Arm instances use this port)")
    for path, target in guest.getty_links.items():
        m = re.search(r"/getty\.target\.wants/serial-getty@([A-Za-z0-9]+)\.service$", path)
        if m and target and cmdline.DEVICE_NAME.match(m.group(1)) and \
                not _masked(guest.root, path, target):
            return m.group(1), f"a serial getty is enabled there ({path})"
    for path in guest.root.listdir("/etc/systemd/system/getty.target.wants"):
        m = re.fullmatch(r"serial-getty@([A-Za-z0-9]+)\.service", path)
        if m and cmdline.DEVICE_NAME.match(m.group(1)):
            return m.group(1), ("a serial getty is enabled there (/etc/systemd/system/"
                                f"getty.target.wants/{path})")
    if guest.inittab is not None:
        for line in guest.inittab.text.splitlines():
            m = re.search(rf"getty\b.*\b({cmdline.SERIAL_NAME})\b", line)
            if m and not line.lstrip().startswith("#"):
                return m.group(1), "/etc/inittab runs a getty there"
    for path in guest.openrc_gettys:
        return path.rsplit(".", 1)[-1], f"OpenRC starts agetty there ({path})"
    if guest.rpi_config is not None:
        return "serial0", ("Raspberry Pi firmware (config.txt): serial0 is the primary UART, "
                           "ttyAMA0 or ttyS0 by model")
    if arm:
        return "ttyAMA0", f"{guest.arch}: the PL011 UART (Azure, QEMU virt); nothing in the " \
                          "guest names another port"
    if guest.arch in _ARCH_CONSOLE:
        return _ARCH_CONSOLE[guest.arch]
    return "ttyS0", "no serial console named in the guest"


#: The console of machines that are neither PCs nor Arm, when the guest names none.
_ARCH_CONSOLE = {
    "ppc64": ("hvc0", "IBM Power (ppc64/ppc64le): the hypervisor's virtual console hvc0 "
                      "(PowerVM, KVM pseries, OPAL); nothing in the guest names another port"),
    "s390x": ("ttysclp0", "IBM Z (s390x): the SCLP VT220 console; nothing in the guest names "
                          "another port"),
    "riscv64": ("ttyS0", "riscv64: the 16550 UART of QEMU virt and most boards; nothing in the "
                         "guest names another port"),
}


def _command_line_texts(guest: Guest) -> list[tuple[str, str]]:
    """Every kernel command line text the guest holds, with where it is."""
    texts = [(k.args_text, f"{k.file.path}:{k.line}") for k in guest.kernel_lines]
    for a in guest.grub_env.assignments + guest.update_extlinux_env.assignments + \
            guest.sysconfig_env.assignments:
        texts.append((a.value or "", f"{a.file}:{a.line}"))
    if guest.grubenv is not None and "kernelopts" in guest.grubenv.values:
        texts.append((guest.grubenv.values["kernelopts"], guest.grubenv.file.path))
    for script in guest.uboot_scripts:
        if script.outcome is not None and script.outcome.bootargs is not None:
            texts.append((script.outcome.bootargs, f"{script.path}:{script.outcome.line}"))
    return texts


def choose_baud(guest: Guest, device: str) -> tuple[int, str]:
    """The speed `fix` writes without --baud: 115200, except on Arm (and other non-PC) boards
    whose guest names another speed for the port, as their boot ROM and U-Boot run the UART at a
    fixed speed (Rockchip: 1500000) that the kernel must keep (with no architecture evidence,
    only a speed above a PC port's is kept)."""
    if guest.arch in PC_ARCHES:
        return 115200, "PC COM port"
    found = [(c.speed, where) for text, where in _command_line_texts(guest)
             for c in cmdline.consoles(cmdline.args_of(text)) if c.device == device and c.speed]
    found += [(speed, s.path) for s in guest.uboot_scripts
              for dev, speed in uboot.serial_consoles_named(s.text or "")
              if dev == device and speed]
    for speed, where in found:
        # An unknown architecture keeps only a speed no PC port has (a board's).
        if speed in cmdline.STANDARD_BAUDS and (guest.arch is not None
                                                or speed > cmdline.PC_MAX_BAUD):
            return speed, f"the guest runs {device} at {speed} ({where})"
    return 115200, "the usual speed"


def default_device(guest: Guest) -> str:
    """The serial port chosen for this guest (see choose_device)."""
    return guest.device
