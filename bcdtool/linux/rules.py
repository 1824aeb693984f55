"""Rules: turn what was read from a guest into findings (one per rule, stable ids)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bcdtool.linux import cmdline, inittab, lilo, nixos, raspi, syslinux
from bcdtool.linux.refusals import blockers
from bcdtool.linux.sources import RESCUE_ARGS, Guest, KernelLine, rpi_uart
from bcdtool.report import Evidence, Finding, Report

_VAR_TOKEN = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")
_SPEED = re.compile(r"(?:--speed[= ]|-s ?)(\d+)")
#: The port of a GRUB `serial` command: --unit=N, --port=ADDRESS (or comN/efiN), or a bare
#: comN/efiN word.  efiN is the firmware's Nth serial device (EFI SERIAL_IO), taken as COM N+1.
SERIAL_PORT = re.compile(r"--unit[= ](\d+)|--port[= ](\S+)|(?<=[ \t])(com|efi)(\d+)\b")
#: GRUB's per-port terminal names: serial_comN, serial_efiN.
SERIAL_TERM = re.compile(r"\bserial_(com|efi)(\d+)\b")
_NAMED_PORT = re.compile(r"(?:com|efi)(\d+)")


@dataclass
class CmdlineView:
    """One kernel command line as the kernel would see it, and where it was read."""

    args: list[str]
    evidence: Evidence
    rescue: bool = False


def expand_line(guest: Guest, line: KernelLine) -> list[str]:
    """Arguments of a boot line with `$kernelopts` taken from grubenv (else grub.cfg's fallback
    `set kernelopts=`) and other `$vars` from grub.cfg's `set` lines; unknown `$vars` dropped."""
    return _expand(guest, line.args_text, 0)


def _expand(guest: Guest, text: str, depth: int) -> list[str]:
    out = []
    for arg in cmdline.args_of(text):
        m = _VAR_TOKEN.match(arg)
        if m:
            name = m.group(1)
            if name == "kernelopts" and guest.grubenv is not None \
                    and "kernelopts" in guest.grubenv.values:
                out.extend(cmdline.args_of(guest.grubenv.values["kernelopts"]))
            elif name in guest.grub_vars and depth < 4:
                out.extend(_expand(guest, guest.grub_vars[name].value, depth + 1))
            continue
        out.append(arg)
    return out


def boot_views(guest: Guest) -> list[CmdlineView]:
    """Every boot entry's command line (grub.cfg, BLS, legacy GRUB, extlinux)."""
    views = []
    for line in guest.kernel_lines:
        args = expand_line(guest, line)
        views.append(CmdlineView(args, Evidence(line.file.path, line.line, line.command),
                                 rescue=line.rescue or any(a in RESCUE_ARGS for a in args)))
    for tf, label in guest.extlinux_bare:
        views.append(CmdlineView([], Evidence(tf.path, label.line, f"LABEL {label.name}: no "
                                              "APPEND")))
    for u in guest.ukis:
        views.append(CmdlineView(cmdline.args_of(u.cmdline or ""),
                                 Evidence(u.path, None, "unified kernel image .cmdline")))
    for script in guest.uboot_scripts:
        views.append(uboot_script_view(script))
    if guest.lilo is not None:
        cfg = lilo.parse(guest.lilo.text)
        for image in cfg.images:
            views.append(CmdlineView(cmdline.args_of(cfg.command_line(image)),
                                     Evidence(guest.lilo.path, image.line,
                                              f"image={image.kernel}")))
    return views


def uboot_script_view(script) -> CmdlineView:
    """What a U-Boot script gives the kernel (no arguments when that is not known)."""
    out = script.outcome
    if out is None:
        return CmdlineView([], Evidence(script.path, None, f"unreadable: {script.error}"))
    if out.bootargs is None:
        return CmdlineView([], Evidence(script.path, out.line, out.reason))
    return CmdlineView(cmdline.args_of(out.bootargs),
                       Evidence(script.path, out.line, "setenv bootargs"))


def regenerated_views(guest: Guest) -> list[CmdlineView]:
    """Settings from which boot entries are written again (next kernel, next rebuild)."""
    views = []
    kv = guest.grub_vars.get("kernelopts")
    if kv is not None and guest.bls_entries:
        # RHEL 8: grub.cfg's own kernelopts, used when grubenv has none.
        views.append(CmdlineView(cmdline.args_of(kv.value),
                                 Evidence(kv.file.path, kv.line, "set kernelopts (fallback)")))
    for env, name in ((guest.update_extlinux_env, "default_kernel_opts"),
                      (guest.sysconfig_env, "DEFAULT_APPEND")):
        a = env.last(name)
        if a is not None and a.value is not None:
            views.append(CmdlineView(cmdline.args_of(a.value), Evidence(a.file, a.line, name)))
    if guest.kernel_cmdline is not None:
        views.append(CmdlineView(cmdline.args_of(guest.kernel_cmdline.text),
                                 Evidence(guest.kernel_cmdline.path, 1, "kernel-install")))
    if guest.clear_linux:
        # clr-boot-manager appends every /etc/kernel/cmdline.d/*.conf to the vendor line.
        args = [a for tf in guest.cmdline_d for a in cmdline.args_of(tf.text)]
        where = guest.cmdline_d[-1].path if guest.cmdline_d else "/etc/kernel/cmdline.d"
        views.append(CmdlineView(args, Evidence(where, None, "clr-boot-manager")))
    if guest.uboot_files:
        views.append(uboot_view(guest))
    if guest.kernelstub is not None:
        tf, opts = guest.kernelstub, guest.kernelstub_options
        views.append(CmdlineView(list(opts.values), Evidence(
            tf.path, tf.text.count("\n", 0, opts.span[0]) + 1, "kernelstub user.kernel_options")))
    if guest.nixos_config is not None:
        params = nixos.kernel_params(guest.nixos_config.text)
        line = params.line if params else None
        views.append(CmdlineView(params.values if params else [],
                                 Evidence(guest.nixos_config.path, line, "boot.kernelParams")))
    return views


