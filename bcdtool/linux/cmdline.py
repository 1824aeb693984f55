"""Kernel command lines: tokenize with spans, read `console=`, and plan text-preserving edits.

A command line may be split over several *segments* of text that the boot loader joins in order
(GRUB_CMDLINE_LINUX then GRUB_CMDLINE_LINUX_DEFAULT, or grubenv's `$kernelopts` then a BLS
options line).  Edits return new segment texts in which every untouched byte is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bcdtool.errors import InvalidArgumentError

#: Serial console device names the kernel accepts, by driver: 8250/16550 ttyS, PL011 ttyAMA,
#: Amlogic ttyAML, Qualcomm ttyMSM/ttyHSL/ttyHS, Rockchip's vendor ttyFIQ, i.MX ttymxc and
#: LPUART ttyLP, NXP LINFlex ttyLF, SiFive ttySIF, OMAP ttyO, Xilinx Zynq ttyPS and uartlite
#: ttyUL, Renesas ttySC, Samsung ttySAC, STM32 ttySTM, Tegra ttyTHS, Marvell ttyMV, Atheros
#: ttyATH, USB serial ttyUSB, the hypervisor consoles (hvc: Xen, KVM virtio, IBM Power; xvc:
#: old Xen; hvsi), IBM Z ttysclp; `serial0`/`serial1` are the Raspberry Pi firmware's aliases
#: of its UARTs.  One list: the command line, inittab and U-Boot script readers all use it.
SERIAL_PREFIXES = ("ttyS", "ttyAMA", "ttyAML", "ttyMSM", "ttyHSL", "ttyHS", "ttyFIQ", "ttymxc",
                   "ttyLP", "ttyLF", "ttySIF", "ttyO", "ttyPS", "ttyUL", "ttySC", "ttySAC",
                   "ttySTM", "ttyTHS", "ttyMV", "ttyATH", "ttyUSB", "hvc", "xvc", "hvsi",
                   "ttysclp", "serial")
#: Consoles a hypervisor provides (Xen PV's hvc0 and the old xvc0, virtio-console, IBM's
#: hvsi): no UART behind them, so no boot loader drives them as a serial port.
HYPERVISOR_PREFIXES = ("hvc", "xvc", "hvsi")
#: A serial device name (no anchors: for use inside larger patterns).
SERIAL_NAME = "(?:" + "|".join(sorted(SERIAL_PREFIXES, key=len, reverse=True)) + r")[0-9]+"
SERIAL_DEVICE = re.compile(rf"^{SERIAL_NAME}$")
#: The serial ports `linux fix` writes (a name that is safe in shell files and unit names).
DEVICE_NAME = re.compile(r"^(tty[A-Za-z]+[0-9]+|hvc[0-9]+|serial[01])$")
#: Speeds GRUB, syslinux and the kernel all accept, then the Arm boards' fixed UART speeds
#: (Rockchip's boot ROM and U-Boot talk at 1500000), which only the kernel and getty take.
STANDARD_BAUDS = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600,
                  1000000, 1500000, 2000000)
#: The fastest speed of a PC COM port (16550 divisor 1): GRUB and syslinux take no more.
PC_MAX_BAUD = 115200
#: Arguments that hide boot messages.
QUIET_ARGS = ("quiet", "rhgb")
#: The kernel's default speed of a serial console given without options.
DEFAULT_SPEED = 9600


@dataclass(frozen=True)
class Token:
    """One argument: its text and where it sits in its segment."""

    text: str
    segment: int
    start: int
    end: int


@dataclass(frozen=True)
class Console:
    """A parsed `console=` value."""

    device: str
    speed: int | None
    options: str

    @property
    def serial(self) -> bool:
        """True for a serial device (not a virtual terminal such as tty0)."""
        return bool(SERIAL_DEVICE.match(self.device))

    @property
    def effective_speed(self) -> int:
        """The speed the kernel uses (9600 when none is given)."""
        return self.speed or DEFAULT_SPEED


def tokenize(text: str, segment: int = 0) -> list[Token]:
    """Split a command line at whitespace outside double quotes, keeping spans."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start, quoted = i, False
        while i < n and (quoted or not text[i].isspace()):
            if text[i] == '"':
                quoted = not quoted
            i += 1
        tokens.append(Token(text[start:i], segment, start, i))
    return tokens


def parse_console(value: str) -> Console:
    """Parse the value of `console=` (e.g. `ttyS0,115200n8`)."""
    device, _, options = value.partition(",")
    match = re.match(r"^(\d+)", options)
    return Console(device=device, speed=int(match.group(1)) if match else None, options=options)


def consoles(args: list[str]) -> list[Console]:
    """The `console=` values of a list of arguments, in order."""
    return [parse_console(a[len("console="):]) for a in args if a.startswith("console=")]


