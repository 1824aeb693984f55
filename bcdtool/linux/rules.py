"""Rules: turn what was read from a guest into findings (one per rule, stable ids)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bcdtool.linux import cmdline
from bcdtool.linux.sources import RESCUE_ARGS, Guest, KernelLine
from bcdtool.report import Evidence, Finding, Report

_VAR_TOKEN = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")
_SPEED = re.compile(r"(?:--speed[= ]|-s ?)(\d+)")


@dataclass
class CmdlineView:
    """One kernel command line as the kernel would see it, and where it was read."""

    args: list[str]
    evidence: Evidence
    rescue: bool = False


def expand_line(guest: Guest, line: KernelLine) -> list[str]:
    """Arguments of a boot line with `$kernelopts` taken from grubenv, other `$vars` dropped."""
    out = []
    for arg in cmdline.args_of(line.args_text):
        m = _VAR_TOKEN.match(arg)
        if m:
            if m.group(1) == "kernelopts" and guest.grubenv is not None:
                out.extend(cmdline.args_of(guest.grubenv.values.get("kernelopts", "")))
            continue
        out.append(arg)
    return out


def boot_views(guest: Guest) -> list[CmdlineView]:
    """Every boot entry's command line (grub.cfg, BLS, legacy GRUB)."""
    views = []
    for line in guest.kernel_lines:
        args = expand_line(guest, line)
        views.append(CmdlineView(args, Evidence(line.file.path, line.line, line.command),
                                 rescue=line.rescue or any(a in RESCUE_ARGS for a in args)))
    return views


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
            "speed": _speed(serial) if serial is not None else None,
            "evidence": Evidence(src.file, src.line, src.name) if src else
            Evidence(guest.grub_files[0].path, None, "no GRUB_TERMINAL"),
        }
    for tf in guest.main_cfgs:
        cfg = {"file": tf.path, "input": [], "output": [], "speed": [], "evidence": []}
        for lineno, line in enumerate(tf.text.split("\n"), 1):
            words = line.split()
            if not words:
                continue
            if words[0] in ("terminal_input", "terminal_output"):
                cfg["input" if words[0] == "terminal_input" else "output"].append(words[1:])
                cfg["evidence"].append(Evidence(tf.path, lineno, words[0]))
            elif words[0] == "serial":
                cfg["speed"].append(_speed(line) or cmdline.DEFAULT_SPEED)
                cfg["evidence"].append(Evidence(tf.path, lineno, "serial"))
        out["cfgs"].append(cfg)
    if guest.legacy is not None:
        leg = {"terminal": None, "speed": None, "evidence": []}
        for lineno, line in enumerate(guest.legacy.text.split("\n"), 1):
            words = line.split()
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


def _has_serial(terms) -> bool:
    return terms is not None and "serial" in (terms.split() if isinstance(terms, str) else terms)