def uboot_view(guest: Guest) -> CmdlineView:
    """What u-boot-update writes into extlinux.conf's `append`: U_BOOT_PARAMETERS, else
    /etc/kernel/cmdline, else its default "ro quiet"."""
    a = guest.uboot_env.last("U_BOOT_PARAMETERS")
    if a is not None and a.value:
        return CmdlineView(cmdline.args_of(a.value), Evidence(a.file, a.line, a.name))
    if guest.kernel_cmdline is not None:
        return CmdlineView(cmdline.args_of(guest.kernel_cmdline.text),
                           Evidence(guest.kernel_cmdline.path, 1, "u-boot-update"))
    return CmdlineView(["ro", "quiet"], Evidence(guest.uboot_files[0].path, None,
                                                 "U_BOOT_PARAMETERS unset: ro quiet"))


def loader_words(guest: Guest) -> str:
    """The guest's boot loaders, for hints ("GRUB 2", "extlinux/syslinux", ...)."""
    return " and ".join(guest.boot_loaders) or "its boot loader"


def default_views(guest: Guest) -> tuple[CmdlineView | None, CmdlineView | None, str]:
    """(LINUX+DEFAULT view, LINUX-only view, reason when unknown) from /etc/default/grub."""
    env = guest.grub_env
    lin, dflt = env.last("GRUB_CMDLINE_LINUX"), env.last("GRUB_CMDLINE_LINUX_DEFAULT")
    if lin is None and dflt is None:
        return None, None, ""
    for a in (lin, dflt):
        if a is not None and a.value is None:
            return None, None, f"{a.file}:{a.line}: {a.name} is unknown ({a.reason})"
    owner = dflt or lin
    ev = Evidence(owner.file, owner.line, owner.name)
    lin_args = cmdline.args_of(lin.value) if lin else []
    full = lin_args + (cmdline.args_of(dflt.value) if dflt else [])
    return CmdlineView(full, ev), CmdlineView(lin_args, Evidence(lin.file, lin.line, lin.name)
                                              if lin else ev, rescue=True), ""


def grub_terminals(guest: Guest) -> dict:
    """GRUB's input/output terminals and serial speed, from /etc/default/grub and grub.cfg."""
    env = guest.grub_env
    out: dict = {"default": None, "cfgs": []}
    if guest.grub_files:
        term = env.values.get("GRUB_TERMINAL")
        inp = term if term else env.values.get("GRUB_TERMINAL_INPUT")
        outp = term if term else env.values.get("GRUB_TERMINAL_OUTPUT")
        serial = env.values.get("GRUB_SERIAL_COMMAND")
        src = env.last("GRUB_TERMINAL") or env.last("GRUB_TERMINAL_OUTPUT")
        out["default"] = {
            "input": inp, "output": outp,
            "unknown": any(v is None and k in env.values for k, v in (
                ("GRUB_TERMINAL", term), ("GRUB_SERIAL_COMMAND", serial))),
            # 00_header: a `serial` terminal without GRUB_SERIAL_COMMAND gets a bare `serial`
            # command (unit 0, 9600 baud).
            "speed": _speed(serial) if serial is not None else (
                cmdline.DEFAULT_SPEED if "serial" in f"{inp} {outp}".split() else None),
            "evidence": Evidence(src.file, src.line, src.name) if src else
            Evidence(guest.grub_files[0].path, None, "no GRUB_TERMINAL"),
        }
    for tf in guest.main_cfgs:
        cfg = {"file": tf.path, "input": [], "output": [], "serial": [], "evidence": []}
        for lineno, line in enumerate(tf.text.split("\n"), 1):
            words = line.split()
            if not words:
                continue
            if words[0] in ("terminal_input", "terminal_output"):
                cfg["input" if words[0] == "terminal_input" else "output"].append(words[1:])
                cfg["evidence"].append(Evidence(tf.path, lineno, words[0]))
            elif words[0] == "serial":
                where = Evidence(tf.path, lineno, "serial")
                cfg["serial"].append((_speed(line) or cmdline.DEFAULT_SPEED, where))
                cfg["evidence"].append(where)
        out["cfgs"].append(cfg)
    if guest.legacy is not None:
        leg = {"terminal": None, "speed": None, "evidence": [], "graphics": []}
        for lineno, line in enumerate(guest.legacy.text.split("\n"), 1):
            words = line.split()
            if words and words[0].split("=", 1)[0] in ("gfxmenu", "splashimage"):
                leg["graphics"].append(Evidence(guest.legacy.path, lineno,
                                                f"{words[0].split('=', 1)[0]} hides the serial "
                                                "menu"))
            if words and words[0] == "terminal":
                leg["terminal"] = [w for w in words[1:] if not w.startswith("-")]
                leg["evidence"].append(Evidence(guest.legacy.path, lineno, "terminal"))
            elif words and words[0] == "serial":
                leg["speed"] = _speed(line) or cmdline.DEFAULT_SPEED
                leg["evidence"].append(Evidence(guest.legacy.path, lineno, "serial"))
        out["legacy"] = leg
    return out


def _speed(text: str) -> int | None:
    m = _SPEED.search(text)
    if m:
        return int(m.group(1))
    return cmdline.DEFAULT_SPEED if text.split()[:1] == ["serial"] else None


def has_serial_terminal(terms) -> bool:
    """True when GRUB terminal names include a serial one (`serial`, `serial_comN`, Amazon
    Linux's `ec2-console`, its GRUB's serial-and-screen terminal, or IEEE 1275's `ofconsole`,
    the firmware console that is the hypervisor's hvc0 on IBM Power)."""
    words = (terms.split() if isinstance(terms, str) else terms) if terms is not None else []
    return any(w in ("serial", "ec2-console", "ofconsole") or SERIAL_TERM.fullmatch(w)
               for w in words)



