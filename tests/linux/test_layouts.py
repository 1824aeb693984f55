"""More distributions' layouts (fixtures/linux_layouts.py): check → fix → check → fix again →
undo on each fixable one, refusal (exit 36, nothing written) on each that bcdtool must not edit,
and the class each one stands for.  Real GRUB (its 00_header) and sh read what fix wrote."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bcdtool.errors import UnfixableGuestError
from bcdtool.linux import uki
from bcdtool.linux.fix import plan_fix
from bcdtool.ops.undo import undo
from fixtures import linux_guests
from fixtures import linux_layouts as L
from fixtures import linux_layouts2 as L2
from fixtures.linux_guests import write
from tests.helpers.common import run_process
from tests.linux.linux_helpers import (fix_root, guest_of, problems, real_00_header, report_of,
                                       snapshot, source_grub_defaults, statuses)

#: Problems each fixable layout shows before the fix.
BEFORE = {
    "ubuntu-22.04-cloud": {"grub.terminal-serial"},
    "rhel-9-upgraded": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "centos-7": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "amazonlinux-2-arm64": set(),
    "amazonlinux-2023-x86_64": set(),
    "arch-grub-and-systemd-boot": {"kernel.serial-console", "grub.terminal-serial",
                                   "getty.serial"},
    "void": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "debian-runit": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "devuan-5": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "raspios-12": {"kernel.serial-console", "rpi.uart", "getty.serial"},
    "debian-12-uboot": {"kernel.serial-console", "getty.serial"},
    "photon-5": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "mariner-2": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "clear-linux": {"kernel.serial-console", "getty.serial"},
    "debian-12-grub-serial-no-command": {"grub.serial-speed"},
    "debian-12-systemd-boot": {"kernel.serial-console", "getty.serial"},
    "ubuntu-20.04-raspi": {"kernel.serial-console", "rpi.uart"},
    "armbian-rockchip64": {"kernel.serial-console"},
    "rhel-9-ppc64le": set(),
    "popos-22.04-kernelstub": {"kernel.serial-console", "getty.serial"},
    "endeavouros": {"kernel.serial-console", "getty.serial"},
    "manjaro": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "opensuse-tumbleweed-sdboot": {"kernel.serial-console", "getty.serial"},
    "alpine-3.19-grub-efi": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "amazonlinux-1": {"grub.terminal-serial"},
    "amazonlinux-1-pv": set(),
    "debian-12-refind": {"kernel.serial-console", "getty.serial"},
    "arch-refind": {"kernel.serial-console", "getty.serial"},
    "chimera": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "artix-s6": {"kernel.serial-console", "grub.terminal-serial"},
    "obarun-66": {"kernel.serial-console", "grub.terminal-serial"},
}
#: Every layout of both fixture modules, and the refused ones.
ALL_REFUSED = {**L.REFUSED, **L2.REFUSED}
FIXABLE = sorted((set(L.LAYOUTS) | set(L2.LAYOUTS)) - set(ALL_REFUSED))
DEVICE = {"raspios-12": "serial0", "ubuntu-20.04-raspi": "serial0", "debian-12-uboot": "ttyAMA0",
          "amazonlinux-2-arm64": "ttyS0", "armbian-rockchip64": "ttyS2",
          "rhel-9-ppc64le": "hvc0", "amazonlinux-1-pv": "hvc0"}


def _build(name: str, dest: Path) -> Path:
    """Write the layout `name` of either fixture module."""
    return (L2 if name in L2.LAYOUTS else L).build(name, dest)


def _read(root: Path, path: str) -> str:
    return (root / path.lstrip("/")).read_text()


def test_every_layout_is_covered():
    assert set(FIXABLE) == set(BEFORE)


@pytest.mark.parametrize("name", FIXABLE)
def test_check_fix_check_undo(tmp_path, name):
    root = _build(name, tmp_path / "root")
    before_tree = snapshot(root)
    report = report_of(root)
    assert problems(report) == BEFORE[name], [(f.id, f.message) for f in report.findings]
    for f in report.findings:                   # a problem always says why and what to do
        if f.status == "problem":
            assert f.message and f.fix, f
    assert report.extra["device"] == DEVICE.get(name, "ttyS0")
    guest, plan, journal = fix_root(root, tmp_path)
    after = report_of(root)
    assert problems(after) == set(), [(f.id, f.message, f.evidence) for f in after.findings
                                       if f.status == "problem"]
    assert plan_fix(guest_of(root), guest.device).changes == []       # a second fix: nothing
    if journal is not None:
        undo(journal.path)
    assert snapshot(root) == before_tree                               # bit-exact
    assert problems(report_of(root)) == BEFORE[name]


@pytest.mark.parametrize("name", sorted(ALL_REFUSED))
def test_refused_layouts_say_why_and_fix_refuses(tmp_path, name):
    root = _build(name, tmp_path / "root")
    before_tree = snapshot(root)
    report = report_of(root)
    why = next(f for f in report.findings if f.id == ALL_REFUSED[name])
    assert why.status == "problem" and why.fix and report.extra["fixable"] is False
    for f in report.findings:                   # no hint sends the user to a fix that refuses
        assert not (f.fix or "").startswith("bcdtool linux fix ("), f
    with pytest.raises(UnfixableGuestError) as exc:
        plan_fix(guest_of(root), report.extra["device"])
    assert exc.value.exit_code == 36 and why.fix in exc.value.message
    assert snapshot(root) == before_tree


@pytest.mark.parametrize("name", [pytest.param(n, marks=[] if n == "talos" else
                                               pytest.mark.slow) for n in sorted(ALL_REFUSED)])
def test_refused_layouts_through_the_cli(tmp_path, name):
    root = _build(name, tmp_path / "root")
    before_tree = snapshot(root)
    for extra in ([], ["--dry-run"], ["--json"]):
        done = run_process("linux", "fix", str(root), *extra)
        assert done.returncode == 36, done.stderr
        assert "Traceback" not in done.stderr and "next step" in done.stderr
    assert run_process("linux", "check", str(root)).returncode == 3
    assert snapshot(root) == before_tree        # nothing written, not even partly


# -- Ubuntu cloud image: grub.d drop-ins, later files win --------------------------------------
def test_ubuntu_cloudimg_dropins_later_files_win(tmp_path):
    root = L.build("ubuntu-22.04-cloud", tmp_path / "root")
    fix_root(root, tmp_path)
    cloud = _read(root, "/etc/default/grub.d/50-cloudimg-settings.cfg")
    assert 'GRUB_TERMINAL="serial console"' in cloud and "--speed=115200" in cloud
    assert 'GRUB_CMDLINE_LINUX_DEFAULT="console=tty1 console=ttyS0,115200n8"' in cloud
    assert _read(root, "/etc/default/grub").count("quiet splash") == 1    # overridden: untouched
    # A later drop-in overrides the cloud settings: it is the one that counts and is edited.
    root2 = L.build("ubuntu-22.04-cloud", tmp_path / "root2")
    (root2 / "etc/default/grub.d/60-local.cfg").write_text(
        'GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"\n')
    console = next(f for f in report_of(root2).findings if f.id == "kernel.serial-console")
    assert console.status == "problem" and "60-local.cfg" in str(console.evidence)
    cloud_before = _read(root2, "/etc/default/grub.d/50-cloudimg-settings.cfg")
    fix_root(root2, tmp_path / "2")
    # The console goes into GRUB_CMDLINE_LINUX (rescue entries get it too); the later file
    # loses only `quiet`.  What grub-mkconfig sources ends with the console on ttyS0.
    assert _read(root2, "/etc/default/grub.d/60-local.cfg") == \
        'GRUB_CMDLINE_LINUX_DEFAULT="splash"\n'
    env = source_grub_defaults(root2)
    consoles = [a for a in f"{env['GRUB_CMDLINE_LINUX']} {env['GRUB_CMDLINE_LINUX_DEFAULT']}"
                .split() if a.startswith("console=")]
    assert consoles[-1] == "console=ttyS0,115200n8"
    line = 'GRUB_CMDLINE_LINUX_DEFAULT="console=tty1 console=ttyS0"\n'   # overridden: untouched
    assert line in cloud_before and line in _read(root2,
                                                  "/etc/default/grub.d/50-cloudimg-settings.cfg")


@pytest.mark.parametrize("name", ["ubuntu-22.04-cloud", "debian-12-grub-serial-no-command",
                                  "void", "devuan-5"])
def test_real_grub_header_reads_the_fix(tmp_path, name):
    root = L.build(name, tmp_path / "root")
    fix_root(root, tmp_path)
    header = real_00_header(root).splitlines()
    assert "serial --unit=0 --speed=115200" in header
    assert "terminal_input serial console" in header and "terminal_output serial console" in header


def test_grub_serial_without_command_is_9600(tmp_path):
    """GRUB_TERMINAL=serial and no GRUB_SERIAL_COMMAND: 00_header writes a bare `serial`
    (9600 baud).  Reported from /etc/default/grub alone too (no /boot mounted)."""
    root = L.build("debian-12-grub-serial-no-command", tmp_path / "root")
    assert "serial" in real_00_header(root).splitlines()
    (root / "boot/grub/grub.cfg").unlink()
    speed = next(f for f in report_of(root).findings if f.id == "grub.serial-speed")
    assert speed.status == "problem" and "9600" in str(speed.evidence)
    fix_root(root, tmp_path)
    assert 'GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"' in _read(root,
                                                                            "/etc/default/grub")


# -- Red Hat family -------------------------------------------------------------------------
def test_rhel9_grubenv_kernelopts_bls_and_kernel_cmdline(tmp_path):
    root = L.build("rhel-9-upgraded", tmp_path / "root")
    entries = sorted((root / "boot/loader/entries").iterdir())
    old_entry = next(p for p in entries if "el8" in p.name)
    old_text = old_entry.read_text()
    fix_root(root, tmp_path)
    env = (root / "boot/grub2/grubenv").read_bytes()
    assert len(env) == 1024 and re.search(rb"kernelopts=.* console=tty0 console=ttyS0,115200n8\n",
                                          env)
    assert old_entry.read_text() == old_text            # `$kernelopts` comes from grubenv
    new_entry = next(p for p in entries if "el9" in p.name).read_text()
    assert re.search(r"^options .* \$tuned_params console=tty0 console=ttyS0,115200n8$",
                     new_entry, re.M)
    assert _read(root, "/etc/kernel/cmdline").split()[-2:] == ["console=tty0",
                                                              "console=ttyS0,115200n8"]


def test_kernel_cmdline_on_several_lines(tmp_path):
    """kernel-install joins /etc/kernel/cmdline's lines: the console goes at the end."""
    root = L.build("rhel-9-upgraded", tmp_path / "root")
    (root / "etc/kernel/cmdline").write_text("root=/dev/mapper/rhel-root ro\nrhgb quiet\n")
    fix_root(root, tmp_path)
    assert _read(root, "/etc/kernel/cmdline") == \
        "root=/dev/mapper/rhel-root ro\nconsole=tty0 console=ttyS0,115200n8\n"