def check_console(guest: Guest, device: str) -> list[Finding]:
    """Serial console present and last; no competing serial consoles; quiet/rhgb."""
    views = [v for v in boot_views(guest) if not v.rescue]
    full, _, unknown = default_views(guest)
    if full is not None:
        views.insert(0, full)
    findings = []
    fix = f"bcdtool linux fix (makes console={device},115200n8 the last console=)"
    if not views:
        status = "unknown"
        msg = unknown or "no kernel command line found (no grub.cfg, BLS entry, grub.conf or " \
                         "/etc/default/grub; is /boot a separate, unmounted partition?)"
        findings.append(Finding("kernel.serial-console", status, msg, (), fix))
    else:
        bad = []
        for v in views:
            last, _ = cmdline.serial_verdict(v.args)
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
    """GRUB talks on the serial port, at the kernel's speed."""
    terms = grub_terminals(guest)
    strict = "problem" if guest.arch not in ("aarch64", "arm") else "warning"
    fix = "bcdtool linux fix (GRUB_TERMINAL=\"serial console\" and the serial command)"
    evidence, missing, speeds = [], [], []
    d = terms.get("default")
    if d is not None:
        evidence.append(d["evidence"])
        if d["unknown"]:
            return [Finding("grub.terminal-serial", "unknown",
                            "GRUB_TERMINAL or GRUB_SERIAL_COMMAND needs a command to compute",
                            tuple(evidence), fix)]
        if not (_has_serial(d["input"]) and _has_serial(d["output"])):
            missing.append(Evidence(d["evidence"].file, d["evidence"].line,
                                    f"input={d['input'] or 'native'} "
                                    f"output={d['output'] or 'native'}"))
        elif d["speed"]:
            speeds.append((d["speed"], d["evidence"]))
    for c in terms["cfgs"]:
        if not (any(_has_serial(t) for t in c["input"])
                and any(_has_serial(t) for t in c["output"])):
            missing.append(Evidence(c["file"], c["evidence"][0].line if c["evidence"] else None,
                                    "grub.cfg does not enable the serial terminal"))
        else:
            speeds.extend((s, e) for s, e in zip(c["speed"], [e for e in c["evidence"]
                                                              if e.note == "serial"]))
        evidence.extend(c["evidence"])
    leg = terms.get("legacy")
    if leg is not None and guest.legacy_kernels:
        if not _has_serial(leg["terminal"]):
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
    return findings


def kernel_has_console(guest: Guest, device: str) -> bool:
    """True when a normal boot entry puts a console on `device` (systemd then starts a getty)."""
    views = [v for v in boot_views(guest) if not v.rescue] or \
        [v for v in default_views(guest)[:1] if v]
    return bool(views) and all(any(c.device == device for c in cmdline.consoles(v.args))
                               for v in views)


def check_getty(guest: Guest, device: str) -> Finding:
    """A login prompt will run on the serial port."""
    fix = f"bcdtool linux fix (enables serial-getty@{device}.service)"
    if guest.init == "systemd":
        links = guest.getty_links
        for name in (f"serial-getty@{device}.service", "serial-getty@.service"):
            target = links.get(f"/etc/systemd/system/{name}")
            if target == "/dev/null":
                return Finding("getty.serial", "problem", f"{name} is masked",
                               (Evidence(f"/etc/systemd/system/{name}", None, "-> /dev/null"),),
                               f"remove the mask: /etc/systemd/system/{name}")
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
        return Finding("getty.serial", "problem", f"no getty will run on {device}", (), fix)
    if guest.init == "upstart" and guest.upstart_serial:
        if kernel_has_console(guest, device):
            return Finding("getty.serial", "ok", "upstart's serial.conf starts a getty on the "
                           "kernel's serial console", (Evidence(guest.upstart_serial),))
        return Finding("getty.serial", "problem", f"no console={device}, so upstart starts no "
                       "serial getty", (Evidence(guest.upstart_serial),), fix)
    if guest.inittab is not None:
        for lineno, line in enumerate(guest.inittab.text.splitlines(), 1):
            fields = line.split(":")
            if (len(fields) >= 4 and not line.lstrip().startswith("#") and "respawn" in fields[2]
                    and "getty" in fields[3] and device in fields[3].split()):
                return Finding("getty.serial", "ok", f"inittab runs a getty on {device}",
                               (Evidence(guest.inittab.path, lineno),))
        return Finding("getty.serial", "problem", f"inittab runs no getty on {device}",
                       (Evidence(guest.inittab.path),), fix)
    return Finding("getty.serial", "unknown", "cannot tell which init system the guest uses",
                   (), fix)


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
    findings.append(check_applied(guest))
    findings.extend(check_terminal(guest, device))
    findings.append(check_getty(guest, device))
    findings.append(check_securetty(guest, device))
    findings.append(check_password(guest))
    findings.append(check_sysrq(guest))
    findings.append(check_files(guest))
    return Report(findings=findings, distro=distro(guest),
                  extra={"target": guest.root.description, "device": device})