def serial_unit(text: str) -> int | None:
    """The COM unit a GRUB `serial` command opens (--unit, --port address, comN or efiN;
    default 0)."""
    m = SERIAL_PORT.search(text)
    return 0 if m is None else port_unit(m)


def port_unit(m: re.Match) -> int | None:
    """The unit a SERIAL_PORT match names (None: a --port value that is no COM port)."""
    if m.group(1) is not None:
        return int(m.group(1))
    if m.group(4) is not None:
        return int(m.group(4))
    named = _NAMED_PORT.fullmatch(m.group(2))
    return int(named.group(1)) if named else syslinux.parse_port(m.group(2))


def terminal_units(words) -> list[int]:
    """COM units named by `serial_comN` terminal names."""
    return [int(m.group(2)) for w in words or [] for m in [SERIAL_TERM.fullmatch(w)] if m]


def check_console(guest: Guest, device: str) -> list[Finding]:
    """Serial console present and last; no competing serial consoles; quiet/rhgb."""
    views = [v for v in boot_views(guest) if not v.rescue]
    full, _, unknown = default_views(guest)
    if full is not None:
        views.insert(0, full)
    views += regenerated_views(guest)
    findings = []
    baud = guest.baud_for(device)
    fix = (f"bcdtool linux fix (makes console={device},{baud}n8 the last console= in "
           f"{loader_words(guest)})")
    manual = _manual_steps(guest, device)
    if manual:
        fix += "; by hand: " + "; ".join(manual)
    if not views:
        # Nothing says where the console goes: never "ok" (a fix could not be verified either).
        msg = unknown or "no kernel command line found (no grub.cfg, BLS entry, grub.conf, " \
                         "extlinux.conf or /etc/default/grub; is /boot a separate, unmounted " \
                         "partition?)"
        findings.append(Finding("kernel.serial-console", "problem", msg, (),
                                "mount the guest's /boot inside its root and check again"))
    else:
        bad = []
        for v in views:
            last, _ = cmdline.serial_verdict(v.args)
            if last is None and guest.default_console_is(device):
                continue            # IBM Power: hvc0 is the console when none is named
            if last is None or last.device != device:
                got = f"last console is {last.device}" if last else "no console= argument"
                bad.append(Evidence(v.evidence.file, v.evidence.line, got))
        if bad:
            findings.append(Finding("kernel.serial-console", "problem",
                                    f"the kernel does not use {device} as its console "
                                    f"(it must be the last console=)", tuple(bad), fix))
        else:
            findings.append(Finding("kernel.serial-console", "ok",
                                    f"console={device} is the last console= on every command line",
                                    tuple(v.evidence for v in views)))
    competing, quiet = [], []
    for v in views:
        devices = {c.device for c in cmdline.consoles(v.args) if c.serial}
        if len(devices) > 1:
            competing.append(Evidence(v.evidence.file, v.evidence.line,
                                      "serial consoles: " + ", ".join(sorted(devices))))
        hidden = [a for a in v.args if a in cmdline.QUIET_ARGS]
        if hidden:
            quiet.append(Evidence(v.evidence.file, v.evidence.line, " ".join(hidden)))
    findings.append(Finding("kernel.serial-competing", "warning" if competing else "ok",
                            "several serial consoles compete; only the last gets /dev/console "
                            "and the login" if competing else "one serial console",
                            tuple(competing), "remove the console= of the unused port"))
    findings.append(Finding("kernel.quiet", "warning" if quiet else "ok",
                            "quiet/rhgb hide boot messages on the serial console" if quiet
                            else "boot messages are not hidden", tuple(quiet),
                            "bcdtool linux fix drops quiet and rhgb"))
    return findings


def _manual_steps(guest: Guest, device: str) -> list[str]:
    """What `fix` cannot do durably and the user must change, exactly where."""
    steps = []
    want = f"console={device},115200n8"
    if guest.nixos_config is not None and nixos.kernel_params(guest.nixos_config.text) is None:
        steps.append(f'add boot.kernelParams = [ "console=tty0" "{want}" ]; to '
                     f"{guest.nixos_config.path} and run nixos-rebuild boot (NixOS rewrites "
                     "grub.cfg and its boot entries from it)")
    return steps


def check_applied(guest: Guest) -> Finding:
    """/etc/default/grub, grub.cfg, BLS entries and grubenv agree on the consoles."""
    full, lin, unknown = default_views(guest)
    boot = boot_views(guest)
    if full is not None and not boot:
        return Finding("grub.config-applied", "warning",
                       "no generated boot entries found (grub.cfg, BLS entries): is /boot a "
                       "separate partition that is not mounted? Edits of /etc/default/grub take "
                       "effect only after update-grub/grub2-mkconfig", (full.evidence,),
                       "mount /boot inside the root and run bcdtool linux fix again")
    if full is None or not boot:
        return Finding("grub.config-applied", "unknown" if unknown else "ok",
                       unknown or "nothing to compare (no /etc/default/grub command line or no "
                       "generated boot entries)", ())

    def sig(args):
        # What matters for the serial console: who owns /dev/console, at which speed, and
        # which serial ports get kernel output.  (A VT console differing is not our business.)
        last, serial = cmdline.serial_verdict(args)
        return (last.device if last else None,
                last.effective_speed if last and last.serial else None,
                sorted(c.device for c in serial))

    def show(args):
        return " ".join(a for a in args if a.startswith("console=")) or "no console="

    def last_device(args):
        last, _ = cmdline.serial_verdict(args)
        return last.device if last else None

    def agrees(v: CmdlineView) -> bool:
        if sig(v.args) == sig(full.args):
            return True
        # grub-mkconfig gives rescue entries GRUB_CMDLINE_LINUX only; a rescue entry that
        # (also) reaches the wanted console is fine.
        return v.rescue and (sig(v.args) == sig(lin.args)
                             or last_device(v.args) == last_device(full.args) is not None)

    bad = [Evidence(v.evidence.file, v.evidence.line, "consoles: " + show(v.args))
           for v in boot if not agrees(v)]
    fix = "bcdtool linux fix edits the generated files too (or run update-grub/grub2-mkconfig)"
    if bad:
        return Finding("grub.config-applied", "problem",
                       "the generated boot entries do not match /etc/default/grub (the edit was "
                       "never applied, or the boot entries were edited by hand): "
                       "want " + show(full.args),
                       (full.evidence, *bad), fix)
    return Finding("grub.config-applied", "ok", "boot entries match /etc/default/grub",
                   (full.evidence,))