def test_centos7_linux16_and_sysconfig_symlink(tmp_path):
    root = L.build("centos-7", tmp_path / "root")
    fix_root(root, tmp_path)
    link = root / "etc/sysconfig/grub"
    assert link.is_symlink() and os.readlink(link) == "../default/grub"
    assert "console=ttyS0,115200n8" in link.read_text()
    cfg = _read(root, "/boot/grub2/grub.cfg")
    lines = [ln for ln in cfg.splitlines() if ln.strip().startswith("linux16")]
    assert len(lines) == 2 and all(ln.endswith("console=tty0 console=ttyS0,115200n8")
                                   or "LANG=en_US.UTF-8 console=tty0" in ln for ln in lines)


# -- systemd-boot: UKIs, and GRUB next to it ----------------------------------------------------
def test_uki_sections_read_like_objdump(tmp_path):
    """Our PE reader and binutils' objdump agree on the UKI's sections."""
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("objdump is not installed")
    image = tmp_path / "arch-linux.efi"
    image.write_bytes(L.uki("root=UUID=x rw console=ttyS0,115200n8"))
    out = subprocess.run([objdump, "-h", str(image)], capture_output=True, text=True,
                         check=True).stdout
    names = set(re.findall(r"^\s*\d+\s+(\.\w+)", out, re.M))
    assert names == set(uki.sections(image.read_bytes()))
    assert uki.cmdline(image.read_bytes()) == (True, "root=UUID=x rw console=ttyS0,115200n8")


