"""Plan and apply text-preserving edits that turn on a guest's serial console.

Planning reads nothing but the `Guest` already read and returns `Change`s (old and new bytes of
each file, or a symlink to create).  Applying backs every change up in an undo journal first,
then writes each file through a temporary file and a rename inside the guest root.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from dataclasses import dataclass, field

from bcdtool.errors import (GuestError, InvalidArgumentError, UnfixableGuestError,
                            UnsupportedError, VerifyError)
from bcdtool.linux import cmdline, inittab, kernelstub, nixos, raspi, shell, uboot
from bcdtool.linux.guestfs import GuestfsTree
from bcdtool.linux.paths import MAX_FILE_BYTES, DirectoryFS
from bcdtool.linux.refusals import blockers
from bcdtool.linux.rules import (S6_STEPS, SERIAL_PORT, SERIAL_TERM, VIRTUALIZATION_CONSOLES,
                                 has_serial_terminal, kernel_has_console, port_unit, serial_getty)
from bcdtool.linux.sources import (FLATCAR_GRUB_CFG, GRUB_DEFAULT, GRUBENV_SIZE,
                                   KERNEL_CMDLINE_D, Guest, KernelLine, TextFile, rpi_uart,
                                   uboot_reader)
from bcdtool.write.journal import Journal
from bcdtool.write.result import WriteResult
from bcdtool.write.sinks.folder import FolderSink
from bcdtool.write.keys import guestfs_key
from bcdtool.write.sinks.guestfs import GuestfsSink
from bcdtool.write.transaction import Audit, Step, Transaction

_SPEED_OPT = re.compile(r"--speed[= ](\d+)")
#: GRUB terminals that work for input as well as output.
_INPUT_TERMINALS = ("console", "serial", "at_keyboard", "usb_keyboard", "ofconsole")
_KERNELOPTS = re.compile(r"(^|\s)\$\{?kernelopts\}?(?=\s|$)")
#: legacy GRUB's graphical menu and colours: SUSE's serial console procedure comments them out.
_LEGACY_GRAPHICS = ("splashimage", "gfxmenu", "color")
#: What 00_header writes only when gfxterm is an output terminal (`if [ "x$gfxterm" = x1 ]`).
_GFXTERM_SETTINGS = ("GRUB_THEME", "GRUB_BACKGROUND")


@dataclass
class Change:
    """One file to rewrite (before/after bytes) or symlink to create (link_target)."""

    path: str
    before: bytes | None
    after: bytes | None = None
    link_target: str | None = None

    def diff(self) -> str:
        """A unified diff of this change (guest paths)."""
        if self.link_target is not None:
            return f"--- /dev/null\n+++ b{self.path}\n@@ new symlink @@\n+{self.path} -> " \
                   f"{self.link_target}\n"
        old = (self.before or b"").decode("utf-8", "replace").splitlines(keepends=True)
        new = (self.after or b"").decode("utf-8", "replace").splitlines(keepends=True)
        lines = difflib.unified_diff(old, new, f"a{self.path}", f"b{self.path}")
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                       for line in lines)


class _Edits:
    """Span edits against the original text of one file, applied together."""

    def __init__(self, tf: TextFile) -> None:
        self.tf = tf
        self.spans: list[tuple[int, int, str]] = []
        self.appended: list[str] = []

    def replace(self, start: int, end: int, text: str) -> None:
        if self.tf.text[start:end] != text:
            self.spans.append((start, end, text))

    def result(self) -> str:
        text = self.tf.text
        last = len(text) + 1
        for start, end, new in sorted(self.spans, key=lambda s: s[0], reverse=True):
            if end > last:
                raise GuestError("overlapping edits planned (a bug)", path=self.tf.path)
            text = text[:start] + new + text[end:]
            last = start
        if self.appended:
            if text and not text.endswith("\n"):
                text += "\n"
            text += "".join(self.appended)
        return text


@dataclass
class Plan:
    """Everything `fix` would change, with notes for the user."""

    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Planner:
    def __init__(self, guest: Guest, device: str, baud: int) -> None:
        self.guest, self.device, self.baud = guest, device, baud
        m = re.fullmatch(r"ttyS(\d+)", device)
        #: The PC COM port number of the device (GRUB's unit, syslinux's SERIAL port), if any.
        self.unit = int(m.group(1)) if m else None
        #: No PC COM port to point GRUB at: Arm, IBM Power and Z, RISC-V (their GRUB shows its
        #: menu on the firmware's console).
        self.arm = not guest.pc or device.startswith("ttyAMA") or \
            cmdline.hypervisor_console(device)
        self.edits: dict[str, _Edits] = {}
        self.notes: list[str] = []
        self.links: list[Change] = []
        self.new_files: list[Change] = []
        #: Whether rescue entries get the console (they do when GRUB_CMDLINE_LINUX carries it).
        self.rescue_console = True

    def _plan_console(self, segments: list[str], device: str, baud: int, *,
                      append_to: int) -> tuple[list[str], list[str]]:
        """cmdline.plan_console_edit, except on a line with no console= at all where the kernel
        already picks `device` by itself (IBM Power's hvc0): such a line is left alone."""
        if self.guest.default_console_is(device) and not any(
                a.startswith("console=") for s in segments for a in cmdline.args_of(s)):
            return list(segments), []
        return cmdline.plan_console_edit(segments, device, baud, append_to=append_to)

    def edits_for(self, tf: TextFile) -> _Edits:
        if tf.path not in self.edits:
            self.edits[tf.path] = _Edits(tf)
        return self.edits[tf.path]

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # -- /etc/default/grub and grub.d ---------------------------------------------------------
    def _file(self, path: str) -> TextFile:
        return next(f for f in self.guest.shell_files if f.path == path)

    def _assignment_text(self, a: shell.Assignment) -> str | None:
        if a.word.quote == "mixed" or a.op == "+=" or a.word.unknown:
            self.note(f"{a.file}:{a.line}: {a.name} is too complex to edit safely; left as is")
            return None
        start, end = a.inner
        return self._file(a.file).text[start:end]

    def _set_assignment(self, a: shell.Assignment, new_inner: str) -> None:
        start, end = a.inner
        if a.word.quote == "" and (not new_inner or re.search(r"\s", new_inner)):
            start, end = a.word.start, a.word.end
            new_inner = '"' + new_inner + '"'
        self.edits_for(self._file(a.file)).replace(start, end, new_inner)

    def _owner_file(self) -> TextFile | None:
        env = self.guest.grub_env
        for name in ("GRUB_TERMINAL", "GRUB_TERMINAL_OUTPUT", "GRUB_CMDLINE_LINUX"):
            a = env.last(name)
            if a is not None:
                return self._file(a.file)
        return next((f for f in self.guest.grub_files if f.path == GRUB_DEFAULT),
                    self.guest.grub_files[0] if self.guest.grub_files else None)

    def _add_line(self, tf: TextFile, line: str) -> None:
        self.edits_for(tf).appended.append(line + "\n")

    def plan_grub_defaults(self) -> None:
        if not self.guest.grub_files:
            return
        self._plan_grub_cmdline()
        if self.arm:
            self.note(f"GRUB on {self.guest.arch or 'this'} guests uses the firmware console; GRUB "
                      "terminal left as is")
            return
        self._plan_grub_terminal()

    def _plan_grub_cmdline(self) -> None:
        env = self.guest.grub_env
        lin, dflt = env.chain("GRUB_CMDLINE_LINUX"), env.chain("GRUB_CMDLINE_LINUX_DEFAULT")
        chain = lin + dflt
        texts = [self._assignment_text(a) for a in chain]
        if any(t is None for t in texts):
            return
        if not chain:
            want = cmdline.desired_arg(self.device, self.baud)
            self._add_line(self._owner_file(),
                           "GRUB_CMDLINE_LINUX=" + shell.quote_value(f"console=tty0 {want}"))
        else:
            default_has_console = any(cmdline.consoles(cmdline.args_of(a.value or ""))
                                      for a in dflt)
            append_to = len(chain) - 1 if (default_has_console or not lin) else len(lin) - 1
            self.rescue_console = append_to < len(lin)
            new, notes = self._plan_console(texts, self.device, self.baud,
                                                   append_to=append_to)
            for a, old, text in zip(chain, texts, new, strict=True):  # one text per segment
                if text != old:
                    self._set_assignment(a, text)
            for n in notes:
                self.note(n)

    def _plan_grub_terminal(self) -> None:
        env = self.guest.grub_env
        owner = self._owner_file()
        term = env.last("GRUB_TERMINAL")
        if term is not None and term.value is None:
            self._assignment_text(term)  # notes why it is left alone
        elif term is not None and term.value:
            if not has_serial_terminal(term.value):
                # GRUB_TERMINAL sets input *and* output: keep only terminals that can be both,
                # or `terminal_input gfxterm` fails and takes the serial input with it.
                words = [w for w in term.value.split() if w in _INPUT_TERMINALS] or ["console"]
                dropped = [w for w in term.value.split() if w not in _INPUT_TERMINALS]
                if "gfxterm" in dropped and self._graphical_settings() and \
                        self._assignment_text(term) is not None:
                    # The theme needs gfxterm as an output: input and output are set apart
                    # (an empty GRUB_TERMINAL lets grub-mkconfig read them).
                    self._set_assignment(term, "")
                    self._add_line(self._file(term.file), 'GRUB_TERMINAL_INPUT="serial '
                                   + " ".join(words) + '"')
                    self._add_line(self._file(term.file), 'GRUB_TERMINAL_OUTPUT="gfxterm serial"')
                    self.note(f"{term.file}:{term.line}: GRUB_TERMINAL emptied; input and output "
                              "set apart so that gfxterm (and the theme) stays an output")
                else:
                    if dropped:
                        self.note(f"{term.file}:{term.line}: GRUB_TERMINAL drops "
                                  f"{' '.join(dropped)} (an output-only terminal cannot be an "
                                  "input)")
                    if self._assignment_text(term) is not None:
                        self._set_assignment(term, " ".join(["serial"] + words))
        else:
            names = ("GRUB_TERMINAL_INPUT", "GRUB_TERMINAL_OUTPUT")
            io = [env.last(name) for name in names]
            # Unset, GRUB_TERMINAL_OUTPUT is gfxterm (grub-mkconfig's default), and 00_header
            # loads GRUB_THEME/GRUB_BACKGROUND only for gfxterm: keep it beside serial then.
            output = "gfxterm serial" if self._graphical_settings() else "serial console"
            if all(a is None or not a.value for a in io) and output == "serial console":
                self._add_line(owner, 'GRUB_TERMINAL="serial console"')
            else:
                for name, a in zip(names, io, strict=True):
                    if a is None or not a.value:
                        value = output if name == "GRUB_TERMINAL_OUTPUT" else "serial console"
                        self._add_line(owner, f'{name}="{value}"')
                    elif not has_serial_terminal(a.value):
                        text = self._assignment_text(a)
                        if text is not None:
                            self._set_assignment(a, "serial " + text.strip())
        for name in ("GRUB_TERMINAL", "GRUB_TERMINAL_INPUT", "GRUB_TERMINAL_OUTPUT"):
            # serial_comN / serial_efiN terminals name a port: ours.
            a = env.last(name)
            if a is not None and a.value and SERIAL_TERM.search(a.value) and \
                    self._terminal_line(a.value) != a.value:
                text = self._assignment_text(a)
                if text is not None:
                    self._set_assignment(a, self._terminal_line(text))
        cmd = env.last("GRUB_SERIAL_COMMAND")
        if cmd is None or not cmd.value:
            self._add_line(
                owner, "GRUB_SERIAL_COMMAND=" + shell.quote_value(self._serial_command())
            )
            return
        text = self._assignment_text(cmd)
        if text is None:
            return
        if cmd.value.split()[:1] != ["serial"]:
            self.note(f"{cmd.file}:{cmd.line}: GRUB_SERIAL_COMMAND was not a serial command; "
                      "replaced")
            self._set_assignment(cmd, self._serial_command())
        else:
            self._set_assignment(cmd, self._serial_line(text))

    def _graphical_settings(self) -> list[str]:
        """The GRUB_* settings that 00_header applies only on gfxterm (a theme, a background):
        the ones an output terminal without gfxterm would lose at the next grub-mkconfig."""
        env = self.guest.grub_env
        return [name for name in _GFXTERM_SETTINGS if name in env.values
                and (env.values[name] is None or env.values[name].strip())]  # None: unknown

    def _serial_command(self) -> str:
        unit = f" --unit={self.unit}" if self.unit is not None else ""
        return f"serial{unit} --speed={self.baud}"

    def _serial_line(self, text: str) -> str:
        """A GRUB `serial` command at our speed on our port (unit, --port or comN replaced)."""
        text = _with_speed(text, self.baud)
        if self.unit is None:
            return text

        def port(m: re.Match) -> str:
            if port_unit(m) == self.unit:
                return m.group(0)               # already our port, as the guest wrote it
            if m.group(1) is not None:
                return m.group(0)[:-len(m.group(1))] + str(self.unit)
            if m.group(2) is not None and re.fullmatch(r"(com|efi)\d+", m.group(2)):
                return m.group(0)[:-len(m.group(2))] + m.group(2)[:3] + str(self.unit)
            if m.group(2) is not None:
                return f"--unit={self.unit}"        # an I/O address: the unit says it plainly
            return f"{m.group(3)}{self.unit}"
        return SERIAL_PORT.sub(port, text)

    def _terminal_line(self, text: str) -> str:
        """`serial_comN` terminal names pointed at our port."""
        if self.unit is None:
            return text
        return SERIAL_TERM.sub(lambda m: f"serial_{m.group(1)}{self.unit}", text)

    # -- generated files -----------------------------------------------------------------------
    def _edit_kernel_line(self, line: KernelLine, kernelopts: str | None) -> None:
        old = line.args_text
        if old.rstrip().endswith("\\"):
            self.note(f"{line.file.path}:{line.line}: a `{line.command}` line continued with a "
                      "backslash is left as is; edit it by hand")
            return
        if kernelopts is not None and _KERNELOPTS.search(old):
            new, notes = self._plan_console([kernelopts, old], self.device, self.baud,
                                                   append_to=0)
            new_line = new[1]
        else:
            new, notes = self._plan_console([old], self.device, self.baud, append_to=0)
            new_line = new[0]
        for n in notes:
            self.note(n)
        self.edits_for(line.file).replace(line.args_start, line.args_end, new_line)

    def plan_kernelopts(self) -> str | None:
        env = self.guest.grubenv
        if env is None or "kernelopts" not in env.values:
            return None
        old = env.values["kernelopts"]
        new, notes = self._plan_console([old], self.device, self.baud, append_to=0)
        for n in notes:
            self.note(n)
        start, end = env.span("kernelopts")
        self.edits_for(env.file).replace(start, end, new[0])
        return new[0]

    def plan_grub_cfg(self, tf: TextFile) -> None:
        if self.arm:
            return
        lines = tf.text.split("\n")
        offsets, pos = [], 0
        for line in lines:
            offsets.append(pos)
            pos += len(line) + 1
        edits = self.edits_for(tf)
        first = {"serial": None, "terminal_input": None, "terminal_output": None}
        for i, line in enumerate(lines):
            words = line.split()
            if not words or words[0] not in first:
                continue
            first[words[0]] = i if first[words[0]] is None else first[words[0]]
            if words[0] == "serial":
                new = self._serial_line(line)
            elif any(SERIAL_TERM.fullmatch(w) for w in words[1:]):
                new = self._terminal_line(line)
            elif "serial" not in words[1:]:
                indent = line[:len(line) - len(line.lstrip())]
                new = f"{indent}{words[0]} serial" + line[len(indent) + len(words[0]):]
            else:
                continue
            edits.replace(offsets[i], offsets[i] + len(line), new)
        missing = []
        if first["serial"] is None:
            missing.append(self._serial_command())
        for cmd in ("terminal_input", "terminal_output"):
            if first[cmd] is None:
                missing.append(f"{cmd} serial console")
        if not missing:
            return
        present = [i for i in first.values() if i is not None]
        if first["serial"] is not None and first["serial"] + 1 >= len(lines):
            edits.replace(len(tf.text), len(tf.text), "\n" + "".join(m + "\n" for m in missing))
            self.note(f"{tf.path}: GRUB now also uses the serial terminal")
            return
        if first["serial"] is not None:
            at = first["serial"] + 1
        elif present:
            at = min(present)
        else:
            entries = (i for i, ln in enumerate(lines)
                       if ln.lstrip().startswith(("menuentry", "submenu", "blscfg")))
            at = next((i for i, ln in enumerate(lines)
                       if ln.startswith("### END /etc/grub.d/00_header")), next(entries, 0))
        edits.replace(offsets[at], offsets[at], "".join(m + "\n" for m in missing))
        self.note(f"{tf.path}: GRUB now also uses the serial terminal")

    def plan_legacy(self) -> None:
        tf = self.guest.legacy
        if tf is None or self.arm:
            return                          # no COM port: legacy GRUB's terminal left alone
        edits = self.edits_for(tf)
        lines = tf.text.split("\n")
        offsets, pos = [], 0
        for line in lines:
            offsets.append(pos)
            pos += len(line) + 1
        have_serial = have_terminal = False
        for i, line in enumerate(lines):
            words = line.split()
            if not words:
                continue
            if words[0] == "serial":
                have_serial = True
                edits.replace(offsets[i], offsets[i] + len(line), self._serial_line(line))
            elif words[0] == "terminal":
                have_terminal = True
                if "serial" not in words:
                    edits.replace(offsets[i], offsets[i] + len(line), line.rstrip() + " serial")
            elif words[0].split("=", 1)[0] in _LEGACY_GRAPHICS:
                edits.replace(offsets[i], offsets[i], "#")
                self.note(f"{tf.path}:{i + 1}: commented out {words[0].split('=', 1)[0]} (legacy "
                          "GRUB's graphical menu hides the serial terminal)")
        missing = ([] if have_serial else [self._serial_command()]) + \
                  ([] if have_terminal else ["terminal --timeout=5 serial console"])
        if missing:
            at = next((i for i, l in enumerate(lines) if l.lstrip().startswith("title")), 0)
            # YaST's "###Don't change this comment - YaST2 identifier: ..." must stay right
            # above its title: insert above the comment block that leads into the title.
            while at > 0 and lines[at - 1].lstrip().startswith("#") \
                    and lines[at - 1].strip() != "#":
                at -= 1
            edits.replace(offsets[at], offsets[at], "".join(m + "\n" for m in missing))

    def plan_boot(self) -> None:
        g = self.guest
        kernelopts = self.plan_kernelopts()
        flatcar = self.plan_flatcar()
        for line in g.kernel_lines:
            if line.rescue and not self.rescue_console and "console=" not in line.args_text:
                continue  # as grub-mkconfig would write it: GRUB_CMDLINE_LINUX only
            if flatcar and line.file.path == FLATCAR_GRUB_CFG:
                continue  # Flatcar's own file: its $linux_console comes from the OEM grub.cfg
            self._edit_kernel_line(line, kernelopts)
        for tf in g.main_cfgs:
            if not (flatcar and tf.path == FLATCAR_GRUB_CFG):
                self.plan_grub_cfg(tf)
        self.plan_legacy()
        self.plan_extlinux()
        self.plan_uboot_scripts()
        self.plan_regenerated()

    def plan_uboot_scripts(self) -> None:
        """U-Boot scripts: the console goes into the variable the script takes from its
        environment file (armbianEnv.txt's extraargs); the compiled script is never edited
        (refusals.blockers refuses a script that offers no such place)."""
        g = self.guest
        read, exists = uboot_reader(g)
        for script in g.uboot_scripts:
            out = script.outcome
            if out is None or script.text is None or (
                    uboot.console_ok(out.bootargs, self.device)
                    and uboot.speed_of(out.bootargs, self.device) == self.baud):
                continue
            found = uboot.env_edit(script.text, script.directory, read, exists, self.device,
                                   self.baud)
            if found is None:
                continue
            tf = g.uboot_env_files.get(found[0])
            created = ""
            if tf is not None:
                self.edits_for(tf).replace(0, len(tf.text), found[1])
            elif all(c.path != found[0] for c in self.new_files):
                # The script imports the file only when it is there: it is created.
                self.new_files.append(Change(found[0], None, found[1].encode()))
                created = " (created: the script imports it when it is there)"
            self.note(f"{found[0]}{created}: the console goes into what {script.path} passes "
                      "to the kernel (read at every boot; boot.scr is not rebuilt)")

    def _edit_value(self, tf: TextFile, span: tuple[int, int]) -> None:
        """Give the command line text at `span` of `tf` our console (quiet dropped)."""
        new, notes = self._plan_console([tf.text[span[0]:span[1]]], self.device,
                                               self.baud, append_to=0)
        for n in notes:
            self.note(n)
        self.edits_for(tf).replace(span[0], span[1], new[0])

    # -- extlinux / syslinux ---------------------------------------------------------------
    def plan_extlinux(self) -> None:
        g = self.guest
        for tf, label in g.extlinux_bare:
            # A Linux label without APPEND: give it one, right below its kernel line.
            start, end = tf.line_span(label.kernel_line)
            self.edits_for(tf).replace(end, end, f"\n{label.indent}APPEND console=tty0 "
                                                 f"{cmdline.desired_arg(self.device, self.baud)}")
        if g.update_extlinux:
            self._plan_update_extlinux()
        if self.unit is None:
            if g.extlinux:
                self.note("extlinux drives PC COM ports only: no SERIAL line for " + self.device)
            return
        for tf, cfg in g.extlinux:
            if not cfg.linux_labels:
                continue
            want = f"SERIAL {self.unit} {self.baud}"
            if cfg.serial is None:
                # syslinux: SERIAL should be the first directive of the file.
                start, _ = tf.line_span(cfg.first_directive)
                self.edits_for(tf).replace(start, start, want + "\n")
            elif cfg.serial.port != self.unit or cfg.serial.speed != self.baud:
                start, end = cfg.serial.span
                line = tf.text[start:end]
                words = line.split()
                indent = line[:len(line) - len(line.lstrip())]
                self.edits_for(tf).replace(start, end, indent + " ".join(
                    [words[0], str(self.unit), str(self.baud)] + words[3:]))

    def _plan_update_extlinux(self) -> None:
        """Alpine: update-extlinux rewrites extlinux.conf from these settings at every kernel
        update, so they get the console too (serial_port is the COM number)."""
        env = self.guest.update_extlinux_env
        owner = self.guest.update_extlinux[0]
        opts = env.last("default_kernel_opts")
        if opts is None:
            self._add_line(owner, "default_kernel_opts=" + shell.quote_value(
                "console=tty0 " + cmdline.desired_arg(self.device, self.baud)))
        else:
            text = self._assignment_text(opts)
            if text is not None:
                new, notes = self._plan_console([text], self.device, self.baud,
                                                       append_to=0)
                for n in notes:
                    self.note(n)
                self._set_assignment(opts, new[0])
        if self.unit is None:
            return                          # serial_port is a COM number: none for this port
        for name, value in (("serial_port", str(self.unit)), ("serial_baud", str(self.baud))):
            a = env.last(name)
            if a is None:
                self._add_line(owner, f"{name}={shell.quote_value(value)}")
            elif (a.value or "").strip() != value and self._assignment_text(a) is not None:
                self._set_assignment(a, value)

    # -- configs the distribution regenerates ------------------------------------------------
    def plan_flatcar(self) -> bool:
        """Flatcar: `set linux_console=` in the OEM grub.cfg (its documented place); True when
        the OS's own grub.cfg is to be left alone."""
        g = self.guest
        if not any(tf.path == FLATCAR_GRUB_CFG for tf in g.grub_cfgs):
            return False
        oem = g.flatcar_oem
        if oem is None:
            self.note(f"Flatcar: no OEM grub.cfg (/oem/grub.cfg) is mounted: mount the OEM "
                      "partition at /oem and run fix again, or add "
                      f'set linux_console="console=tty0 '
                      f'{cmdline.desired_arg(self.device, self.baud)}" to it')
            return True
        var = g.grub_vars.get("linux_console")
        if var is not None and var.file is oem:
            self._edit_value(oem, var.span)
        else:
            self._add_line(oem, 'set linux_console="console=tty0 '
                           f'{cmdline.desired_arg(self.device, self.baud)}"')
        return True

    def plan_regenerated(self) -> None:
        g = self.guest
        kv = g.grub_vars.get("kernelopts")
        if kv is not None and g.bls_entries and kv.file.path != FLATCAR_GRUB_CFG:
            self._edit_value(kv.file, kv.span)         # RHEL 8's fallback when grubenv has none
        a = g.sysconfig_env.last("DEFAULT_APPEND")
        if a is not None:
            text = self._assignment_text(a)
            if text is not None:
                new, notes = self._plan_console([text], self.device, self.baud,
                                                       append_to=0)
                self._set_assignment(a, new[0])
        if g.kernel_cmdline is not None:
            tf = g.kernel_cmdline
            # kernel-install joins the lines (`tr -s "$IFS" ' '`): the last one ends the line.
            end = len(tf.text.rstrip())
            self._edit_value(tf, (tf.text.rfind("\n", 0, end) + 1, end))
        if g.kernelstub is not None:
            self._plan_kernelstub(g.kernelstub, g.kernelstub_options)
        if g.nixos_config is not None:
            self._plan_nixos(g.nixos_config)
        if g.clear_linux:
            self._plan_cmdline_d()
        if g.uboot_files:
            self._plan_uboot()
        if g.rpi_config is not None:
            self._plan_rpi_uart()

    def _plan_cmdline_d(self) -> None:
        """Clear Linux: clr-boot-manager appends /etc/kernel/cmdline.d/*.conf to every entry it
        writes; the last file gets the console (or a new one holds it)."""
        files = self.guest.cmdline_d
        if not files:
            self.new_files.append(Change(f"{KERNEL_CMDLINE_D}/serial-console.conf", None, (
                f"console=tty0 {cmdline.desired_arg(self.device, self.baud)}\n").encode()))
            return
        texts = [tf.text for tf in files]
        new, notes = self._plan_console(texts, self.device, self.baud,
                                               append_to=len(texts) - 1)
        for n in notes:
            self.note(n)
        for tf, text in zip(files, new, strict=True):
            self.edits_for(tf).replace(0, len(tf.text), text)

    def _plan_uboot(self) -> None:
        """u-boot-menu: U_BOOT_PARAMETERS (else /etc/kernel/cmdline, else "ro quiet") becomes
        extlinux.conf's `append` at every kernel update."""
        g = self.guest
        a = g.uboot_env.last("U_BOOT_PARAMETERS")
        if a is not None and a.value:
            text = self._assignment_text(a)
            if text is not None:
                new, notes = self._plan_console([text], self.device, self.baud,
                                                       append_to=0)
                for n in notes:
                    self.note(n)
                self._set_assignment(a, new[0])
        elif g.kernel_cmdline is None:
            new, _ = self._plan_console(["ro quiet"], self.device, self.baud, append_to=0)
            self._add_line(g.uboot_files[0], "U_BOOT_PARAMETERS=" + shell.quote_value(new[0]))

    def _plan_rpi_uart(self) -> None:
        tf = self.guest.rpi_config
        won = rpi_uart(self.guest)
        if won is not None:
            self.edits_for(won[0]).replace(won[1].span[0], won[1].span[1], "1")
        elif raspi.ends_for_every_board(tf.text):
            self._add_line(tf, "enable_uart=1")
        else:
            self._add_line(tf, "[all]\nenable_uart=1")

    def _plan_kernelstub(self, tf: TextFile, opts: kernelstub.Options) -> None:
        """kernelstub writes its systemd-boot entries from user.kernel_options at every kernel
        update: the list gets the console too (one argument per item, the file's layout kept)."""
        if any(re.search(r"\s", v) or not v for v in opts.values):
            self.note(f"{tf.path}: a kernel_options item holds spaces; add "
                      f'"{cmdline.desired_arg(self.device, self.baud)}" to the list by hand, or '
                      "run `kernelstub -a` in the guest")
            return
        new, notes = self._plan_console([" ".join(opts.values)], self.device, self.baud,
                                        append_to=0)
        for n in notes:
            self.note(n)
        values = cmdline.args_of(new[0])
        if values != opts.values:
            self.edits_for(tf).replace(0, len(tf.text), kernelstub.with_options(tf.text, opts,
                                                                                values))

    def _plan_nixos(self, tf: TextFile) -> None:
        params = nixos.kernel_params(tf.text)
        if params is None or not params.plain:
            self.note(f"{tf.path}: NixOS writes its boot entries from boot.kernelParams; add "
                      f'"console=tty0" "{cmdline.desired_arg(self.device, self.baud)}" to it by '
                      "hand and run nixos-rebuild boot (the grub.cfg edit lasts until then)")
            return
        new, notes = self._plan_console([" ".join(params.values)], self.device,
                                               self.baud, append_to=0)
        values = cmdline.args_of(new[0])
        self.edits_for(tf).replace(params.inner[0], params.inner[1],
                                   " " + " ".join(nixos.literal(v) for v in values) + " ")

    # -- login ---------------------------------------------------------------------------------
    def plan_login(self) -> None:
        g, dev = self.guest, self.device
        if g.init == "systemd":
            wants = f"/etc/systemd/system/getty.target.wants/serial-getty@{dev}.service"
            if g.getty_masks:
                self.note(f"the serial getty is masked ({', '.join(g.getty_masks)}); left as "
                          "is (a mask is deliberate): remove it yourself if it was not")
            elif not g.getty_links.get(wants):
                if kernel_has_console(g, dev) or dev.startswith(raspi.SERIAL_ALIAS[:-1]) \
                        or dev in VIRTUALIZATION_CONSOLES:
                    # (serial0 is the Pi firmware's alias: the getty belongs on the real port,
                    # which the generator reads from the kernel once console=serial0 is there.)
                    # systemd-getty-generator already starts serial-getty@ on the kernel's
                    # console: a symlink would only duplicate what the check calls ok.
                    pass
                elif g.unit_path is None:
                    self.note("serial-getty@.service not found in the guest; getty not enabled")
                elif g.root.kind("/etc/systemd/system") != "dir":
                    self.note("the guest has no /etc/systemd/system; getty not enabled")
                else:
                    if g.root.kind("/etc/systemd/system/getty.target.wants") != "dir":
                        self.note("creates /etc/systemd/system/getty.target.wants (undo leaves "
                                  "the empty folder)")
                    # Relative, unlike systemctl's absolute link: on the rescue host an
                    # absolute target would name the host's own unit file to every tool
                    # that follows it (undo's checks included).  systemd resolves both alike.
                    up = "../" * (wants.count("/") - 1)
                    self.links.append(Change(wants, None, link_target=up + g.unit_path.lstrip("/")))
        elif g.init in ("runit", "dinit"):
            self._plan_runit()
        elif g.init in S6_STEPS:
            self.note(f"{g.init}: no getty enabled by bcdtool; " + S6_STEPS[g.init].format(dev=dev))
        elif any(p.endswith(f"/agetty.{dev}") for p in g.openrc_gettys):
            pass                                    # OpenRC already starts agetty there
        elif g.init == "sysv" and g.openrc and g.agetty_service is not None:
            self._plan_openrc_agetty()
        elif g.init in ("sysv", "busybox") and g.inittab is not None:
            busybox, getty = g.busybox, serial_getty(g)
            entry = inittab.getty_on(g.inittab.text, dev, busybox=busybox)
            if entry is not None and inittab.vc_only(entry):
                # mingetty cannot set a serial line up: the same line runs agetty instead.
                start, end = g.inittab.line_span(entry.line)
                self.edits_for(g.inittab).replace(start, end, inittab.with_process(
                    g.inittab.text[start:end], inittab.getty_process(dev, self.baud, getty)))
                self.note(f"{g.inittab.path}:{entry.line}: {inittab.program(entry)} cannot drive "
                          f"a serial line; the line runs {getty.split()[-1]} instead")
            elif entry is None:
                for e in inittab.misread_lines(g.inittab.text, dev) if busybox else []:
                    self.note(f"{g.inittab.path}:{e.line}: BusyBox init runs this line on "
                              f"/dev/{e.id}; left as is (a BusyBox-form line is added)")
                self._add_line(g.inittab, inittab.getty_line(dev, self.baud, busybox=busybox,
                                                             getty=getty,
                                                             taken=inittab.ids(g.inittab.text)))
        sp = g.getty_speed
        if sp is not None and self.baud not in sp.speeds and self._getty_runs(sp):
            # The getty must open the port at the kernel console's speed (a 9600 getty on a
            # 115200 console prints garbage): Debian's stock getty-ttyS0 and inittab examples,
            # OpenRC's agetty without baud=.
            if sp.file is None:
                if g.root.kind(sp.path.rsplit("/", 1)[0]) != "dir":
                    self.note(f"creates {sp.path.rsplit('/', 1)[0]} (undo leaves the empty "
                              "folder)")
                self.new_files.append(Change(sp.path, None, f'baud="{self.baud}"\n'.encode()))
            else:
                self.edits_for(sp.file).replace(sp.span[0], sp.span[1], str(self.baud))
            self.note(f"{sp.path}: the getty now runs at {self.baud} baud")
        if g.securetty is not None and g.pam_securetty:
            names = {ln.strip().removeprefix("/dev/") for ln in g.securetty.text.splitlines()}
            if dev not in names:
                self._add_line(g.securetty, dev)

    def _plan_runit(self) -> None:
        """runit: link the port's getty service into the runsvdir started at boot; dinit:
        into the boot service's waits-for.d (/etc/dinit.d/boot.d), as `dinitctl enable`."""
        g = self.guest
        service = g.runit_service(self.device)
        if service is None:
            return                          # refused before planning (refusals.blockers)
        link = f"{g.runit_dir}/{service.rsplit('/', 1)[1]}"
        if link in g.runit_enabled:
            return
        if g.root.kind(g.runit_dir) != "dir":
            self.note(f"{g.runit_dir} does not exist; the getty service is not enabled")
            return
        # Relative, like Debian's own links (../../../sv/NAME) and Chimera's (../NAME): never
        # the rescue host's /etc/sv or /etc/dinit.d.
        self.links.append(Change(link, None, link_target=posixpath.relpath(
            service, posixpath.dirname(link))))

    def _getty_runs(self, sp) -> bool:
        """Whether the getty whose speed `sp` is runs (or this plan starts it): an OpenRC
        conf.d file matters only for an agetty.<port> that is enabled."""
        if not sp.path.startswith("/etc/conf.d/"):
            return True
        dev = self.device
        return any(p.endswith(f"/agetty.{dev}") for p in self.guest.openrc_gettys) or any(
            c.path.endswith(f"/agetty.{dev}") for c in self.links)

    def _plan_openrc_agetty(self) -> None:
        """OpenRC (Gentoo): agetty.<port> links to the agetty service, enabled in default."""
        dev = self.device
        service = f"/etc/init.d/agetty.{dev}"
        kind = self.guest.root.kind(service, follow_last=False)
        if kind is None:
            self.links.append(Change(service, None, link_target="agetty"))
        elif kind != "link" and kind != "file":
            self.note(f"{service} is not a service script; agetty not enabled")
            return
        # Relative, like the systemd link above: it must not name the rescue host's file.
        self.links.append(Change(f"/etc/runlevels/default/agetty.{dev}", None,
                                 link_target=f"../../init.d/agetty.{dev}"))

    def plan(self) -> Plan:
        self.plan_grub_defaults()
        self.plan_boot()
        self.plan_login()
        changes = []
        for path, ed in self.edits.items():
            new = ed.result()
            if new != ed.tf.text:
                after = new.encode("utf-8") if _is_utf8(ed.tf.data) else new.encode("latin-1")
                if self.guest.grubenv is not None and path == self.guest.grubenv.file.path:
                    after = _repad_grubenv(path, ed.tf.data, after)
                changes.append(Change(path, ed.tf.data, after))
        changes.extend(self.new_files + self.links)
        return Plan(changes, self.notes)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _with_speed(text: str, baud: int) -> str:
    """A `serial` command with `--speed=baud` (replaced in place, or appended)."""
    if _SPEED_OPT.search(text):
        return _SPEED_OPT.sub(lambda m: m.group(0)[:-len(m.group(1))] + str(baud), text, count=1)
    m = re.search(r"\bserial\b", text)
    if m is None:  # e.g. "$SERIAL_ARGS": the speed goes last
        return text.rstrip() + f" --speed={baud}"
    return text[:m.end()] + f" --speed={baud}" + text[m.end():]


def _repad_grubenv(path: str, before: bytes, after: bytes) -> bytes:
    """Keep a grubenv block at its size: strip the old `#` padding and pad again."""
    size = len(before) if len(before) >= GRUBENV_SIZE else GRUBENV_SIZE
    body = after.rstrip(b"#")
    if len(body) > size:
        raise UnsupportedError(f"the new grubenv would not fit its {size}-byte block", path=path)
    return body + b"#" * (size - len(body))


def plan_fix(guest: Guest, device: str, baud: int | None = None) -> Plan:
    """The changes that give `guest` a serial console on `device` at `baud` (None: the speed
    the guest already runs an Arm board's port at, else 115200; see sources.choose_baud).

    `device` and `baud` are refused (InvalidArgumentError, exit 24) unless they are a plain
    port name and a standard speed: they are written into shell-sourced files and link names.
    """
    cmdline.validate_device(device)
    if baud is None:
        baud = guest.baud_for(device)
    cmdline.validate_baud(baud)
    if baud > cmdline.PC_MAX_BAUD and guest.arch in ("x86_64", "i386"):
        raise InvalidArgumentError(f"{baud} baud is faster than a PC COM port runs (GRUB, "
                                   f"syslinux and the 16550 stop at {cmdline.PC_MAX_BAUD}): "
                                   "give --baud 115200 or less")
    refused = blockers(guest, device, baud)
    if refused:
        raise UnfixableGuestError(
            "linux fix refuses this guest, nothing was changed: "
            + "; ".join(f"{b.message} ({', '.join(str(e.file) for e in b.evidence[:3])}); "
                        f"next step: {b.next_step}" for b in refused),
            path=guest.root.description)
    return _Planner(guest, device, baud).plan()


def write_sink(fs) -> FolderSink | GuestfsSink:
    """The sink `linux fix` writes a guest root through (bcdtool/write): the mounted root
    folder's, or libguestfs's (the readers in linux/ know nothing of writing)."""
    if isinstance(fs, DirectoryFS):
        return FolderSink(fs.root, target=fs.root, key="linux:" + fs.root, cap=MAX_FILE_BYTES,
                          label_links=True)
    if isinstance(fs, GuestfsTree):
        return GuestfsSink(fs.disk, mount="os", key=guestfs_key(fs.disk.image, "os", None),
                           cap=MAX_FILE_BYTES)
    raise UnsupportedError("this guest root is read natively and cannot be written: mount its "
                           "root file system and fix the folder, or use --backend guestfs")


def _steps(root, plan: Plan) -> tuple[list[Step], dict[str, bytes | None], dict[str, str]]:
    """The transaction's steps for `plan` (paths relative to the root), each file's bytes when
    the plan was made (None: a link to create) and its path in the guest."""
    steps, originals, guest_paths = [], {}, {}
    for change in plan.changes:
        link = change.link_target is not None
        rel = "/".join(root.resolve(change.path, follow_last=not link))
        originals[rel] = None if link else change.before
        guest_paths[rel] = change.path
        steps.append(Step(rel, link=change.link_target) if link else Step(rel, change.after))
    return steps, originals, guest_paths


def refuse_plan(guest: Guest, plan: Plan) -> None:
    """Raise what the write transaction would refuse `plan` with (a dry run's check: read-only
    media, the volume's state), without writing anything."""
    sink = write_sink(guest.root.fs)
    try:
        steps, _, _ = _steps(guest.root, plan)
        refused = Transaction(sink, operation="linux fix").refusal([steps])
    finally:
        sink.close()
    if refused is not None:
        raise refused


def apply_plan(guest: Guest, plan: Plan, *, backup_dir: str | None = None,
               operation: str = "linux fix", audit_log=None) -> Journal:
    """Write every change of `plan` into the guest root through the one write transaction
    (journaled first, verified after, restored on failure); return the journal."""
    root = guest.root
    sink = write_sink(root.fs)
    steps, originals, guest_paths = _steps(root, plan)
    # An audit line when asked for one (`linux fix` keeps the state folder untouched when
    # --backup-dir is given).
    audit = Audit(store={"guest": root.description}, changes=[c.path for c in plan.changes],
                  path=audit_log) if audit_log else None
    transaction = Transaction(sink, operation=operation, backup_dir=backup_dir,
                              diff=[{"path": c.path, "diff": c.diff()} for c in plan.changes],
                              audit_info=audit)
    result = WriteResult(target=sink.target, dry_run=False, size=0, sha256_before="",
                         sha256_after="", plan=[], pages_written=0,
                         bytes_written=sum(len(s.data) for s in steps))

    def verify(fresh) -> None:
        for step in steps:
            now = fresh.lstat_link(step.file) if step.link is not None else fresh.read(step.file)
            if now != (step.link if step.link is not None else step.data):
                raise VerifyError("the guest file does not read back as written", path=step.file)

    try:
        _, journal = transaction.run(
            [steps],
            originals=originals,
            verify=verify,
            result=result,
            extra={"guest_paths": guest_paths},
        )
    finally:
        sink.close()
    plan.notes.extend(result.notices)      # an audit line that failed after the write
    return journal