def check_terminal(guest: Guest, device: str) -> list[Finding]:
    """The boot menu is on the serial port, at the kernel's speed (GRUB, extlinux)."""
    findings = []
    if guest.extlinux:
        findings.extend(check_extlinux(guest, device))
    if guest.rpi_config is not None:
        findings.append(check_rpi_uart(guest))
    has_grub = bool(guest.grub_files or guest.main_cfgs or
                    (guest.legacy is not None and guest.legacy_kernels))
    if not has_grub:
        if not (guest.extlinux or guest.rpi_config is not None or guest.lilo is not None) \
                or guest.uboot_scripts:
            findings.append(_other_loader(guest))
        return findings
    return findings + _check_grub_terminal(guest, device)


def check_rpi_uart(guest: Guest) -> Finding:
    """config.txt turns the Raspberry Pi's primary UART on (`enable_uart=1` for every board)."""
    won = rpi_uart(guest)
    tf, setting = won if won is not None else (guest.rpi_config, None)
    if setting is not None and setting.value == "1":
        return Finding("rpi.uart", "ok", "enable_uart=1: the primary UART (serial0) is on",
                       (Evidence(tf.path, setting.line, "enable_uart=1"),))
    ev = Evidence(tf.path, setting.line if setting else None,
                  f"enable_uart={setting.value}" if setting else "no enable_uart for every "
                  "board")
    return Finding("rpi.uart", "problem", "the Raspberry Pi firmware leaves the primary UART "
                   "off (the mini UART of the Pi 3/4/Zero W needs enable_uart=1)", (ev,),
                   "bcdtool linux fix (sets enable_uart=1 for every board in config.txt)")


def which_loader(guest: Guest) -> Finding | None:
    """GRUB and systemd-boot both installed: the evidence of which one the firmware starts."""
    grub = bool(guest.main_cfgs) or bool(guest.grub_files)
    if not (grub and guest.systemd_boot and not guest.grub_reads_bls):
        return None
    ev = tuple(Evidence(p, None, what) for p, what in guest.efi_loaders)
    fallback = [what for p, what in guest.efi_loaders if "fallback path" in what]
    told = f" The removable-media path holds {fallback[0].split(', ', 1)[1]}." if fallback else ""
    return Finding("bootloader.which", "warning",
                   "GRUB and systemd-boot are both installed; the firmware's boot order (in "
                   "NVRAM, not on this disk) picks one." + told + " Both are checked, and fix "
                   "edits both", ev, "efibootmgr -v on the running guest shows which one boots")


def _other_loader(guest: Guest) -> Finding:
    if guest.zipl_conf is not None or guest.arch == "s390x":
        return Finding("bootloader.serial", "ok", "zipl: the IPL's console is the machine's "
                       "(SCLP or 3215/3270), not set by the boot loader",
                       (Evidence(guest.zipl_conf.path if guest.zipl_conf else "zipl"),))
    if guest.uboot_scripts:
        s = guest.uboot_scripts[0]
        ev = [Evidence(s.path, None, "U-Boot script")]
        if s.stale_source:
            ev.append(Evidence(s.stale_source, None, "differs from the compiled script: edited "
                               "but mkimage not run; U-Boot runs the image"))
        return Finding("bootloader.serial", "warning",
                       "U-Boot prints its own messages on the UART its build chose (reported, "
                       "not edited): the kernel's console= decides what the serial port shows",
                       tuple(ev), "U-Boot's console is part of its build and environment")
    if guest.refind_files:
        return Finding("bootloader.serial", "warning",
                       "rEFInd shows its menu on the firmware's console (reported, not "
                       "edited): the kernel's console= decides what the serial port shows",
                       (Evidence(guest.refind_files[0].path),),
                       "enable the firmware's serial console redirection if the menu is needed")
    if guest.bls_entries or guest.systemd_boot or guest.ukis:
        where = next(iter([tf.path for tf in guest.bls_entries] + [u.path for u in guest.ukis]
                          + [p for p, _ in guest.efi_loaders]))
        return Finding("bootloader.serial", "warning",
                       "systemd-boot shows its menu on the firmware's console (reported, not "
                       "edited): the kernel's console= decides what the serial port shows",
                       (Evidence(where),),
                       "enable the firmware's serial console redirection if the menu is needed")
    return Finding("bootloader.serial", "unknown", "no boot loader configuration found (GRUB, "
                   "extlinux/syslinux or systemd-boot)", (),
                   "mount the guest's /boot (and its ESP) inside the root and check again")