def test_uki_with_the_console_is_not_refused(tmp_path):
    files, links = L.arch_uki(f"root=UUID={L.UUID} rw console=tty0 console=ttyS0,115200n8")
    root = write(files, links, tmp_path / "root")
    report = report_of(root)
    assert "kernel.uki" not in problems(report) and report.extra["fixable"]
    assert statuses(report)["kernel.serial-console"] == "ok"
    fix_root(root, tmp_path)
    assert report_of(root).ok


def test_uki_cmdline_beyond_the_read_head_is_refused(tmp_path):
    files, links = L.arch_uki()
    big = L.pe_image({".linux": b"\0" * (uki.HEAD_BYTES + 1), ".cmdline": b"console=ttyS0\0"})
    files["/boot/EFI/Linux/arch-linux.efi"] = big
    root = write(files, links, tmp_path / "root")
    why = next(f for f in report_of(root).findings if f.id == "kernel.uki")
    assert "beyond" in str(why.evidence)


def test_grub_and_systemd_boot_both_installed(tmp_path):
    root = L.build("arch-grub-and-systemd-boot", tmp_path / "root")
    which = next(f for f in report_of(root).findings if f.id == "bootloader.which")
    assert which.status == "warning" and "systemd-boot" in which.message
    notes = {e.file: e.note for e in which.evidence}
    assert notes["/boot/EFI/BOOT/BOOTX64.EFI"] == "fallback path, systemd-boot binary"
    assert "GRUB" in notes["/boot/EFI/GRUB/grubx64.efi"]
    fix_root(root, tmp_path)
    assert _read(root, "/boot/loader/entries/arch.conf").rstrip().endswith(
        "console=tty0 console=ttyS0,115200n8")
    assert "console=ttyS0,115200n8" in _read(root, "/boot/grub/grub.cfg")


