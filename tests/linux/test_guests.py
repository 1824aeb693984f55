"""Guests beyond GRUB + systemd (fixtures/linux_guests.py): check → fix → check → undo on each,
and the class of problem each one stands for (extlinux, BusyBox, OpenRC, SUSE legacy GRUB,
regenerated configs, Arm console choice, GRUB's serial unit, non-Linux entries)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from bcdtool.ops.undo import undo
from bcdtool.errors import InvalidArgumentError
from bcdtool.linux import inittab
from bcdtool.linux.fix import plan_fix
from fixtures import linux_guests
from tests.helpers.common import run_cli, run_process
from tests.linux.linux_helpers import fix_root, guest_of, problems, report_of, snapshot, statuses

#: Problems each guest shows before the fix.
BEFORE = {
    "alpine-3.19": {"kernel.serial-console", "extlinux.serial", "getty.serial"},
    "gentoo": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "sles-11": {"kernel.serial-console", "grub.terminal-serial", "getty.serial",
                "login.securetty"},
    "nixos-23.11": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "flatcar": {"kernel.serial-console"},
    "arch-systemd-boot": {"kernel.serial-console", "getty.serial"},
    "arch-grub": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "oracle-9": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "centos-8": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "amazonlinux-2023-arm64": set(),
    "debian-12-ec2-arm64": {"kernel.serial-console", "getty.serial"},
    "debian-12-grub-com2": {"grub.serial-unit"},
    "amazonlinux-2": set(),
    "fedora-35": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "opensuse-leap-15.5": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "debian-12-gce": {"grub.terminal-serial"},
}
#: The port each guest is checked on, and a word of the reason given.
DEVICE = {"amazonlinux-2023-arm64": ("ttyS0", "command line"),
          "debian-12-ec2-arm64": ("ttyS0", "Ec2"), "alpine-3.19": ("ttyS0", "COM1")}


@pytest.mark.parametrize("name", sorted(linux_guests.GUESTS))
def test_check_fix_check_undo(tmp_path, name):
    root = linux_guests.build(name, tmp_path / "root")
    before_tree = snapshot(root)
    report = report_of(root)
    assert problems(report) == BEFORE[name], [(f.id, f.message) for f in report.findings]
    for f in report.findings:          # every hint names this guest's own loader and init
        if f.status == "problem" and f.fix:
            if not report.extra["boot_loaders"] or "GRUB" not in " ".join(
                    report.extra["boot_loaders"]):
                assert "GRUB" not in f.fix, (f.id, f.fix)
            if report.extra["init"] != "systemd":
                assert "serial-getty" not in f.fix and "systemd" not in f.fix, (f.id, f.fix)
    if name in DEVICE:
        assert report.extra["device"] == DEVICE[name][0]
        assert DEVICE[name][1] in report.extra["device_reason"]

    guest, plan, journal = fix_root(root, tmp_path)
    after = report_of(root)
    assert problems(after) == set(), [(f.id, f.message, f.evidence) for f in after.findings
                                       if f.status == "problem"]
    assert plan_fix(guest_of(root), guest.device).changes == []       # a second fix: nothing
    if journal is not None:
        undo(journal.path)
    assert snapshot(root) == before_tree
    assert problems(report_of(root)) == BEFORE[name]


def _read(root: Path, path: str) -> str:
    return (root / path.lstrip("/")).read_text()


def test_alpine_extlinux_and_busybox(tmp_path):
    root = linux_guests.build("alpine-3.19", tmp_path / "root")
    fix_root(root, tmp_path)
    conf = _read(root, "/boot/extlinux.conf").splitlines()
    # SERIAL first among directives (after the generator's comment), the APPEND has the console.
    assert conf[1] == "SERIAL 0 115200" and conf[0].startswith("#")
    append = next(ln for ln in conf if ln.strip().startswith("APPEND"))
    assert append.split()[-2:] == ["console=tty0", "console=ttyS0,115200n8"]
    assert "quiet" not in append.split() and "modules=sd-mod,usb-storage,ext4" in append
    # update-extlinux regenerates it from these: they carry the same settings.
    upd = _read(root, "/etc/update-extlinux.conf")
    assert re.search(r"^serial_port=0$", upd, re.M) and re.search(r"^serial_baud=115200$",
                                                                   upd, re.M)
    assert 'default_kernel_opts="rootfstype=ext4 console=tty0 console=ttyS0,115200n8"' in upd
    # BusyBox form: the first field is the tty.
    tab = _read(root, "/etc/inittab")
    assert tab.endswith("ttyS0::respawn:/sbin/getty -L ttyS0 115200 vt100\n")
    assert inittab.getty_on(tab, "ttyS0", busybox=True) is not None
    assert not (root / "etc/systemd").exists()


def test_busybox_rejects_a_sysv_line(tmp_path):
    """`S0:2345:respawn:...` runs on /dev/S0 under BusyBox: a problem, fixed with a BusyBox line."""
    root = linux_guests.build("alpine-3.19", tmp_path / "root")
    with open(root / "etc/inittab", "a") as f:
        f.write("S0:2345:respawn:/sbin/getty -L ttyS0 115200 vt100\n")
    getty = next(f for f in report_of(root).findings if f.id == "getty.serial")
    assert getty.status == "problem" and "/dev/S0" in getty.message
    fix_root(root, tmp_path)
    assert statuses(report_of(root))["getty.serial"] == "ok"
    assert _read(root, "/etc/inittab").endswith("ttyS0::respawn:/sbin/getty -L ttyS0 115200 "
                                                "vt100\n")


def test_extlinux_serial_port_and_speed_compared(tmp_path):
    root = linux_guests.build("alpine-3.19", tmp_path / "root")
    fix_root(root, tmp_path)
    conf = root / "boot/extlinux.conf"
    conf.write_text(conf.read_text().replace("SERIAL 0 115200", "SERIAL 0x2f8 9600"))
    ext = next(f for f in report_of(root).findings if f.id == "extlinux.serial")
    assert ext.status == "problem" and "port 1" in str(ext.evidence)
    fix_root(root, tmp_path)
    assert "SERIAL 0 115200" in conf.read_text()


def test_extlinux_label_without_append_and_non_linux_labels(tmp_path):
    root = linux_guests.build("alpine-3.19", tmp_path / "root")
    conf = root / "boot/extlinux.conf"
    conf.write_text(conf.read_text() + "LABEL bare\n  LINUX vmlinuz-lts\n  INITRD initramfs-lts\n"
                    "LABEL hdd\n  COM32 chain.c32\n  APPEND hd0 0\nLABEL mem\n"
                    "  KERNEL memtest86+.bin\n  APPEND -\n")
    fix_root(root, tmp_path)
    text = conf.read_text()
    assert "  LINUX vmlinuz-lts\n  APPEND console=tty0 console=ttyS0,115200n8\n" in text
    assert "  APPEND hd0 0\n" in text and "  APPEND -\n" in text     # left alone
    assert statuses(report_of(root))["kernel.serial-console"] == "ok"


def test_gentoo_enables_openrc_agetty(tmp_path):
    root = linux_guests.build("gentoo", tmp_path / "root")
    guest, plan, journal = fix_root(root, tmp_path)
    assert (root / "etc/init.d/agetty.ttyS0").readlink() == Path("agetty")
    link = root / "etc/runlevels/default/agetty.ttyS0"
    assert link.readlink() == Path("../../init.d/agetty.ttyS0")
    assert link.resolve() == (root / "etc/init.d/agetty").resolve()
    # OpenRC's agetty takes ${baud}; unset, agetty runs at 9600: the port's conf.d sets it.
    assert _read(root, "/etc/conf.d/agetty.ttyS0") == 'baud="115200"\n'
    assert _read(root, "/etc/conf.d/agetty").count('#baud=""') == 1
    assert "ttyS0" not in _read(root, "/etc/inittab").split("# SERIAL CONSOLES")[1].replace(
        "#s0:12345:respawn:/sbin/agetty -L 9600 ttyS0 vt100", "")
    undo(journal.path)
    assert not (root / "etc/init.d/agetty.ttyS0").is_symlink()


def test_sles11_menu_lst_and_sysconfig(tmp_path):
    root = linux_guests.build("sles-11", tmp_path / "root")
    report = report_of(root)
    term = next(f for f in report.findings if f.id == "grub.terminal-serial")
    assert "gfxmenu" in str(term.evidence) and "GRUB_TERMINAL" not in term.fix
    fix_root(root, tmp_path)
    lines = _read(root, "/boot/grub/menu.lst").splitlines()
    assert "#gfxmenu (hd0,1)/boot/message" in lines
    assert "#color white/blue black/light-gray" in lines
    for i, line in enumerate(lines):       # YaST's marker stays right above each title
        if line.startswith("title"):
            assert lines[i - 1].startswith("###Don't change this comment - YaST2 identifier")
    assert lines.index("serial --unit=0 --speed=115200") < lines.index(
        "###Don't change this comment - YaST2 identifier: Original name: linux###")
    memtest = lines[lines.index("title Memory Test") + 1]
    assert memtest.split() == ["kernel", "(hd0,1)/boot/memtest.bin"]      # not Linux: untouched
    sysconfig = _read(root, "/etc/sysconfig/bootloader")
    assert re.search(r'^DEFAULT_APPEND=".* showopts console=tty0 console=ttyS0,115200n8"$',
                     sysconfig, re.M)
    assert "S0:2345:respawn:/sbin/agetty -L ttyS0 115200 vt100" in _read(root, "/etc/inittab")


def test_nixos_kernel_params_edited(tmp_path):
    root = linux_guests.build("nixos-23.11", tmp_path / "root")
    fix_root(root, tmp_path)
    assert 'boot.kernelParams = [ "console=tty0" "console=ttyS0,115200n8" ];' in _read(
        root, "/etc/nixos/configuration.nix")
    assert not (root / "etc/systemd").exists()     # the generator starts the getty on NixOS


def test_nixos_without_kernel_params_says_what_to_add(tmp_path):
    root = linux_guests.write(*linux_guests.nixos(params=None), tmp_path / "root")
    before = _read(root, "/etc/nixos/configuration.nix")
    guest, plan, _ = fix_root(root, tmp_path)
    assert _read(root, "/etc/nixos/configuration.nix") == before       # not edited blindly
    assert any("boot.kernelParams" in n for n in plan.notes)
    console = next(f for f in report_of(root).findings if f.id == "kernel.serial-console")
    assert console.status == "problem"
    assert "boot.kernelParams = [" in console.fix and "nixos-rebuild" in console.fix


def test_flatcar_oem_is_the_durable_place(tmp_path):
    root = linux_guests.build("flatcar", tmp_path / "root")
    esp = _read(root, "/boot/flatcar/grub/grub.cfg")
    fix_root(root, tmp_path)
    assert _read(root, "/boot/flatcar/grub/grub.cfg") == esp          # the OS's own file
    assert 'set linux_console="console=tty0 console=ttyS0,115200n8"' in _read(root,
                                                                               "/oem/grub.cfg")


def test_flatcar_without_oem_partition_names_it(tmp_path):
    root = linux_guests.write(*linux_guests.flatcar(oem=None), tmp_path / "root")
    guest, plan, _ = fix_root(root, tmp_path)
    assert plan.changes == [] and any("/oem/grub.cfg" in n for n in plan.notes)
    assert "kernel.serial-console" in problems(report_of(root))


def test_oracle9_kernel_cmdline_for_the_next_kernel(tmp_path):
    root = linux_guests.build("oracle-9", tmp_path / "root")
    (root / "etc/kernel/cmdline").write_text(_read(root, "/etc/kernel/cmdline").replace(
        " rhgb quiet", " console=tty0 console=ttyS0,115200n8"))
    report = report_of(root)
    console = next(f for f in report.findings if f.id == "kernel.serial-console")
    assert "/boot/loader/entries" in str(console.evidence)   # the BLS entry still lacks it
    fix_root(root, tmp_path)
    assert _read(root, "/etc/kernel/cmdline").rstrip().endswith("console=ttyS0,115200n8")


def test_centos8_fallback_kernelopts(tmp_path):
    root = linux_guests.build("centos-8", tmp_path / "root")
    cfg = root / "boot/grub2/grub.cfg"
    fix_root(root, tmp_path)
    m = re.search(r'set kernelopts="([^"]*)"', cfg.read_text())
    assert m and m.group(1).split()[-2:] == ["console=tty0", "console=ttyS0,115200n8"]
    assert len((root / "boot/grub2/grubenv").read_bytes()) == 1024
    # grubenv's kernelopts lost (a reset): the fallback alone still has the console.
    env = root / "boot/grub2/grubenv"
    env.write_bytes(re.sub(rb"kernelopts=[^\n]*\n", b"", env.read_bytes()).ljust(1024, b"#"))
    assert statuses(report_of(root))["kernel.serial-console"] == "ok"
    cfg.write_text(cfg.read_text().replace(" console=tty0 console=ttyS0,115200n8", ""))
    assert statuses(report_of(root))["kernel.serial-console"] == "problem"


def test_arm_console_follows_the_guest(tmp_path):
    """Graviton guests use ttyS0: no ttyAMA0 anywhere after a fix; --device overrides."""
    root = linux_guests.build("amazonlinux-2023-arm64", tmp_path / "root")
    before = snapshot(root)
    assert report_of(root).ok
    fix_root(root, tmp_path)
    assert not any(b"ttyAMA" in v[1] for v in snapshot(root).values() if v[0] == "file")
    report = report_of(root, "ttyAMA0")
    assert report.extra["device"] == "ttyAMA0" and report.extra["device_reason"] == "--device"
    assert not report.ok
    assert snapshot(root) != before           # quiet dropped: the fix did write
    root2 = linux_guests.build("debian-12-ec2-arm64", tmp_path / "root2")
    assert guest_of(root2).device == "ttyS0"


def test_arm_without_evidence_falls_back_to_pl011(tmp_path):
    files, links = linux_guests.debian12_ec2_arm64()
    del files["/etc/cloud/cloud.cfg.d/00_ec2.cfg"]
    root = linux_guests.write(files, links, tmp_path / "root")
    guest = guest_of(root)
    assert guest.device == "ttyAMA0" and "aarch64" in guest.device_reason


def test_grub_unit_fixed_with_the_kernel_port(tmp_path):
    root = linux_guests.build("debian-12-grub-com2", tmp_path / "root")
    unit = next(f for f in report_of(root).findings if f.id == "grub.serial-unit")
    assert len(unit.evidence) == 3      # GRUB_SERIAL_COMMAND, serial --unit=1, serial_com1
    fix_root(root, tmp_path)
    cfg = _read(root, "/boot/grub/grub.cfg")
    assert "serial --unit=0 --speed=115200" in cfg and "terminal_output serial_com0 console" in cfg
    assert 'GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"' in _read(root,
                                                                          "/etc/default/grub")


def test_non_linux_entries_left_alone(tmp_path):
    root = linux_guests.build("arch-grub", tmp_path / "root")
    fix_root(root, tmp_path)
    assert "\tlinux16\t/boot/memtest86+/memtest.bin\n" in _read(root, "/boot/grub/grub.cfg")
    root = linux_guests.build("arch-systemd-boot", tmp_path / "sdboot")
    fix_root(root, tmp_path)
    assert _read(root, "/boot/loader/entries/memtest.conf").endswith("options keyboard=both\n")
    assert "console=ttyS0" in _read(root, "/boot/loader/entries/arch.conf")


def test_generator_means_no_getty_link(tmp_path):
    """The kernel already has console=ttyS0: systemd's generator starts the getty; no link."""
    root = linux_guests.build("arch-systemd-boot", tmp_path / "root")
    for name in ("arch.conf", "arch-fallback.conf"):
        p = root / "boot/loader/entries" / name
        p.write_text(p.read_text().replace(" quiet", " console=ttyS0,115200n8"))
    assert statuses(report_of(root))["getty.serial"] == "ok"
    guest, plan, _ = fix_root(root, tmp_path)
    assert not [c for c in plan.changes if c.link_target]