def check_extlinux(guest: Guest, device: str) -> list[Finding]:
    """extlinux/syslinux has a SERIAL directive on the kernel's port at the kernel's speed."""
    m = re.match(r"ttyS([0-3])$", device)
    files = [(tf, cfg) for tf, cfg in guest.extlinux if cfg.linux_labels]
    if not files:
        return []
    fix = "bcdtool linux fix (adds SERIAL <port> <baud> first in the extlinux configuration)"
    if m is None:
        return [Finding("extlinux.serial", "warning", f"extlinux has no serial menu for {device} "
                        "(it drives PC COM ports only); the kernel's console= decides",
                        tuple(Evidence(tf.path) for tf, _ in files))]
    unit, speed = int(m.group(1)), _kernel_speed(guest, device)
    bad, good = [], []
    for tf, cfg in files:
        ser = cfg.serial
        if ser is None:
            bad.append(Evidence(tf.path, None, "no SERIAL directive (menu on the screen only)"))
        elif ser.port != unit:
            bad.append(Evidence(tf.path, ser.line, f"SERIAL port {ser.port} is not {device}"))
        elif speed is not None and ser.speed != speed:
            bad.append(Evidence(tf.path, ser.line, f"SERIAL at {ser.speed} baud, the kernel at "
                                f"{speed}"))
        else:
            good.append(Evidence(tf.path, ser.line, "SERIAL"))
    env = guest.update_extlinux_env
    port = env.last("serial_port")
    if guest.update_extlinux and (port is None or (port.value or "").strip() != str(unit)):
        ev = Evidence(port.file, port.line, f"serial_port={port.value or ''}") if port else \
            Evidence(guest.update_extlinux[0].path, None, "no serial_port")
        bad.append(ev)   # update-extlinux writes SERIAL from it: the next kernel update loses ours
    if bad:
        return [Finding("extlinux.serial", "problem", f"extlinux does not show its menu on "
                        f"{device} at the kernel's speed", tuple(bad), fix)]
    return [Finding("extlinux.serial", "ok", f"extlinux shows its menu on {device}", tuple(good))]


def _kernel_speed(guest: Guest, device: str) -> int | None:
    views = [v for v in boot_views(guest) if not v.rescue] + \
        [v for v in default_views(guest)[:1] if v] + regenerated_views(guest)
    for v in views:
        last, _ = cmdline.serial_verdict(v.args)
        if last is not None and last.device == device:
            return last.effective_speed
    return None


def grub_units(guest: Guest) -> list[tuple[int | None, Evidence]]:
    """Every COM unit GRUB is told to use: serial commands and serial_comN terminal names."""
    out = []
    env = guest.grub_env
    cmd = env.last("GRUB_SERIAL_COMMAND")
    if cmd is not None and cmd.value and cmd.value.split()[:1] == ["serial"]:
        out.append((serial_unit(cmd.value), Evidence(cmd.file, cmd.line, cmd.value)))
    for name in ("GRUB_TERMINAL", "GRUB_TERMINAL_INPUT", "GRUB_TERMINAL_OUTPUT"):
        a = env.last(name)
        if a is not None and a.value:
            out += [(u, Evidence(a.file, a.line, f"serial_com{u}"))
                    for u in terminal_units(a.value.split())]
    files = list(guest.main_cfgs)
    if guest.legacy is not None and guest.legacy_kernels:
        files.append(guest.legacy)
    for tf in files:
        for lineno, line in enumerate(tf.text.split("\n"), 1):
            words = line.split()
            if words[:1] == ["serial"]:
                out.append((serial_unit(line), Evidence(tf.path, lineno, line.strip())))
            elif words[:1] in (["terminal_input"], ["terminal_output"], ["terminal"]):
                out += [(u, Evidence(tf.path, lineno, f"serial_com{u}"))
                        for u in terminal_units(words[1:])]
    return out


def check_unit(guest: Guest, device: str) -> Finding:
    """GRUB's serial port is the kernel's (`--unit=1` is COM2, which is ttyS1)."""
    m = re.fullmatch(r"ttyS(\d+)", device)
    units = grub_units(guest)
    if m is None or not units:
        return Finding("grub.serial-unit", "ok", "nothing to compare (GRUB names no COM port, or "
                       f"{device} is not a COM port)", ())
    want = int(m.group(1))
    bad = [Evidence(e.file, e.line, f"{e.note}: COM{u + 1 if u is not None else '?'}")
           for u, e in units if u != want]
    if bad:
        return Finding("grub.serial-unit", "problem", f"GRUB's serial terminal is not on "
                       f"{device} (COM{want + 1}, unit {want}): the menu and the kernel use "
                       "different ports", tuple(bad),
                       f"bcdtool linux fix (points GRUB's serial unit at {device})")
    return Finding("grub.serial-unit", "ok", f"GRUB's serial port is {device}",
                   tuple(e for _, e in units))


