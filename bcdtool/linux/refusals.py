"""Guests whose serial console bcdtool will not edit offline, and what to do instead.

`linux check` reports each as a problem with the exact next step; `linux fix` refuses the whole
guest (UnfixableGuestError, exit 36) rather than make an edit that would be wrong, lost at the
next update, or half of what is needed.  The classes:

- immutable systems whose kernel command line comes from an API, a machine config or a signed
  kernel partition (Talos, ChromeOS, Bottlerocket, ostree/rpm-ostree);
- roots that are read-only by design (transactional-update: MicroOS, SLE Micro; `ro` in fstab);
- LILO, which takes the command line from lilo.conf only when /sbin/lilo runs in the guest;
- unified kernel images whose built-in (signed) `.cmdline` lacks the console;
- IBM Z (s390x), whose IPL reads the boot map zipl wrote, not the files (zipl.conf, BLS);
- U-Boot scripts (boot.scr) whose bootargs lack the console and take nothing from an
  environment file that could carry it: the image must be rebuilt with mkimage.
"""

from __future__ import annotations

from dataclasses import dataclass

from bcdtool.linux import cmdline, lilo, uboot
from bcdtool.linux.sources import Guest, uboot_reader
from bcdtool.report import Evidence

#: What to do on each immutable system (the place its kernel arguments really come from).
_IMMUTABLE_STEPS = {
    "Talos Linux": "add {arg} to machine.install.extraKernelArgs (talosctl edit machineconfig), "
                   "then talosctl upgrade (with UKIs: the Image Factory schematic's "
                   "extraKernelArgs)",
    "ChromeOS": "in developer mode run /usr/share/vboot/bin/make_dev_ssd.sh --edit_config "
                "--partitions 2 (the command line is inside the signed kernel partition)",
    "ChromiumOS": "run make_dev_ssd.sh --edit_config --partitions 2 (the command line is inside "
                  "the signed kernel partition)",
    "Ubuntu Core": "on the running system: snap set system system.kernel.cmdline-append="
                   "\"console=tty0 {arg}\" and reboot (snapd writes the boot environment; the "
                   "command line is part of the signed boot chain and its gadget snap)",
    "Bottlerocket": "set settings.boot.kernel-parameters (apiclient set, or user data "
                    "[settings.boot.kernel-parameters] \"console\" = [\"tty0\", "
                    "\"{dev}\"]) and reboot",
}
_OSTREE_STEP = ("on the running system: rpm-ostree kargs --append={arg} (or ostree admin kargs "
                "edit-in-place --append={arg}); ostree writes /boot/loader/entries again at "
                "every deployment")


@dataclass(frozen=True)
class Blocker:
    """Why `fix` refuses this guest, the evidence, and the next step."""

    id: str
    message: str
    evidence: tuple[Evidence, ...]
    next_step: str


def blockers(guest: Guest, device: str, baud: int = 115200) -> list[Blocker]:
    """Every reason `linux fix` must not edit this guest (empty: it may)."""
    arg = cmdline.desired_arg(device, baud)
    out = []
    if guest.immutable is not None:
        kind, where = guest.immutable
        step = _IMMUTABLE_STEPS.get(kind, _OSTREE_STEP).format(arg=arg, dev=f"{device},{baud}n8")
        out.append(Blocker("guest.immutable", f"{kind} is immutable: its kernel command line is "
                           "not kept in files bcdtool can edit offline",
                           (Evidence(where, None, kind),), step))
    if guest.read_only_root is not None:
        why, where = guest.read_only_root
        path, _, line = where.partition(":")
        out.append(Blocker("guest.read-only-root", f"the root file system is read-only by design "
                           f"({why}): an offline edit bypasses its snapshots and may be lost",
                           (Evidence(path, int(line) if line else None, why),),
                           "boot the guest and run `transactional-update shell`, add "
                           f"console=tty0 {arg} to GRUB_CMDLINE_LINUX in /etc/default/grub and "
                           "run grub2-mkconfig -o /boot/grub2/grub.cfg there (or "
                           f"`transactional-update grub.cfg`), then reboot"))
    lilo_block = _lilo(guest, device, arg, baud)
    if lilo_block is not None:
        out.append(lilo_block)
    out.extend(_ukis(guest, device, arg))
    out.extend(_uboot_scripts(guest, device, baud, arg))
    if guest.arch == "s390x" or guest.zipl_conf is not None:
        where = guest.zipl_conf.path if guest.zipl_conf is not None else guest.zipl or "s390x"
        out.append(Blocker(
            "zipl.bootmap", "IBM Z boots from the boot map that zipl writes (kernel, initrd and "
            "command line together): an offline edit of zipl.conf or the BLS entries changes "
            "nothing until zipl runs in the guest", (Evidence(where, None, "zipl"),),
            f"add {arg} (console last) to parameters= in /etc/zipl.conf, or to the options line "
            "of /boot/loader/entries/*.conf where zipl reads BLS entries (RHEL 8+), then run "
            "zipl in the guest: mount it with /dev, /proc and /sys bound, `chroot /mnt zipl -V` "
            "(SUSE with grub2-s390x-emu: GRUB_CMDLINE_LINUX in /etc/default/grub, then "
            "`grub2-mkconfig -o /boot/grub2/grub.cfg` and `grub2-install` there)"))
    if guest.init in ("runit", "dinit") and guest.runit_service(device) is None:
        where = "/etc/dinit.d" if guest.init == "dinit" else "/etc/sv"
        out.append(Blocker(f"{guest.init}.service", f"{guest.init} has no getty service for "
                           f"{device}, and bcdtool does not write service definitions",
                           (Evidence(where, None, "no agetty-/getty- service for the port"),),
                           f"create {where}/agetty-{device} (copy {where}/agetty-ttyS0 and "
                           "change the port), then run bcdtool linux fix again"))
    return out