def test_no_command_line_is_never_ok(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/inittab").write_text(linux_guests.ALPINE_INITTAB)
    report = report_of(root)
    st = statuses(report)
    assert st["kernel.serial-console"] == "problem" and not report.ok
    boot = {k: v for k, v in st.items() if k.split(".")[0] in ("kernel", "grub", "extlinux",
                                                               "bootloader", "getty")}
    assert "ok" not in boot.values(), boot


EVIL = ['ttyS0" ; touch /x ; "', "ttyS0 ttyS1", "ttyS0\n", "../ttyS0", "/dev/ttyS0", "ttyS",
        "tty0;", "hvc", "$(reboot)"]


@pytest.mark.parametrize("device", EVIL)
def test_bad_device_refused_everywhere(tmp_path, capsys, device):
    root = linux_guests.build("gentoo", tmp_path / "root")
    before = snapshot(root)
    for cmd in (["linux", "fix", "--device", device, str(root)],
                ["linux", "check", "--device", device, str(root)]):
        code, _, err = run_cli(capsys, *cmd)   # in-process through main: the real exit mapping
        assert code == 24, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    with pytest.raises(InvalidArgumentError):
        plan_fix(guest_of(root), device)
    with pytest.raises(InvalidArgumentError):
        guest_of(root, device)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"target": str(root), "ops": [
        {"op": "linux fix", "device": device}]}) + "\n")
    done = run_process("batch", manifest)
    assert done.returncode == 24, done
    assert snapshot(root) == before
    assert not Path("/x").exists()