def test_debian_systemd_boot_entries_on_the_esp(tmp_path):
    root = L.build("debian-12-systemd-boot", tmp_path / "root")
    report = report_of(root)
    assert report.extra["boot_loaders"] == ["systemd-boot"]
    console = next(f for f in report.findings if f.id == "kernel.serial-console")
    assert "/boot/efi/loader/entries/" in str(console.evidence)
    fix_root(root, tmp_path)
    entry = next((root / "boot/efi/loader/entries").iterdir()).read_text()
    assert re.search(r"^options +.* console=tty0 console=ttyS0,115200n8$", entry, re.M)
    assert _read(root, "/etc/kernel/cmdline").split()[-1] == "console=ttyS0,115200n8"


def test_transactional_update_on_a_read_write_root_is_not_refused(tmp_path):
    """transactional-update installed on ordinary Tumbleweed (root not `ro`): fixable."""
    files, links = L.microos()
    files["/etc/os-release"] = files["/etc/os-release"].replace("opensuse-microos",
                                                                "opensuse-tumbleweed")
    files["/etc/fstab"] = files["/etc/fstab"].replace("  ro  ", "  defaults  ")
    root = write(files, links, tmp_path / "root")
    assert report_of(root).extra["fixable"]
    fix_root(root, tmp_path)
    assert report_of(root).ok
    files["/etc/fstab"] = files["/etc/fstab"].replace("  defaults  0  0\n", "  ro  0  0\n", 1)
    root2 = write(files, links, tmp_path / "root2")              # `/` ro in fstab: refused
    assert "guest.read-only-root" in problems(report_of(root2))