def _check_grub_terminal(guest: Guest, device: str) -> list[Finding]:
    if guest.default_console_is(device):
        nothing = "nothing to compare (GRUB uses the firmware console)"
        return [Finding("grub.terminal-serial", "ok", "GRUB on IBM Power shows its menu on the "
                        "firmware console (ofconsole), which is the hypervisor console hvc0", ()),
                Finding("grub.serial-speed", "ok", nothing, ()),
                Finding("grub.serial-unit", "ok", nothing, ())]
    if guest.pc and cmdline.hypervisor_console(device):
        nothing = f"nothing to compare (GRUB has no serial unit for {device})"
        return [Finding("grub.terminal-serial", "ok", f"{device} is the hypervisor's console, "
                        "not a COM port GRUB can drive: a Xen PV guest's boot menu is shown by "
                        "PV-GRUB on that console (pygrub: by the host)", ()),
                Finding("grub.serial-speed", "ok", nothing, ()),
                Finding("grub.serial-unit", "ok", nothing, ())]
    terms = grub_terminals(guest)
    strict = "problem" if guest.pc else "warning"
    if not guest.pc:
        fix = (f"GRUB on {guest.arch} shows its menu on the firmware's console (fix leaves its "
               "terminal alone): turn on the firmware's serial console if the menu is needed")
    elif guest.grub_files:
        fix = "bcdtool linux fix (GRUB_TERMINAL=\"serial console\" and the serial command)"
    elif guest.main_cfgs:
        fix = "bcdtool linux fix (serial and terminal_input/terminal_output lines in grub.cfg)"
    else:
        fix = ("bcdtool linux fix (serial and terminal lines in the legacy GRUB menu; gfxmenu, "
               "splashimage and color commented out)")
    if guest.nixos_config is not None:
        fix += ("; NixOS writes grub.cfg again: add boot.loader.grub.extraConfig = \"serial "
                "--unit=0 --speed=115200; terminal_input serial console; terminal_output serial "
                f"console\"; to {guest.nixos_config.path}")
    evidence, missing, speeds = [], [], []
    d = terms.get("default")
    if d is not None:
        evidence.append(d["evidence"])
        if d["unknown"]:
            return [Finding("grub.terminal-serial", "unknown",
                            "GRUB_TERMINAL or GRUB_SERIAL_COMMAND needs a command to compute",
                            tuple(evidence), fix)]
        if not (has_serial_terminal(d["input"]) and has_serial_terminal(d["output"])):
            missing.append(Evidence(d["evidence"].file, d["evidence"].line,
                                    f"input={d['input'] or 'native'} "
                                    f"output={d['output'] or 'native'}"))
        elif d["speed"]:
            speeds.append((d["speed"], d["evidence"]))
    for c in terms["cfgs"]:
        if not (any(has_serial_terminal(t) for t in c["input"])
                and any(has_serial_terminal(t) for t in c["output"])):
            missing.append(Evidence(c["file"], c["evidence"][0].line if c["evidence"] else None,
                                    "grub.cfg does not enable the serial terminal"))
        else:
            speeds.extend(c["serial"])
        evidence.extend(c["evidence"])
    leg = terms.get("legacy")
    if leg is not None and guest.legacy_kernels:
        missing.extend(leg["graphics"])
        if not has_serial_terminal(leg["terminal"]):
            missing.append(Evidence(guest.legacy.path, None, "no `terminal serial` line"))
        elif leg["speed"]:
            speeds.append((leg["speed"], leg["evidence"][-1]))
        evidence.extend(leg["evidence"])
    findings = []
    if d is None and not terms["cfgs"] and leg is None:
        findings.append(Finding("grub.terminal-serial", "unknown", "no GRUB configuration found",
                                (), fix))
    elif missing:
        findings.append(Finding("grub.terminal-serial", strict,
                                "GRUB does not use the serial terminal (no boot menu on the "
                                "serial console)" + ("; the firmware may still mirror it"
                                                     if strict == "warning" else ""),
                                tuple(missing), fix))
    else:
        findings.append(Finding("grub.terminal-serial", "ok", "GRUB uses the serial terminal",
                                tuple(evidence)))
    kernel_speed = None
    candidates = [v for v in boot_views(guest) if not v.rescue]
    candidates += [x for x in default_views(guest)[:1] if x]
    for v in candidates:
        last, _ = cmdline.serial_verdict(v.args)
        if last is not None and last.device == device:
            kernel_speed = (last.effective_speed, v.evidence)
            break
    mismatched = [Evidence(e.file, e.line, f"GRUB {s} baud") for s, e in speeds
                  if kernel_speed and s != kernel_speed[0]]
    if kernel_speed is None or not speeds:
        findings.append(Finding("grub.serial-speed", "ok", "nothing to compare (GRUB or the kernel "
                                "does not use the serial port)", ()))
    elif mismatched:
        findings.append(Finding("grub.serial-speed", "problem",
                                f"GRUB's serial speed differs from the kernel's {kernel_speed[0]} "
                                "baud (one of them shows garbage)",
                                (kernel_speed[1], *mismatched),
                                "bcdtool linux fix --baud N sets both"))
    else:
        findings.append(Finding("grub.serial-speed", "ok",
                                f"GRUB and the kernel both use {kernel_speed[0]} baud",
                                (kernel_speed[1],)))
    findings.append(check_unit(guest, device))
    return findings


#: Consoles systemd-getty-generator starts a serial getty on whenever the device exists, with or
#: without console= (its virtualization_consoles list).
VIRTUALIZATION_CONSOLES = ("hvc0", "xvc0", "hvsi0", "sclp_line0", "ttysclp0")


def kernel_has_console(guest: Guest, device: str) -> bool:
    """True when a normal boot entry puts a console on `device` (systemd then starts a getty)."""
    views = [v for v in boot_views(guest) if not v.rescue] or \
        [v for v in default_views(guest)[:1] if v]
    return bool(views) and all(any(c.device == device for c in cmdline.consoles(v.args))
                               or (guest.default_console_is(device)
                                   and not cmdline.consoles(v.args))
                               for v in views)


def check_getty(guest: Guest, device: str) -> Finding:
    """A login prompt will run on the serial port, at the kernel console's speed."""
    found = _check_getty(guest, device)
    sp = guest.getty_speed
    if found.status != "ok" or sp is None:
        return found
    speed = _kernel_speed(guest, device)
    if speed is None or speed in sp.speeds:
        return found
    return Finding("getty.serial", "problem", f"the getty on {device} runs at "
                   f"{','.join(map(str, sp.speeds))} baud, the kernel console at {speed}: the "
                   "login prompt arrives garbled",
                   (Evidence(sp.path, sp.line, "speed" if sp.file else "no baud= (agetty's "
                             "default 9600)"),),
                   f"bcdtool linux fix (sets the getty's speed to {speed})")