@pytest.mark.parametrize("baud", [0, 12345, -115200, 115201])
def test_bad_baud_refused(tmp_path, capsys, baud):
    root = linux_guests.build("gentoo", tmp_path / "root")
    code, _, err = run_cli(capsys, "linux", "fix", "--baud", baud, root)
    assert code == 24, err
    with pytest.raises(InvalidArgumentError):
        plan_fix(guest_of(root), "ttyS0", baud)


@pytest.mark.parametrize("device", ["ttyS1", "ttyAMA0", "hvc0", "ttyUSB0"])
def test_good_devices_written_safely(tmp_path, device):
    """Any accepted name lands in shell files as one plain word."""
    root = linux_guests.build("gentoo", tmp_path / "root")
    fix_root(root, tmp_path, device)
    text = _read(root, "/etc/default/grub")
    assert f'GRUB_CMDLINE_LINUX="console=tty0 console={device},115200n8"' in text
    # What grub-mkconfig would get: sourced by a real sh, the values are plain words.
    out = subprocess.run(["sh", "-c", '. "$1"; printf "%s|%s" "$GRUB_CMDLINE_LINUX" '
                          '"$GRUB_SERIAL_COMMAND"', "sh", str(root / "etc/default/grub")],
                         capture_output=True, text=True, check=True).stdout
    assert out.split("|")[0] == f"console=tty0 console={device},115200n8"


