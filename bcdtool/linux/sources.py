"""Read every serial-console-related configuration source of a guest root (read only).

Each reader returns plain data with the guest path and line numbers it came from.  A file that
cannot be read (binary, oversized, a hostile symlink) becomes a `FileIssue`, never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from bcdtool.errors import BcdToolError, NotFoundError
from bcdtool.linux import shell
from bcdtool.linux.paths import GuestRoot

GRUB_DEFAULT = "/etc/default/grub"
GRUB_DEFAULT_D = "/etc/default/grub.d"
GRUB_CFG_DIRS = ("/boot/grub", "/boot/grub2")
LEGACY_GRUB = ("/boot/grub/grub.conf", "/boot/grub/menu.lst", "/etc/grub.conf")
GRUBENV_PATHS = ("/boot/grub2/grubenv", "/boot/grub/grubenv")
BLS_DIR = "/boot/loader/entries"
SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d",
               "/lib/sysctl.d")
GRUBENV_SIZE = 1024
#: Arguments that mark a rescue entry, which is not expected to carry the serial console.
RESCUE_ARGS = ("single", "recovery", "emergency", "systemd.unit=rescue.target")
MAX_EFI_VENDORS = 64

_LINUX_CMD = re.compile(r"^([ \t]*)(linux|linux16|linuxefi)([ \t]+)(\S+)([ \t]*)(.*)$")
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
    init: str = "unknown"               # systemd | upstart | sysv | unknown
    unit_path: str | None = None        # where serial-getty@.service lives
    getty_links: dict[str, str | None] = field(default_factory=dict)
    inittab: TextFile | None = None
    upstart_serial: str | None = None
    securetty: TextFile | None = None
    pam_securetty: bool = False
    passwords: dict | None = None
    sysrq: tuple[str, int, str] | None = None   # (file, line, value)
    issues: list[FileIssue] = field(default_factory=list)

    @property
    def main_cfgs(self) -> list[TextFile]:
        """The grub.cfg files GRUB boots from (with `linux` lines or BLS), not EFI stubs."""
        return [tf for tf in self.grub_cfgs
                if any(k.file is tf for k in self.linux_lines)
                or re.search(r"^\s*blscfg\b", tf.text, re.M)]

    @property
    def kernel_lines(self) -> list[KernelLine]:
        """Every boot-time kernel command line found."""
        return self.linux_lines + self.bls_options + self.legacy_kernels


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
        if m and not line.lstrip().startswith("#"):
            out.append(KernelLine(tf, lineno, m.group(2), offset + m.start(6), offset + m.end(6),
                                  title))
        offset += len(line) + 1
    return out


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
    for path in ("/bin/sh", "/usr/bin/sh", "/sbin/init", "/usr/bin/bash"):
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
    for path in guest.root.glob(BLS_DIR, ".conf"):
        tf = read_text(guest, path)
        if tf is None:
            continue
        guest.bls_entries.append(tf)
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
    if has_systemd or guest.unit_path:
        guest.init = "systemd"
    elif root.exists("/etc/init") and any(n.endswith(".conf") for n in root.listdir("/etc/init")):
        guest.init = "upstart"
    elif root.exists("/etc/inittab"):
        guest.init = "sysv"
    for name in (f"getty.target.wants/serial-getty@{device}.service",
                 f"serial-getty@{device}.service", "serial-getty@.service"):
        path = f"/etc/systemd/system/{name}"
        try:
            kind = root.kind(path, follow_last=False)
            guest.getty_links[path] = root.readlink(path) if kind == "link" else (
                "" if kind else None)
        except BcdToolError as exc:
            guest.issues.append(FileIssue(path, exc.message))
    guest.inittab = read_text(guest, "/etc/inittab")
    if root.exists("/etc/init/serial.conf"):
        guest.upstart_serial = "/etc/init/serial.conf"
    guest.securetty = read_text(guest, "/etc/securetty")
    pam = read_text(guest, "/etc/pam.d/login")
    guest.pam_securetty = pam is None or "pam_securetty" in pam.text


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


def read_guest(root: GuestRoot, device: str | None = None) -> Guest:
    """Read every source from a guest root; `device` defaults by architecture."""
    guest = Guest(root=root)
    read_os_release(guest)
    read_arch(guest)
    read_grub_defaults(guest)
    read_grub_cfgs(guest)
    read_bls(guest)
    read_legacy(guest)
    read_init(guest, device or default_device(guest))
    read_passwords(guest)
    read_sysctl(guest)
    return guest


def default_device(guest: Guest) -> str:
    """ttyAMA0 on Arm guests (PL011), ttyS0 elsewhere."""
    if guest.arch is None:
        # No readable ELF to tell: trust a PL011 console the configuration already names.
        text = " ".join(v or "" for v in guest.grub_env.values.values())
        text += " ".join(k.args_text for k in guest.kernel_lines)
        if "console=ttyAMA" in text:
            return "ttyAMA0"
    return "ttyAMA0" if guest.arch in ("aarch64", "arm") else "ttyS0"