def test_systemd_boot_binary_alone_is_named(tmp_path):
    files, links = L.arch_uki(f"root=UUID={L.UUID} rw")
    del files["/boot/EFI/Linux/arch-linux.efi"], files["/boot/loader/loader.conf"]
    root = write(files, links, tmp_path / "root")
    menu = next(f for f in report_of(root).findings if f.id == "bootloader.serial")
    assert menu.status == "warning" and menu.evidence[0].file.endswith("systemd-bootx64.efi")
    fix_root(root, tmp_path)
    assert _read(root, "/etc/kernel/cmdline").split()[-1] == "console=ttyS0,115200n8"


# -- runit ---------------------------------------------------------------------------------
def test_void_links_the_agetty_service(tmp_path):
    root = L.build("void", tmp_path / "root")
    fix_root(root, tmp_path)
    link = root / "etc/runit/runsvdir/default/agetty-ttyS0"
    assert os.readlink(link) == "../../../sv/agetty-ttyS0"
    assert link.resolve() == (root / "etc/sv/agetty-ttyS0").resolve()


def test_void_arm_without_a_service_for_the_port_is_refused(tmp_path):
    root = write(*L.void(ports=("tty1", "ttyS0"), machine=L.AARCH64), tmp_path / "root")
    before = snapshot(root)
    report = report_of(root)
    assert report.extra["device"] == "ttyAMA0" and "runit.service" in problems(report)
    with pytest.raises(UnfixableGuestError):
        plan_fix(guest_of(root), "ttyAMA0")
    assert snapshot(root) == before
    assert plan_fix(guest_of(root, "ttyS0"), "ttyS0").changes        # ttyS0 has a service


def test_debian_runit_uses_getty_run_service(tmp_path):
    root = L.build("debian-runit", tmp_path / "root")
    assert guest_of(root).init == "runit"              # not sysv, though /etc/inittab exists
    fix_root(root, tmp_path)
    assert os.readlink(root / "etc/runit/runsvdir/default/getty-ttyS0") == \
        "../../../sv/getty-ttyS0"


def test_openrc_agetty_speed_in_conf_d(tmp_path):
    """Gentoo: agetty.ttyS0 takes ${baud} from /etc/conf.d/agetty then agetty.ttyS0."""
    root = linux_guests.build("gentoo", tmp_path / "root")
    fix_root(root, tmp_path)
    conf = root / "etc/conf.d/agetty.ttyS0"
    conf.write_text('# local\nbaud="38400"\n')
    getty = next(f for f in report_of(root).findings if f.id == "getty.serial")
    assert getty.status == "problem" and "38400" in getty.message
    fix_root(root, tmp_path / "2")
    assert conf.read_text() == '# local\nbaud="115200"\n'
    assert report_of(root).ok


# -- SysV init and LILO ----------------------------------------------------------------------
def test_devuan_inittab_line_and_ids(tmp_path):
    root = L.build("devuan-5", tmp_path / "root")
    fix_root(root, tmp_path)
    assert _read(root, "/etc/inittab").endswith(
        "S0:2345:respawn:/sbin/agetty -L ttyS0 115200 vt100\n")
    # An id already in use is not reused (init would ignore the second line).
    root2 = L.build("devuan-5", tmp_path / "root2")
    tab = root2 / "etc/inittab"
    tab.write_text(tab.read_text() + "S0:2345:respawn:/sbin/getty 38400 tty7\n")
    fix_root(root2, tmp_path / "2")
    last = tab.read_text().splitlines()[-1]
    assert last.split(":")[0] not in ("S0",) and last.endswith("-L ttyS0 115200 vt100")