@pytest.mark.parametrize("device,serial,line", [
    ("ttyS1", "SERIAL 1 115200", "ttyS1::respawn:/sbin/getty -L ttyS1 115200 vt100"),
    ("hvc0", None, "hvc0::respawn:/sbin/getty -L hvc0 115200 vt100")])
def test_alpine_other_ports(tmp_path, device, serial, line):
    """The SERIAL port number and the inittab tty follow --device; hvc has no COM port."""
    root = linux_guests.build("alpine-3.19", tmp_path / "root")
    guest, plan, journal = fix_root(root, tmp_path, device)
    conf = _read(root, "/boot/extlinux.conf")
    assert (serial in conf) if serial else ("SERIAL" not in conf)
    assert f"console={device},115200n8" in conf
    assert _read(root, "/etc/inittab").endswith(line + "\n")
    report = report_of(root, device)
    assert report.ok, [(f.id, f.message) for f in report.findings if f.status == "problem"]


def test_inittab_dialects():
    text = ("ttyS0::respawn:/sbin/getty -L ttyS0 115200 vt100\n"
            "S1:2345:respawn:/sbin/agetty -L ttyS1 115200 vt100\n"
            "::respawn:/bin/busybox getty -L ttyS2 115200 vt100\n"
            "#ttyS3::respawn:/sbin/getty -L ttyS3 115200 vt100\n"
            "ttyS4::once:/sbin/getty -L ttyS4 115200 vt100\n")
    assert inittab.getty_on(text, "ttyS0", busybox=True).line == 1
    assert inittab.getty_on(text, "ttyS1", busybox=True) is None       # runs on /dev/S1
    assert inittab.getty_on(text, "ttyS1", busybox=False).line == 2
    assert [e.id for e in inittab.misread_lines(text, "ttyS1")] == ["S1"]
    assert inittab.getty_on(text, "ttyS2", busybox=True).line == 3
    assert inittab.getty_on(text, "ttyS3", busybox=True) is None       # commented out
    assert inittab.getty_on(text, "ttyS4", busybox=True) is None       # not kept running


def test_syslinux_parse():
    from bcdtool.linux import syslinux
    cfg = syslinux.parse("# c\nserial 0x2f8 38400\nappend quiet\nlabel a\n linux /v\n"
                         "label b\n kernel chain.c32\nlabel c\n kernel /vmlinuz\n append ro\n"
                         "label d\n localboot 0\n")
    assert cfg.serial.port == 1 and cfg.serial.speed == 38400 and cfg.first_directive == 2
    assert [lb.name for lb in cfg.linux_labels] == ["a", "c"]
    assert cfg.global_append is not None and cfg.labels[2].append_line == 10