def _lilo(guest: Guest, device: str, arg: str, baud: int) -> Blocker | None:
    if guest.lilo is None or guest.grub_cfgs or guest.grub_files or guest.extlinux:
        return None
    cfg = lilo.parse(guest.lilo.text)
    bad = []
    for image in cfg.images:
        last, _ = cmdline.serial_verdict(cmdline.args_of(cfg.command_line(image)))
        if last is None or last.device != device:
            bad.append(Evidence(guest.lilo.path, image.line, f"image={image.kernel}: "
                                + (f"last console is {last.device}" if last else "no console=")))
    unit = device[4:] if device.startswith("ttyS") else None
    if unit is not None and (cfg.serial is None or cfg.serial[1].split(",")[0] != unit):
        bad.append(Evidence(guest.lilo.path, cfg.serial[0] if cfg.serial else None,
                            f"serial={cfg.serial[1]}" if cfg.serial else "no serial= line"))
    if not bad and cfg.images:
        return None
    if not cfg.images:
        bad.append(Evidence(guest.lilo.path, None, "no image= section"))
    serial = f"serial={unit},{baud}n8 and " if unit is not None else ""
    return Blocker("lilo.serial", "LILO passes the command line stored in its map file by "
                   "/sbin/lilo: editing lilo.conf offline changes nothing until lilo runs in "
                   "the guest", tuple(bad),
                   f"put {serial}append=\"... console=tty0 {arg}\" (console last) in "
                   f"{guest.lilo.path}, then run lilo in the guest: mount it with /dev, /proc "
                   "and /sys bound, `chroot /mnt lilo -v`")


def _ukis(guest: Guest, device: str, arg: str) -> list[Blocker]:
    bad = []
    for u in guest.ukis:
        if u.error:
            bad.append(Evidence(u.path, None, f"built-in command line unreadable: {u.error}"))
            continue
        last, _ = cmdline.serial_verdict(cmdline.args_of(u.cmdline or ""))
        if last is None or last.device != device:
            bad.append(Evidence(u.path, None, ".cmdline: " + (f"last console is {last.device}"
                                                               if last else "no console=")))
    if not bad:
        return []
    where = "/etc/kernel/cmdline"
    if guest.uki_conf is not None and "Cmdline" in guest.uki_conf.text:
        where += f" and the Cmdline= of {guest.uki_conf.path}"
    return [Blocker("kernel.uki", "a unified kernel image carries its own command line (signed "
                    "with it, not editable in place) without the serial console", tuple(bad),
                    f"add console=tty0 {arg} at the end of {where}, then rebuild the images "
                    "inside the guest (`kernel-install add <version> /usr/lib/modules/<version>/"
                    "vmlinuz`, `mkinitcpio -P`, `dracut --uefi --regenerate-all` or `ukify "
                    "build`, whichever made them)")]


def _uboot_scripts(guest: Guest, device: str, baud: int, arg: str) -> list[Blocker]:
    out = []
    read, exists = uboot_reader(guest)
    for script in guest.uboot_scripts:
        if script.outcome is not None and uboot.console_ok(script.outcome.bootargs, device) \
                and uboot.speed_of(script.outcome.bootargs, device) == baud:
            continue
        if script.text is not None and uboot.env_edit(script.text, script.directory, read,
                                                      exists, device, baud) is not None:
            continue
        source = script.source or f"{script.directory}/boot.cmd"
        image = script.path if not script.path.endswith(".cmd") else \
            f"{script.directory}/boot.scr"
        get = "" if script.source is not None else \
            f"there is no {source}: `tail -c +73 {image} > {source}` takes the script out of " \
            "the image; "
        why = script.error or (script.outcome.reason if script.outcome and
                               script.outcome.bootargs is None else "")
        mk_arch = "arm64" if guest.arch == "aarch64" else "arm" if guest.arch == "arm" else \
            "riscv" if guest.arch == "riscv64" else "arm64"
        step = (f"{get}make {arg} the last console= of the `setenv bootargs` line of {source}, "
                f"then rebuild the image: `mkimage -C none -A {mk_arch} -T script -d {source} "
                f"{image}` (u-boot-tools)")
        if guest.flash_kernel is not None:
            # Debian's flash-kernel writes boot.scr from its templates at every kernel update.
            step = (f"add {arg} at the end of LINUX_KERNEL_CMDLINE in {guest.flash_kernel.path}, "
                    "then run flash-kernel in the guest (it writes boot.scr again): mount it "
                    "with /dev, /proc and /sys bound, `chroot /mnt flash-kernel`")
        out.append(Blocker(
            "uboot.script", "the U-Boot script sets the kernel command line itself"
            + (f" ({why})" if why else "") + " and reads no environment file that could carry "
            "the console; its compiled image (boot.scr) is what U-Boot runs",
            (Evidence(script.path, script.outcome.line if script.outcome else None,
                      "setenv bootargs"),),
            step))
    return out