def test_devuan_uncommented_stock_line_counts_at_its_speed(tmp_path):
    """The stock example line runs getty at 9600: fine alone, garbled once the kernel console
    is at 115200, so fix sets its speed too."""
    root = L.build("devuan-5", tmp_path / "root")
    tab = root / "etc/inittab"
    tab.write_text(tab.read_text().replace("#T0:23:respawn", "T0:23:respawn"))
    assert statuses(report_of(root))["getty.serial"] == "ok"        # no kernel console yet
    fix_root(root, tmp_path)
    assert "T0:23:respawn:/sbin/getty -L ttyS0 115200 vt100\n" in tab.read_text()
    assert "ttyS0" not in tab.read_text().split("T0:23:respawn")[-1].split("\n", 1)[1]
    assert report_of(root).ok
    tab.write_text(tab.read_text().replace("ttyS0 115200 vt100", "ttyS0 9600 vt100"))
    getty = next(f for f in report_of(root).findings if f.id == "getty.serial")
    assert getty.status == "problem" and "9600" in getty.message


def test_debian_getty_run_speed_follows_the_kernel(tmp_path):
    """getty-run's getty-ttyS0 runs getty at 9600 (REAL run script): fixed to the console's."""
    root = L.build("debian-runit", tmp_path / "root")
    guest, plan, journal = fix_root(root, tmp_path)
    run = _read(root, "/etc/sv/getty-ttyS0/run")
    assert 'exec /sbin/getty -L "$SGETTY" 115200 vt100\n' in run
    assert run.replace("115200", "9600") == L.GETTY_RUN_TTYS0
    undo(journal.path)
    assert _read(root, "/etc/sv/getty-ttyS0/run") == L.GETTY_RUN_TTYS0


def test_slackware_lilo_ready_then_inittab_fixed(tmp_path):
    lilo = L.SLACKWARE_LILO.replace('append=" vt.default_utf8=1"',
                                    'append=" vt.default_utf8=1 console=tty0 '
                                    'console=ttyS0,115200n8"\nserial=0,115200n8')
    root = write(*L.slackware(lilo), tmp_path / "root")
    report = report_of(root)
    assert statuses(report)["lilo.serial"] == "ok" and report.extra["fixable"]
    assert problems(report) == {"getty.serial"}
    fix_root(root, tmp_path)
    assert _read(root, "/etc/inittab").endswith(
        "S0:2345:respawn:/sbin/agetty -L ttyS0 115200 vt100\n")
    assert _read(root, "/etc/lilo.conf") == lilo
    assert report_of(root).ok


# -- Arm boards -------------------------------------------------------------------------------
def test_raspios_cmdline_and_config(tmp_path):
    root = L.build("raspios-12", tmp_path / "root")
    fix_root(root, tmp_path)
    cmd = _read(root, "/boot/firmware/cmdline.txt")
    consoles = [a for a in cmd.split() if a.startswith("console=")]
    assert cmd.count("\n") == 1 and consoles == ["console=tty1", "console=serial0,115200n8"]
    assert "quiet" not in cmd.split() and "console=tty1" in cmd
    assert _read(root, "/boot/firmware/config.txt").endswith("[cm5]\ndtoverlay=dwc2,dr_mode=host"
                                                             "\n[all]\nenable_uart=1\n")
    assert not (root / "etc/systemd/system/getty.target.wants/serial-getty@serial0.service"
                ).is_symlink()