def args_of(text: str) -> list[str]:
    """The argument texts of a command line."""
    return [t.text for t in tokenize(text)]


def hypervisor_console(device: str) -> bool:
    """True for a hypervisor's console (hvc0, xvc0, hvsi0), which is no boot loader's port."""
    return bool(re.fullmatch("(?:" + "|".join(HYPERVISOR_PREFIXES) + r")[0-9]+", device))


def validate_device(device: str) -> str:
    """`device` when it is a serial port name we may write; InvalidArgumentError otherwise.

    The name ends up in shell-sourced files, boot loader configs, inittab and symlink names, so
    only `ttyXXXN` and `hvcN` are accepted (no spaces, quotes, slashes or newlines).
    """
    if not isinstance(device, str) or not DEVICE_NAME.match(device) or "\n" in device:
        raise InvalidArgumentError(f"invalid serial device {device!r}: give a port name such as "
                                   "ttyS0, ttyAMA0 or hvc0 (no /dev/ prefix)")
    return device


def validate_baud(baud: int) -> int:
    """`baud` when it is a standard serial speed; InvalidArgumentError otherwise."""
    if isinstance(baud, bool) or not isinstance(baud, int) or baud not in STANDARD_BAUDS:
        raise InvalidArgumentError(f"unsupported serial speed {baud!r}: use one of "
                                   + ", ".join(map(str, STANDARD_BAUDS)))
    return baud


def desired_arg(device: str, baud: int) -> str:
    """The `console=` argument bcdtool writes (device and speed validated first)."""
    return f"console={validate_device(device)},{validate_baud(baud)}n8"


def _remove(text: str, tok: Token) -> str:
    """Cut a token and the whitespace before it (or after it when it starts the text)."""
    start, end = tok.start, tok.end
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    if start == 0:
        while end < len(text) and text[end] in " \t":
            end += 1
    return text[:start] + text[end:]


def plan_console_edit(segments: list[str], device: str, baud: int, *, append_to: int,
                      drop: tuple[str, ...] = QUIET_ARGS) -> tuple[list[str], list[str]]:
    """New segment texts where `console=<device>` is the last console at `baud`; plus notes.

    Every other argument keeps its place and its bytes.  When the line had no `console=` at all,
    `console=tty0` is added first so the screen keeps its kernel messages.
    """
    notes: list[str] = []
    removals: list[Token] = []
    replace: dict[Token, str] = {}
    insert_after: Token | None = None
    tokens = [t for i, s in enumerate(segments) for t in tokenize(s, i)]
    for tok in tokens:
        if tok.text in drop:
            removals.append(tok)
            notes.append(f"removed `{tok.text}` so that boot messages reach the serial console")
    console_toks = [t for t in tokens if t.text.startswith("console=")]
    ours = [t for t in console_toks if parse_console(t.text[8:]).device == device]
    want = desired_arg(device, baud)
    # A hypervisor console has no line speed: `console=hvc0` as written is kept.
    speed_matters = not hypervisor_console(device)
    append_text: str | None = None
    if console_toks and console_toks[-1] in ours:
        last = parse_console(console_toks[-1].text[8:])
        if last.effective_speed != baud and speed_matters:
            replace[console_toks[-1]] = want
    else:
        removals.extend(ours)
        others = [t for t in console_toks if t not in ours]
        if others:
            insert_after = others[-1]
        else:
            append_text = "console=tty0 " + want  # no console= at all: keep the screen too
    # Device tokens of the same port elsewhere keep their place but get the same speed.
    for tok in ours:
        if tok not in removals and tok not in replace and speed_matters:
            if parse_console(tok.text[8:]).effective_speed != baud:
                replace[tok] = want
    out = []
    for index, text in enumerate(segments):
        edits = sorted([t for t in removals if t.segment == index] +
                       [t for t in replace if t.segment == index] +
                       ([insert_after] if insert_after and insert_after.segment == index else []),
                       key=lambda t: t.start, reverse=True)
        for tok in edits:
            if tok is insert_after:
                text = text[:tok.end] + " " + want + text[tok.end:]
            elif tok in replace:
                text = text[:tok.start] + replace[tok] + text[tok.end:]
            else:
                text = _remove(text, tok)
        if append_text and index == append_to:
            stripped = text.rstrip(" \t")
            sep = " " if stripped.strip() else ""
            text = stripped + sep + append_text + text[len(stripped):]
        out.append(text)
    return out, notes


def serial_verdict(args: list[str]) -> tuple[Console | None, list[Console]]:
    """The console that owns /dev/console (the last `console=`) and every serial console."""
    found = consoles(args)
    return (found[-1] if found else None), [c for c in found if c.serial]
