"""U-Boot boot scripts: `boot.scr` (mkimage's legacy image of `boot.cmd`) and the environment
files they import (Armbian's `armbianEnv.txt`), read and evaluated without running anything.

U-Boot's distro boot loads `boot.scr` from the boot partition's `/` or `/boot/` and runs it; the
script sets `bootargs` (the kernel command line) and boots with `booti`/`bootz`/`bootm`.  This
module evaluates the small subset of U-Boot's hush shell that such scripts use: `setenv`/`env
set`, `NAME=value`, `if test ...; then ...; else ...; fi` (with `||`/`&&`), `load` followed by
`env import -t` (the text environment file), and `${var}` expansion (unset is empty).  Loops are
skipped (they apply device-tree overlays) and what they set becomes *uncertain*; so does what a
condition it cannot decide sets.  A `bootargs` built from an uncertain value is not known.

The legacy image is a 64-byte big-endian header (magic 0x27051956, CRCs of header and data, type
6 = script) followed by a table of 32-bit part sizes ending in 0 and the script itself (U-Boot's
include/image.h; mkimage -T script).  A changed boot.cmd does nothing until mkimage runs again,
so bcdtool edits the environment file the script imports, never the image.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from construct import Bytes, Const, Int8ub, Int32ub, Struct

from bcdtool import _construct
from bcdtool.errors import FormatError
from bcdtool.linux import cmdline

#: Script names U-Boot's distro boot tries, and the folders (of the root) they sit in.
SCRIPT_NAMES = ("boot.scr", "boot.scr.uimg")
SCRIPT_DIRS = ("/boot", "")
#: What distro boot's scan tries before the scripts (scan_dev_for_extlinux comes first).
EXTLINUX_FIRST = ("/boot/extlinux/extlinux.conf", "/extlinux/extlinux.conf")
MAX_SCRIPT_BYTES = 256 * 1024
MAX_COMMANDS = 20_000
#: Longest variable value kept (a kernel command line is at most a few KiB).
MAX_VALUE = 16 * 1024
#: Variables tried as the place for the console (each try evaluates the script again).
MAX_CANDIDATES = 8
IH_TYPE_SCRIPT = 6
#: Variables boot scripts document as the user's own additions to the command line.
USER_VARIABLES = ("extraargs",)

ImageHeader = Struct(
    "magic" / Const(0x27051956, Int32ub),
    "hcrc" / Int32ub,
    "time" / Int32ub,
    "size" / Int32ub,
    "load" / Int32ub,
    "ep" / Int32ub,
    "dcrc" / Int32ub,
    "os" / Int8ub,
    "arch" / Int8ub,
    "type" / Int8ub,
    "comp" / Int8ub,
    "name" / Bytes(32),
)
HEADER_SIZE = 64
_BOOT_COMMANDS = ("booti", "bootz", "bootm")
_LOAD_COMMANDS = ("load", "fatload", "ext4load", "ext2load")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def script_of_image(data: bytes, path: str | None = None) -> str:
    """The script text inside a mkimage script image (FormatError when it is not one, or its
    CRCs do not match: U-Boot would refuse to run it too)."""
    head = _construct.parse(ImageHeader, data, what="U-Boot image header", path=path)
    if head.type != IH_TYPE_SCRIPT or head.comp != 0:
        raise FormatError(f"U-Boot image of type {head.type} (compression {head.comp}), not an "
                          "uncompressed script", path=path)
    blank = bytes(data[:4]) + b"\0\0\0\0" + bytes(data[8:HEADER_SIZE])
    if zlib.crc32(blank) != head.hcrc:
        raise FormatError("U-Boot image header CRC mismatch", path=path)
    body = bytes(data[HEADER_SIZE:HEADER_SIZE + head.size])
    if len(body) != head.size or zlib.crc32(body) != head.dcrc:
        raise FormatError("U-Boot script data is truncated or its CRC does not match", path=path)
    sizes, pos = [], 0
    while pos + 4 <= len(body) and len(sizes) < 64:
        n = int.from_bytes(body[pos:pos + 4], "big")
        pos += 4
        if n == 0:
            break
        sizes.append(n)
    if not sizes or pos + sizes[0] > len(body):
        raise FormatError("U-Boot script image has no script part", path=path)
    return body[pos:pos + sizes[0]].split(b"\0", 1)[0].decode("utf-8", "replace")


def parse_env(text: str) -> dict[str, tuple[str, int, tuple[int, int]]]:
    """`env import -t` text: name -> (value, line, span of the value); `#` lines are comments
    and an empty value deletes the variable."""
    out: dict[str, tuple[str, int, tuple[int, int]]] = {}
    offset = 0
    for lineno, line in enumerate(text.split("\n"), 1):
        body = line.rstrip("\r")
        name, sep, value = body.partition("=")
        if sep and not body.startswith("#") and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name):
            if value:
                start = offset + len(name) + 1
                out[name] = (value, lineno, (start, start + len(value)))
            else:
                out.pop(name, None)
        offset += len(line) + 1
    return out


@dataclass
class Outcome:
    """What a script gives the kernel: `bootargs` (None: not known, `reason` says why), the
    line that last set it, and the environment files it imported (guest paths)."""

    bootargs: str | None
    line: int | None
    reason: str = ""
    imported: list[str] = field(default_factory=list)
    #: `${NAME}` references standing as whole arguments in every command that set bootargs.
    references: list[str] = field(default_factory=list)
    #: Variables the script itself gives their final value (an imported file cannot).
    set_by_script: set[str] = field(default_factory=set)
    uncertain: set[str] = field(default_factory=set)


@dataclass
class _Cmd:
    words: list[str]
    line: int


def _split(script: str) -> list[_Cmd]:
    """Commands of a script: split at newlines and `;` outside quotes; `||`/`&&` kept as words."""
    cmds: list[_Cmd] = []
    for lineno, line in enumerate(script.split("\n"), 1):
        words: list[str] = []
        i, n, cur, quote, started = 0, len(line), "", "", False
        while i < n:
            c = line[i]
            if quote:
                cur += c
                if c == quote:
                    quote = ""
            elif c in "\"'":
                quote, cur, started = c, cur + c, True
            elif c == "#" and not started and not cur:
                break
            elif c == ";":
                if started:
                    words.append(cur)
                cmds.append(_Cmd(words, lineno))
                words, cur, started = [], "", False
            elif c.isspace():
                if started:
                    words.append(cur)
                cur, started = "", False
            else:
                cur, started = cur + c, True
            i += 1
        if started:
            words.append(cur)
        cmds.append(_Cmd(words, lineno))
        if len(cmds) > MAX_COMMANDS:
            break
    return [c for c in cmds if c.words]


class _Shell:
    def __init__(self, env: dict[str, str], directory: str,
                 read: Callable[[str], str | None], exists: Callable[[str], bool]) -> None:
        self.vars = dict(env)
        self.uncertain: set[str] = set()
        self.read, self.exists = read, exists
        self.directory = directory
        self.loaded: str | None = None
        self.out = Outcome(None, None)
        self.env_values: dict[str, str] = {}
        self.booted = False
        self.builtin = False

    def expand(self, raw: str) -> tuple[str, set[str]]:
        """A word with quotes removed and `${var}` expanded (not inside single quotes); and the
        names it referenced."""
        out, names, i, quote = "", set(), 0, ""
        while i < len(raw):
            c = raw[i]
            if c in "\"'" and (not quote or quote == c):
                quote = "" if quote else c
                i += 1
                continue
            m = _VAR.match(raw, i) if quote != "'" and c == "$" else None
            if m:
                name = m.group(1) or m.group(2)
                names.add(name)
                out += self.vars.get(name, "")
                i = m.end()
                continue
            out += c
            i += 1
        return out, names

    def _path(self, word: str) -> str:
        """A file named in the script, as a guest path (`${prefix}` is the script's folder)."""
        value, _ = self.expand(word)
        return value if value.startswith("/") else f"{self.directory}/{value}"

    def condition(self, words: list[str]) -> bool | None:
        """True/False, or None when it cannot be decided offline."""
        result: bool | None = None
        op = None
        for part in _split_ops(words):
            if part in ("||", "&&"):
                op = part
                continue
            value = self._test(part)
            if op is None:
                result = value
            elif op == "||":
                result = True if result is True or value is True else (
                    None if result is None or value is None else False)
            else:
                result = False if result is False or value is False else (
                    None if result is None or value is None else True)
        return result

    def _test(self, words: list[str]) -> bool | None:
        if not words or words[0] != "test":
            return None                 # `load ...`, `itest`, `fdt ...`: decided at boot
        names = set()
        args = []
        for w in words[1:]:
            value, used = self.expand(w)
            names |= used
            args.append(value)
        if names & self.uncertain:
            return None
        if len(args) == 3 and args[1] in ("=", "!="):
            return (args[0] == args[2]) == (args[1] == "=")
        if len(args) == 2 and args[0] in ("-n", "-z"):
            return bool(args[1]) == (args[0] == "-n")
        if len(args) >= 2 and args[0] == "-e":
            return self.exists(self._path(words[-1]))
        return None

    def set(self, name: str, value: str | None, uncertain: bool, line: int, refs: list[str]):
        if value is not None and len(value) > MAX_VALUE:
            # `setenv a "${a}${a}"` over and over doubles a value: cap it, and know nothing.
            value, uncertain = value[:MAX_VALUE], True
        if value is None:
            self.vars.pop(name, None)
        else:
            self.vars[name] = value
        self.env_values.pop(name, None)
        if uncertain:
            self.uncertain.add(name)
        else:
            self.uncertain.discard(name)
        if name == "bootargs" and not self.booted:
            self.out.line = line
            self.out.references += [r for r in refs if r not in self.out.references]

    def run_command(self, words: list[str], line: int, uncertain: bool) -> None:
        if not words:               # "a ||" or "a &&" with nothing after: nothing to run
            return
        cmd = words[0]
        if cmd in ("setenv",) or words[:2] == ["env", "set"]:
            args = words[1:] if cmd == "setenv" else words[2:]
            if not args:
                return
            expanded = [self.expand(w) for w in args[1:]]
            used = set().union(*(u for _, u in expanded)) if expanded else set()
            value = " ".join(v for v, _ in expanded) if expanded else None
            # Only a reference that stands as a whole argument can take more arguments
            # (`${extraargs}`, not `usb-storage.quirks=${usbstoragequirks}`).
            refs = [m.group(1) or m.group(2) for w in args[1:]
                    for part in w.replace('"', " ").replace("'", " ").split()
                    for m in [_VAR.fullmatch(part)] if m]
            if args[0] == "bootargs" and "bootargs" in refs and "bootargs" not in self.vars:
                used.add("bootargs")     # U-Boot's built-in bootargs: not in the guest
                self.uncertain.add("bootargs")
                self.builtin = True
            self.set(args[0], value, uncertain or bool(used & self.uncertain), line, refs)
        elif "=" in cmd and re.match(r"[A-Za-z_][A-Za-z0-9_]*=", cmd):
            name, _, value = cmd.partition("=")
            expanded, used = self.expand(value)
            self.set(name, expanded, uncertain or bool(used & self.uncertain), line, [])
        elif cmd in _LOAD_COMMANDS and len(words) >= 5:
            self.loaded = self._path(words[4])
        elif words[:3] == ["env", "import", "-t"] and self.loaded is not None:
            text = self.read(self.loaded)
            if text is not None:
                self.out.imported.append(self.loaded)
                for name, (value, _, _) in parse_env(text).items():
                    self.set(name, value, uncertain, line, [])
                    self.env_values[name] = value
        elif cmd == "part" and len(words) >= 5 and words[1] == "uuid":
            self.set(words[4], "PARTUUID", uncertain, line, [])
        elif cmd in _BOOT_COMMANDS and not self.booted and not uncertain:
            self.booted = True
            self.finish()

    def finish(self) -> None:
        if "bootargs" in self.uncertain:
            self.out.bootargs = None
            self.out.reason = ("bootargs extends U-Boot's built-in value (${bootargs}), which "
                               "is not in the guest" if self.builtin else
                               "bootargs depends on a condition or loop decided only at boot")
        elif "bootargs" not in self.vars:
            self.out.bootargs = None
            self.out.reason = "the script never sets bootargs (U-Boot's built-in value is used)"
        else:
            self.out.bootargs = self.vars["bootargs"]
        self.out.set_by_script = {n for n in self.vars
                                  if n not in self.env_values or self.vars[n] != self.env_values[n]}
        self.out.uncertain = set(self.uncertain)


def _split_ops(words: list[str]) -> list:
    parts: list = [[]]
    for w in words:
        if w in ("||", "&&"):
            parts += [w, []]
        else:
            parts[-1].append(w)
    return parts


def evaluate(script: str, directory: str, read: Callable[[str], str | None],
             exists: Callable[[str], bool], overrides: dict[str, str] | None = None) -> Outcome:
    """Run `script` (found in the guest folder `directory`) on paper.  `read`/`exists` answer for
    guest paths; `overrides` replaces files' texts (to try an edit before making it)."""
    overrides = overrides or {}
    shell = _Shell({"prefix": directory.rstrip("/") + "/"}, directory.rstrip("/") or "",
                   lambda p: overrides[p] if p in overrides else read(p),
                   lambda p: p in overrides or exists(p))
    # Stack of (running, uncertain) per open if/else; loops are skipped with what they set
    # made uncertain.
    stack: list[tuple[bool, bool, bool | None]] = []   # (parent_active, uncertain, cond)
    loop_depth = 0
    active, uncertain = True, False
    for cmd in _split(script):
        words = list(cmd.words)
        while words:
            head = words[0]
            if head in ("for", "while", "until"):
                loop_depth += 1
                words = []
            elif head == "do":
                words = words[1:]
            elif head == "done":
                loop_depth = max(0, loop_depth - 1)
                words = words[1:]
            elif loop_depth:
                # A command in a loop body: what it sets is not known.
                for i, w in enumerate(words):
                    if w == "setenv" and i + 1 < len(words):
                        shell.uncertain.add(words[i + 1])
                    elif re.match(r"[A-Za-z_][A-Za-z0-9_]*=", w) and (i == 0 or words[i - 1]
                                                                     in ("||", "&&", "then")):
                        shell.uncertain.add(w.split("=", 1)[0])
                words = []
            elif head == "if":
                cond = shell.condition(words[1:]) if active else False
                stack.append((active, uncertain, cond))
                active = active and cond is not False
                uncertain = uncertain or cond is None
                words = []
            elif head == "then":
                words = words[1:]
            elif head in ("else", "elif"):
                if stack:
                    parent, parent_unc, cond = stack[-1]
                    active = parent and cond is not True
                    # elif's own test is not followed: what it sets is uncertain.
                    uncertain = parent_unc or cond is None or head == "elif"
                words = words[1:] if head == "else" else []
            elif head == "fi":
                if stack:
                    active, uncertain, _ = stack.pop()
                words = words[1:]
            else:
                if active:
                    _run_chain(shell, words, cmd.line, uncertain)
                words = []
    if not shell.booted:
        shell.finish()
    return shell.out


def _run_chain(shell: _Shell, words: list[str], line: int, uncertain: bool) -> None:
    """`A || B` / `A && B` as commands: B runs when A fails (succeeds)."""
    for op in ("||", "&&"):
        if op in words:
            at = words.index(op)
            cond = shell.condition(words[:at])
            runs = cond is None or (cond is False) == (op == "||")
            if runs:
                shell.run_command(words[at + 1:], line, uncertain or cond is None)
            return
    shell.run_command(words, line, uncertain)


def serial_consoles_named(script: str) -> list[tuple[str, int | None]]:
    """Serial `console=DEV[,speed]` written anywhere in the script (in any branch): the port
    the board's script uses, even when its branch is off."""
    out = []
    for m in re.finditer(rf"console=({cmdline.SERIAL_NAME})(?:,([0-9]+))?", script):
        out.append((m.group(1), int(m.group(2)) if m.group(2) else None))
    return out


def console_ok(bootargs: str | None, device: str) -> bool:
    """True when `device` owns /dev/console on this command line."""
    if bootargs is None:
        return False
    last, _ = cmdline.serial_verdict(cmdline.args_of(bootargs))
    return last is not None and last.device == device


def env_edit(script: str, directory: str, read: Callable[[str], str | None],
             exists: Callable[[str], bool], device: str, baud: int) -> tuple[str, str] | None:
    """(environment file, its new text) that makes `console=device,baud` the kernel's console:
    a variable the script puts into bootargs and takes from the file it imports (Armbian's
    `extraargs`), tried from the last reference backwards and kept only when evaluating the
    script again with the new text gives the console.  None: no such place (edit boot.cmd and
    run mkimage instead)."""
    outcome = evaluate(script, directory, read, exists)
    want = cmdline.desired_arg(device, baud)
    # Files imported now, then files the script would import if they were there (Armbian's
    # `if test -e ${prefix}armbianEnv.txt; then load ...; env import -t ...`): a missing one
    # is created.
    missing = [p for p in import_paths(script, directory)
               if p not in outcome.imported and read(p) is None and not exists(p)]
    for path in (list(reversed(outcome.imported)) + missing)[:MAX_CANDIDATES]:
        text = read(path)
        if text is None and path not in missing:
            continue
        text = text or ""
        env = parse_env(text)
        # The file's own variables first (the user's place), Armbian's documented `extraargs`
        # next, then the others, each from the last reference backwards.
        names = [n for n in reversed(outcome.references) if n != "bootargs"
                 and n not in outcome.set_by_script and n not in outcome.uncertain]
        names.sort(key=lambda n: (n not in env, n not in USER_VARIABLES))
        for name in names[:MAX_CANDIDATES]:
            if name in env:
                value, _, (start, end) = env[name]
                if any(a.startswith("console=") for a in cmdline.args_of(value)):
                    new, _ = cmdline.plan_console_edit([value], device, baud, append_to=0)
                    value = new[0]
                else:
                    value = f"{value} {want}"
                new_text = text[:start] + value + text[end:]
            else:
                new_text = text + ("" if not text or text.endswith("\n") else "\n") + \
                    f"{name}={want}\n"
            again = evaluate(script, directory, read, exists, {path: new_text})
            if console_ok(again.bootargs, device) and speed_of(again.bootargs, device) == baud:
                return path, new_text
    return None


def import_paths(script: str, directory: str) -> list[str]:
    """Guest paths the script loads and then imports with `env import -t`, in any branch and
    whether or not they exist (paths built from variables other than `${prefix}` are skipped:
    they are known only at boot)."""
    shell = _Shell({"prefix": directory.rstrip("/") + "/"}, directory.rstrip("/") or "",
                   lambda _: None, lambda _: False)
    out: list[str] = []
    loaded = None
    for cmd in _split(script):
        words = cmd.words
        for i, word in enumerate(words):
            if word in _LOAD_COMMANDS and i + 4 < len(words):
                _, names = shell.expand(words[i + 4])
                loaded = shell._path(words[i + 4]) if names <= {"prefix"} else None
            elif words[i:i + 3] == ["env", "import", "-t"] and loaded and loaded not in out:
                out.append(loaded)
        if len(out) >= MAX_CANDIDATES:
            break
    return out


def speed_of(bootargs: str | None, device: str) -> int | None:
    """The speed of `device` when it is the kernel's console on `bootargs`."""
    last, _ = cmdline.serial_verdict(cmdline.args_of(bootargs or ""))
    return last.effective_speed if last is not None and last.device == device else None