def _check_getty(guest: Guest, device: str) -> Finding:
    fix = f"bcdtool linux fix (enables serial-getty@{device}.service)"
    if guest.init == "systemd":
        links = guest.getty_links
        for path in guest.getty_masks:
            name = path.rsplit("/", 1)[1]
            how = f"-> {links[path]}" if links.get(path) else "empty unit file"
            return Finding("getty.serial", "problem", f"{name} is masked (systemd starts no "
                           "serial getty)", (Evidence(path, None, how),),
                           f"remove the mask if it was not deliberate: rm {path} (or `systemctl "
                           f"unmask {name}` in the guest)")
        wants = f"/etc/systemd/system/getty.target.wants/serial-getty@{device}.service"
        if links.get(wants):
            if guest.root.kind(wants) == "file":
                return Finding("getty.serial", "ok", f"serial-getty@{device}.service is enabled",
                               (Evidence(wants, None, "-> " + links[wants]),))
            return Finding("getty.serial", "problem", "the enable symlink points to no unit",
                           (Evidence(wants, None, "-> " + links[wants]),), fix)
        if kernel_has_console(guest, device):
            return Finding("getty.serial", "ok", f"systemd starts a getty on {device} because "
                           "the kernel console is there (systemd-getty-generator)", ())
        if device in VIRTUALIZATION_CONSOLES:
            return Finding("getty.serial", "ok", f"systemd starts a getty on {device} wherever "
                           "it exists: a hypervisor console (systemd-getty-generator)", ())
        if guest.unit_path is None or device.startswith(raspi.SERIAL_ALIAS[:-1]):
            fix = (f"bcdtool linux fix (console={device} on the kernel command line makes "
                   "systemd-getty-generator start a getty there)")
        return Finding("getty.serial", "problem", f"no getty will run on {device}", (), fix)
    if guest.init in ("runit", "dinit"):
        return _runit_getty(guest, device)
    if guest.init == "upstart" and guest.upstart_serial:
        if kernel_has_console(guest, device):
            return Finding("getty.serial", "ok", "upstart's serial.conf starts a getty on the "
                           "kernel's serial console", (Evidence(guest.upstart_serial),))
        return Finding("getty.serial", "problem", f"no console={device}, so upstart starts no "
                       "serial getty", (Evidence(guest.upstart_serial),), fix)
    for path, target in guest.openrc_gettys.items():
        if path.endswith(f"/agetty.{device}"):
            return Finding("getty.serial", "ok", f"OpenRC starts agetty on {device}",
                           (Evidence(path, None, f"-> {target}"),))
    if guest.inittab is not None:
        tab, busybox = guest.inittab, guest.busybox
        who = "BusyBox init" if busybox else "inittab"
        entry = inittab.getty_on(tab.text, device, busybox=busybox)
        getty = serial_getty(guest)
        if entry is not None and inittab.vc_only(entry):
            return Finding("getty.serial", "problem", f"{inittab.program(entry)} cannot drive a "
                           f"serial line (virtual consoles only): no usable login prompt on "
                           f"{device}", (Evidence(tab.path, entry.line, entry.process),),
                           "bcdtool linux fix (runs "
                           f"`{inittab.getty_process(device, 115200, getty)}` on that line "
                           "instead)")
        if entry is not None:
            return Finding("getty.serial", "ok", f"{who} runs a getty on {device}",
                           (Evidence(tab.path, entry.line),))
        line = inittab.getty_line(device, 115200, busybox=busybox, getty=getty,
                                  taken=inittab.ids(tab.text))
        if guest.openrc and guest.agetty_service and not busybox:
            fix = (f"bcdtool linux fix (enables OpenRC's agetty.{device} in "
                   "/etc/runlevels/default)")
        else:
            fix = f"bcdtool linux fix (adds `{line}` to {tab.path})"
        misread = inittab.misread_lines(tab.text, device) if busybox else []
        if misread:
            return Finding("getty.serial", "problem", f"BusyBox init reads the first field as the "
                           f"tty: these lines run on /dev/{misread[0].id}, not on {device}",
                           tuple(Evidence(tab.path, e.line, e.id) for e in misread), fix)
        return Finding("getty.serial", "problem", f"{who} runs no getty on {device}",
                       (Evidence(tab.path),), fix)
    if guest.init in S6_STEPS:
        return Finding("getty.serial", "unknown", f"{guest.init} runs the services from its own "
                       "compiled service database, which bcdtool neither reads nor changes",
                       (Evidence(f"/etc/{guest.init}"),), S6_STEPS[guest.init].format(dev=device))
    return Finding("getty.serial", "unknown", "cannot tell which init system the guest uses "
                   "(no systemd, upstart, /etc/inittab, OpenRC runlevels, runit or dinit)", (),
                   "start a getty on the port by hand (see the guest's init documentation)")


#: The next step for a serial getty under the s6 family (the services live in a compiled
#: database: s6-rc's, or 66's trees).
S6_STEPS = {
    "s6": "in the guest, add an s6-rc longrun that runs `agetty -L {dev} 115200 vt100` (copy "
          "the agetty-tty1 source definition under /etc/s6/sv and change the port) to the "
          "default bundle, then recompile the database (`s6-db-reload`, or s6-rc-compile and "
          "s6-rc-update)",
    "66": "in the guest, enable a getty frontend instance for {dev} (66's tty/agetty service "
          "with the port as its instance: `66 enable` it in the boot tree), then reboot",
}


def serial_getty(guest: Guest) -> str:
    """The getty program an inittab line for a serial port runs: util-linux's agetty where the
    guest has it (SysV init), else getty (BusyBox's applet, or the guest's own)."""
    if not guest.busybox:
        for path in ("/sbin/agetty", "/usr/sbin/agetty"):
            if guest.root.exists(path):
                return path
    if guest.root.exists("/sbin/getty") or not guest.busybox:
        return "/sbin/getty"
    return "/bin/busybox getty"


def _runit_getty(guest: Guest, device: str) -> Finding:
    """runit (a service folder linked into the runsvdir) or dinit (a service file linked into
    /etc/dinit.d/boot.d, what `dinitctl enable` does)."""
    init, service = guest.init, guest.runit_service(device)
    if service is None:
        where = "/etc/dinit.d/agetty-" if init == "dinit" else "/etc/sv/agetty-"
        return Finding("getty.serial", "problem", f"{init} has no getty service for {device} "
                       f"(no {where}{device})", (),
                       f"create {where}{device} in the guest (copy an agetty-ttyS0 service "
                       f"and change the port), then link it into {guest.runit_dir}")
    name = service.rsplit("/", 1)[1]
    link = f"{guest.runit_dir}/{name}"
    if link in guest.runit_enabled:
        # dinit reads only the names in boot.d (the service is found by name in its service
        # folders; Chimera links `../NAME` even for a file in /usr/lib/dinit.d).
        if guest.init == "dinit" or guest.root.kind(link) == "dir":
            return Finding("getty.serial", "ok", f"{init} starts {name}",
                           (Evidence(link, None, "-> " + guest.runit_enabled[link]),))
        return Finding("getty.serial", "problem", f"{link} points to no service folder",
                       (Evidence(link, None, "-> " + guest.runit_enabled[link]),),
                       f"point it at {service}")
    return Finding("getty.serial", "problem", f"{init} does not start {name} (not linked in "
                   f"{guest.runit_dir})", (Evidence(service),),
                   f"bcdtool linux fix (links {service} into {guest.runit_dir})")