def test_raspios_enable_uart_zero_is_set_to_one(tmp_path):
    root = L.build("raspios-12", tmp_path / "root")
    conf = root / "boot/firmware/config.txt"
    conf.write_text(conf.read_text().replace("arm_boost=1\n", "arm_boost=1\nenable_uart=0\n"))
    uart = next(f for f in report_of(root).findings if f.id == "rpi.uart")
    assert uart.status == "problem" and "enable_uart=0" in str(uart.evidence)
    fix_root(root, tmp_path)
    text = conf.read_text()
    assert "enable_uart=1\n" in text and "enable_uart=0" not in text
    assert not text.endswith("[all]\nenable_uart=1\n")


def test_ubuntu_raspi_includes_and_cmdline_directive(tmp_path):
    """config.txt's `include`d syscfg.txt sets enable_uart (after config.txt's own) and names
    the command line file (`cmdline=nobtcmd.txt`): both are where fix edits."""
    root = L.build("ubuntu-20.04-raspi", tmp_path / "root")
    uart = next(f for f in report_of(root).findings if f.id == "rpi.uart")
    assert uart.status == "problem" and "syscfg.txt" in str(uart.evidence)
    config, cmdline_txt = (_read(root, "/boot/firmware/" + n) for n in ("config.txt",
                                                                         "cmdline.txt"))
    fix_root(root, tmp_path)
    assert "enable_uart=1\n" in _read(root, "/boot/firmware/syscfg.txt")
    assert _read(root, "/boot/firmware/config.txt") == config
    assert _read(root, "/boot/firmware/cmdline.txt") == cmdline_txt       # not the one read
    consoles = [a for a in _read(root, "/boot/firmware/nobtcmd.txt").split()
                if a.startswith("console=")]
    assert consoles[-1] == "console=serial0,115200n8" and "console=tty1" in consoles
    root2 = write(*L.ubuntu_raspi(uart="1"), tmp_path / "root2")
    assert statuses(report_of(root2))["rpi.uart"] == "ok"


def test_uboot_menu_parameters(tmp_path):
    root = L.build("debian-12-uboot", tmp_path / "root")
    fix_root(root, tmp_path)
    assert _read(root, "/etc/default/u-boot").endswith(
        'U_BOOT_PARAMETERS="ro console=tty0 console=ttyAMA0,115200n8"\n')
    conf = _read(root, "/boot/extlinux/extlinux.conf")
    assert f"\tappend root=UUID={L.UUID} ro console=tty0 console=ttyAMA0,115200n8\n" in conf
    # With /etc/kernel/cmdline, u-boot-update takes the parameters from there instead.
    root2 = L.build("debian-12-uboot", tmp_path / "root2")
    (root2 / "etc/kernel").mkdir()
    (root2 / "etc/kernel/cmdline").write_text(f"root=UUID={L.UUID} ro quiet\n")
    fix_root(root2, tmp_path / "2")
    assert _read(root2, "/etc/default/u-boot") == L.UBOOT_DEFAULT
    assert _read(root2, "/etc/kernel/cmdline").rstrip().endswith("console=ttyAMA0,115200n8")


# -- static grub.cfg with load_env ------------------------------------------------------------
def test_photon_and_mariner_expand_load_env(tmp_path):
    root = L.build("photon-5", tmp_path / "root")
    quiet = next(f for f in report_of(root).findings if f.id == "kernel.quiet")
    assert quiet.status == "warning"                  # from $photon_cmdline (load_env)
    fix_root(root, tmp_path)
    line = next(ln for ln in _read(root, "/boot/grub2/grub.cfg").splitlines()
                if ln.strip().startswith("linux"))
    assert line.endswith("$systemd_cmdline console=tty0 console=ttyS0,115200n8")
    assert "photon_cmdline=init=/lib/systemd/systemd ro loglevel=3 quiet" in _read(
        root, "/boot/photon.cfg")                      # the kernel package's file: untouched
    root2 = L.build("mariner-2", tmp_path / "root2")
    console = next(f for f in report_of(root2).findings if f.id == "kernel.serial-console")
    assert "last console is tty0" in str(console.evidence)     # $mariner_cmdline's console=tty0
    fix_root(root2, tmp_path / "2")
    assert len((root2 / "boot/grub2/grubenv").read_bytes()) == 1024