def check_securetty(guest: Guest, device: str) -> Finding:
    """root may log in on the port (pam_securetty with /etc/securetty)."""
    st = guest.securetty
    if st is None or not guest.pam_securetty:
        return Finding("login.securetty", "ok", "no /etc/securetty restriction applies", ())
    names = {ln.strip().removeprefix("/dev/") for ln in st.text.splitlines()}
    if device in names:
        return Finding("login.securetty", "ok", f"{device} is listed in /etc/securetty",
                       (Evidence(st.path),))
    return Finding("login.securetty", "problem", f"root cannot log in on {device} "
                   "(not listed in /etc/securetty)", (Evidence(st.path),),
                   f"bcdtool linux fix (adds {device} to /etc/securetty)")


def check_password(guest: Guest) -> Finding:
    """Some login account has a usable password (hashes are never shown)."""
    pw = guest.passwords
    fix = "set a password for an account (e.g. `openssl passwd -6` and edit /etc/shadow)"
    if pw is None:
        return Finding("login.password", "unknown", "no readable /etc/shadow", (), fix)
    if pw["usable"]:
        name, line = pw["usable"][0]
        return Finding("login.password", "ok", f"account {name!r} has a password",
                       (Evidence(pw["file"], line, name),))
    return Finding("login.password", "problem", "no login account has a usable password "
                   "(cloud images log in with SSH keys only)",
                   tuple(Evidence(pw["file"], ln, f"{n}: locked") for n, ln in pw["locked"][:10]),
                   fix)


def check_sysrq(guest: Guest) -> Finding:
    """SysRq over the serial console (break) is allowed."""
    fix = "add kernel.sysrq = 1 to /etc/sysctl.d/90-sysrq.conf (not done by fix: a security choice)"
    if guest.sysrq is None:
        return Finding("kernel.sysrq", "unknown", "kernel.sysrq is not set (kernel default)",
                       (), fix)
    path, line, value = guest.sysrq
    ev = (Evidence(path, line, f"kernel.sysrq = {value}"),)
    if value == "1":
        return Finding("kernel.sysrq", "ok", "SysRq is fully enabled", ev)
    return Finding("kernel.sysrq", "warning", "SysRq is disabled or restricted "
                   f"(kernel.sysrq = {value})", ev, fix)


def check_files(guest: Guest) -> Finding:
    """Files that could not be read."""
    if not guest.issues:
        return Finding("guest.files", "ok", "every file present was readable", ())
    return Finding("guest.files", "warning", "some guest files could not be used",
                   tuple(Evidence(i.path, None, i.message) for i in guest.issues),
                   "inspect these files by hand")


def distro(guest: Guest) -> dict | None:
    """The distribution as named in os-release."""
    osr = guest.os_release
    if not osr:
        return None
    return {"id": osr.get("ID"), "version_id": osr.get("VERSION_ID"),
            "pretty_name": osr.get("PRETTY_NAME"), "arch": guest.arch}


def evaluate(guest: Guest, device: str) -> Report:
    """Every rule's finding about a guest."""
    findings = check_console(guest, device)
    if guest.grub_files or guest.grub_cfgs or guest.legacy is not None:
        findings.append(check_applied(guest))
    findings.extend(check_terminal(guest, device))
    findings.append(check_getty(guest, device))
    findings.append(check_securetty(guest, device))
    findings.append(check_password(guest))
    findings.append(check_sysrq(guest))
    findings.append(check_files(guest))
    which = which_loader(guest)
    if which is not None:
        findings.append(which)
    refused = blockers(guest, device, guest.baud_for(device))
    if guest.lilo is not None and not any(b.id == "lilo.serial" for b in refused) \
            and not guest.grub_cfgs and not guest.grub_files:
        findings.append(Finding("lilo.serial", "ok", "LILO's lilo.conf has the serial console "
                                "(it takes effect once /sbin/lilo has run)",
                                (Evidence(guest.lilo.path),)))
    if refused:
        # `fix` refuses this guest: no hint may send the user to it.
        step = "; ".join(b.next_step for b in refused)
        findings = [Finding(f.id, f.status, f.message, f.evidence,
                            f"bcdtool linux fix refuses this guest; {step}")
                    if f.fix and (f.fix.startswith("bcdtool linux fix") or (
                        f.status != "ok" and f.id.startswith(_BOOT_RULES)
                        and guest.immutable is not None)) else f for f in findings]
        findings += [Finding(b.id, "problem", b.message, b.evidence, b.next_step)
                     for b in refused]
    if not boot_views(guest) and not default_views(guest)[0] and not regenerated_views(guest):
        # Nothing says where the kernel's console goes: no rule about boot may claim ok.
        findings = [Finding(f.id, "unknown", f.message + " (no kernel command line found)",
                            f.evidence, f.fix)
                    if f.status == "ok" and f.id.startswith(_BOOT_RULES) else f
                    for f in findings]
    return Report(findings=findings, distro=distro(guest),
                  extra={"target": guest.root.description, "device": device,
                         "device_reason": guest.device_reason if device == guest.device
                         else "--device",
                         "baud": guest.baud_for(device),
                         "baud_reason": guest.baud_reason if device == guest.device
                         else "the usual speed", "boot_loaders": guest.boot_loaders,
                         "init": guest.init + (" + OpenRC" if guest.openrc else ""),
                         "fixable": not refused})


#: Rules whose verdict depends on knowing the kernel command line.
_BOOT_RULES = ("kernel.", "grub.", "extlinux.", "bootloader.", "getty.")