# -- Clear Linux --------------------------------------------------------------------------------
def test_clear_linux_cmdline_d(tmp_path):
    root = L.build("clear-linux", tmp_path / "root")
    fix_root(root, tmp_path)
    assert _read(root, "/etc/kernel/cmdline.d/10-local.conf") == \
        "console=tty0 console=ttyS0,115200n8\n"
    files, links = L.clear_linux(esp=True)
    del files["/etc/kernel/cmdline.d/10-local.conf"]
    (tmp_path / "root2/etc/kernel/cmdline.d").mkdir(parents=True)
    root2 = write(files, links, tmp_path / "root2")
    before = snapshot(root2)
    guest, plan, journal = fix_root(root2, tmp_path / "2")
    assert _read(root2, "/etc/kernel/cmdline.d/serial-console.conf") == \
        "console=tty0 console=ttyS0,115200n8\n"
    assert report_of(root2).ok
    undo(journal.path)
    assert snapshot(root2) == before                 # the new file is gone again


# -- hostile inputs in the new readers --------------------------------------------------------
def test_new_readers_do_not_leave_the_root(tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    (host / "cmdline.txt").write_text("HOSTSECRET console=ttyS0\n")
    (host / "sv").mkdir()
    root = L.build("raspios-12", tmp_path / "root")
    (root / "boot/firmware/cmdline.txt").unlink()
    os.symlink(str(host / "cmdline.txt"), root / "boot/firmware/cmdline.txt")
    os.symlink("loop-b", root / "boot/firmware/loop-a")
    os.symlink("loop-a", root / "boot/firmware/loop-b")
    report = report_of(root)
    assert "HOSTSECRET" not in str(report.to_json())
    root2 = L.build("void", tmp_path / "root2")
    os.symlink(str(host / "sv"), root2 / "etc/runit/runsvdir/default/agetty-ttyS0")
    getty = next(f for f in report_of(root2).findings if f.id == "getty.serial")
    assert getty.status == "problem"                 # the host's folder is not the service
    root3 = L.build("photon-5", tmp_path / "root3")
    (root3 / "boot/photon.cfg").unlink()
    os.symlink(str(host / "cmdline.txt"), root3 / "boot/photon.cfg")
    assert "HOSTSECRET" not in str(report_of(root3).to_json())


def test_huge_and_binary_new_files_are_issues_not_crashes(tmp_path):
    root = L.build("raspios-12", tmp_path / "root")
    with open(root / "boot/firmware/cmdline.txt", "wb") as f:
        f.truncate(64 * 1024 * 1024)                   # sparse: 64 MiB of NULs
    report = report_of(root)
    assert statuses(report)["guest.files"] == "warning"
    root2 = L.build("arch-uki", tmp_path / "root2")
    (root2 / "boot/EFI/Linux/arch-linux.efi").write_bytes(b"MZ" + b"\xff" * 100)
    why = next(f for f in report_of(root2).findings if f.id == "kernel.uki")
    assert "unreadable" in str(why.evidence)


def test_alpine_grub_efi_gets_a_busybox_getty_and_grub_serial(tmp_path):
    root = L.build("alpine-3.19-grub-efi", tmp_path / "root")
    report = report_of(root)
    assert report.extra["init"] == "busybox + OpenRC" and report.extra["boot_loaders"] == \
        ["GRUB 2"]
    fix_root(root, tmp_path)
    assert _read(root, "/etc/inittab").endswith("ttyS0::respawn:/sbin/getty -L ttyS0 115200 "
                                                "vt100\n")
    assert 'GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"' in _read(root,
                                                                          "/etc/default/grub")
