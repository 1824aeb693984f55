"""U-Boot boot scripts (boot.scr compiled from boot.cmd, environment files such as Armbian's
armbianEnv.txt): the script is evaluated on paper, the console goes into the variable the script
takes from its environment file, and a script that takes nothing is refused with the mkimage
step.  U-Boot's own tools (mkimage, dumpimage from u-boot-tools) make and read the images."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from bcdtool.errors import FormatError, UnfixableGuestError
from bcdtool.linux import uboot
from bcdtool.linux.fix import plan_fix
from bcdtool.ops.undo import undo
from fixtures import linux_layouts as L
from fixtures.linux_guests import write
from tests.helpers.common import run_process
from tests.linux.linux_helpers import fix_root, guest_of, problems, report_of, snapshot

need_mkimage = pytest.mark.skipif(shutil.which("mkimage") is None,
                                  reason="mkimage (u-boot-tools) is not installed")


def _outcome(script: str, files: dict[str, str] | None = None) -> uboot.Outcome:
    files = files or {}
    return uboot.evaluate(script, "/boot", files.get, lambda p: p in files)


# -- the image -------------------------------------------------------------------------------
@need_mkimage
def test_real_mkimage_output_reads_back(tmp_path):
    cmd = tmp_path / "boot.cmd"
    cmd.write_text(L.ARMBIAN_ROCKCHIP64_CMD)
    scr = tmp_path / "boot.scr"
    subprocess.run(["mkimage", "-C", "none", "-A", "arm", "-T", "script", "-d", str(cmd),
                    str(scr)], check=True, capture_output=True)
    assert uboot.script_of_image(scr.read_bytes()) == L.ARMBIAN_ROCKCHIP64_CMD


@need_mkimage
def test_fixture_image_is_what_dumpimage_reads(tmp_path):
    scr = tmp_path / "boot.scr"
    scr.write_bytes(L.script_image("setenv bootargs console=ttyS0,115200\n"))
    listed = subprocess.run(["dumpimage", "-l", str(scr)], capture_output=True, text=True)
    assert "Script" in listed.stdout and "Image 0" in listed.stdout, listed
    out = tmp_path / "out.cmd"
    subprocess.run(["dumpimage", "-T", "script", "-p", "0", "-o", str(out), str(scr)],
                   check=True, capture_output=True)
    assert out.read_bytes().endswith(b"setenv bootargs console=ttyS0,115200\n")
    # The next step bcdtool names when there is no boot.cmd gives the script alone.
    tail = subprocess.run(["tail", "-c", "+73", str(scr)], capture_output=True, text=True)
    assert tail.stdout == "setenv bootargs console=ttyS0,115200\n"


@pytest.mark.parametrize("spoil", ["magic", "hcrc", "dcrc", "type", "truncated"])
def test_damaged_images_are_refused_as_format_errors(spoil):
    data = bytearray(L.script_image("setenv bootargs console=ttyS0\n"))
    if spoil == "magic":
        data[0] ^= 0xFF
    elif spoil == "hcrc":
        data[12] ^= 1                       # the size field: header CRC breaks
    elif spoil == "dcrc":
        data[-2] ^= 1
    elif spoil == "type":
        data[30] = 2                        # a kernel image, not a script
    else:
        data = data[:70]
    with pytest.raises(FormatError):
        uboot.script_of_image(bytes(data))


# -- the evaluator ---------------------------------------------------------------------------
def test_armbian_console_setting_decides_the_order():
    env = "/boot/armbianEnv.txt"
    for console, want in (("both", ["console=ttyS2,1500000", "console=tty1"]),
                          ("serial", ["console=ttyS2,1500000"]),
                          ("display", ["console=tty1"])):
        out = _outcome(L.ARMBIAN_ROCKCHIP64_CMD, {env: f"console={console}\n"})
        assert [a for a in out.bootargs.split() if a.startswith("console=")] == want
        assert out.imported == [env]
    # No armbianEnv.txt: the script's default ("both").
    out = _outcome(L.ARMBIAN_ROCKCHIP64_CMD)
    assert out.imported == [] and "console=tty1" in out.bootargs


def test_uncertain_values_are_never_guessed():
    # Set only by a command decided at boot (a `load` as condition), or inside a loop.
    out = _outcome('if load mmc 0:1 ${a} /x; then setenv bootargs console=ttyS0; fi\n'
                   'booti\n')
    assert out.bootargs is None and "decided only at boot" in out.reason
    out = _outcome("for f in ${overlays}; do setenv bootargs console=ttyS0; done\nbooti\n")
    assert out.bootargs is None
    # U-Boot's built-in bootargs (not in the guest) extended by the script.
    out = _outcome('setenv bootargs "${bootargs} console=ttyS0"\nbooti\n')
    assert out.bootargs is None
    # Never set at all: U-Boot's built-in value.
    assert _outcome("booti\n").bootargs is None


def test_hush_forms():
    out = _outcome("setenv a 'x ${b}'; setenv b 1\n"
                   'test -n "${c}" || c=2\n'
                   'if test "${c}" = 2 && test -z "${d}"; then env set e "yes"; else setenv e no;'
                   ' fi\n'
                   'setenv bootargs "$a ${c} ${e}" # comment\nbootz\nsetenv bootargs late\n')
    assert out.bootargs == "x ${b} 2 yes"


def test_env_file_comments_and_deletion():
    env = uboot.parse_env("# comment=1\na=1\nb=2\nb=\nc=x=y\r\n")
    assert {k: v[0] for k, v in env.items()} == {"a": "1", "c": "x=y"}


# -- check, fix, undo -------------------------------------------------------------------------
@pytest.mark.parametrize("console", ["both", "display", "serial"])
def test_armbian_fix_goes_into_extraargs(tmp_path, console):
    root = L.build("armbian-rockchip64", tmp_path / "root")
    env = root / "boot/armbianEnv.txt"
    env.write_text(env.read_text().replace("console=both", f"console={console}"))
    before = snapshot(root)
    report = report_of(root)
    assert report.extra["device"] == "ttyS2" and report.extra["baud"] == 1500000
    assert ("kernel.serial-console" in problems(report)) == (console != "serial")
    guest, plan, journal = fix_root(root, tmp_path)
    if console == "serial":
        assert plan.changes == []
        return
    # (console=display: no serial console before, so the getty is enabled too.)
    assert [c.path for c in plan.changes][0] == "/boot/armbianEnv.txt"
    assert len(plan.changes) == (2 if console == "display" else 1)
    assert env.read_text().endswith("extraargs=console=ttyS2,1500000n8\n")
    assert (root / "boot/boot.scr").read_bytes() == before["boot/boot.scr"][1]   # untouched
    assert problems(report_of(root)) == set()
    assert plan_fix(guest_of(root), "ttyS2").changes == []
    undo(journal.path)
    assert snapshot(root) == before


def test_armbian_existing_extraargs_keeps_its_arguments(tmp_path):
    root = write(*L.armbian(env_extra="extraargs=cma=256M\n"), tmp_path / "root")
    fix_root(root, tmp_path)
    assert "extraargs=cma=256M console=ttyS2,1500000n8\n" in \
        (root / "boot/armbianEnv.txt").read_text()


def test_armbian_other_speed_is_refused_when_the_script_cannot_carry_it(tmp_path):
    # --baud 115200 on a port the script sets at 1500000: extraargs can carry it (the last
    # console= wins, with its speed).
    root = L.build("armbian-rockchip64", tmp_path / "root")
    plan = plan_fix(guest_of(root), "ttyS2", 115200)
    assert b"extraargs=console=ttyS2,115200n8" in plan.changes[0].after


def test_stale_boot_cmd_is_reported(tmp_path):
    root = L.build("armbian-rockchip64", tmp_path / "root")
    (root / "boot/boot.cmd").write_text(L.ARMBIAN_ROCKCHIP64_CMD + "# edited\n")
    which = next(f for f in report_of(root).findings if f.id == "bootloader.serial")
    assert any("mkimage not run" in (e.note or "") for e in which.evidence)


def test_script_without_env_file_is_refused_with_mkimage_step(tmp_path):
    root = L.build("uboot-script-only", tmp_path / "root")
    before = snapshot(root)
    report = report_of(root)
    why = next(f for f in report.findings if f.id == "uboot.script")
    assert "mkimage -C none -A arm64 -T script -d /boot/boot.cmd /boot/boot.scr" in why.fix
    assert "console=ttyS2,1500000n8" in why.fix
    with pytest.raises(UnfixableGuestError):
        plan_fix(guest_of(root), "ttyS2")
    # Without boot.cmd the step says how to take the script out of the image first.
    (root / "boot/boot.cmd").unlink()
    why = next(f for f in report_of(root).findings if f.id == "uboot.script")
    assert "tail -c +73 /boot/boot.scr > /boot/boot.cmd" in why.fix
    (root / "boot/boot.cmd").write_bytes(before["boot/boot.cmd"][1])
    assert snapshot(root) == before                 # nothing was written by check or fix


@need_mkimage
def test_following_the_refusal_step_makes_check_pass(tmp_path):
    root = L.build("uboot-script-only", tmp_path / "root")
    cmd = root / "boot/boot.cmd"
    cmd.write_text(cmd.read_text().replace("console=tty1 cma=64M",
                                           "console=tty1 console=ttyS2,1500000n8 cma=64M"))
    subprocess.run(["mkimage", "-C", "none", "-A", "arm64", "-T", "script", "-d", str(cmd),
                    str(root / "boot/boot.scr")], check=True, capture_output=True)
    assert problems(report_of(root)) == set()


def test_unreadable_script_is_never_ok(tmp_path):
    root = L.build("armbian-rockchip64", tmp_path / "root")
    scr = root / "boot/boot.scr"
    scr.write_bytes(scr.read_bytes()[:100])
    report = report_of(root)
    assert "kernel.serial-console" in problems(report) and report.extra["fixable"] is False


def test_cli_fix_uses_the_boards_speed(tmp_path):
    root = L.build("armbian-rockchip64", tmp_path / "root")
    done = run_process("linux", "fix", "--json", "--backup-dir", str(tmp_path / "j"), str(root))
    assert done.returncode == 0, done.stderr
    assert '"baud": 1500000' in done.stdout
    assert run_process("linux", "check", str(root)).returncode == 0
    # A PC port cannot run that fast: refused before anything is planned.
    x86 = L.build("devuan-5", tmp_path / "x86")
    done = run_process("linux", "fix", "--baud", "1500000", str(x86))
    assert done.returncode == 24 and "115200" in done.stderr


def test_unknown_tty_of_a_board_counts_as_serial():
    from bcdtool.linux.cmdline import parse_console
    for dev in ("ttyAML0", "ttyMSM0", "ttyFIQ0", "ttyLP0", "ttySIF0"):
        assert parse_console(f"{dev},115200").serial


def test_hostile_scripts_stay_bounded(tmp_path):
    # A value doubled 40 times would be a TiB; a bootargs with thousands of references and
    # imports would make the candidate search quadratic.
    doubling = 'setenv a "x"\n' + 'setenv a "${a}${a}"\n' * 40 + 'setenv bootargs "${a}"\nbooti\n'
    out = _outcome(doubling)
    assert out.bootargs is None                    # capped, so not known
    refs = " ".join(f"${{v{i}}}" for i in range(3000))
    many = ("load mmc 0:1 ${a} /boot/e.txt\nenv import -t ${a} ${filesize}\n" * 50
            + f'setenv bootargs "console=tty1 {refs}"\nbooti\n')
    files = {"/boot/e.txt": "x=1\n"}
    found = uboot.env_edit(many, "/boot", files.get, lambda p: p in files, "ttyS0", 115200)
    assert found is not None and found[1].endswith("=console=ttyS0,115200n8\n")
    root = L.build("armbian-rockchip64", tmp_path / "root")
    scr = root / "boot/boot.scr"
    scr.write_bytes(L.script_image(doubling + many))
    report = report_of(root)
    assert "kernel.serial-console" in problems(report)


def test_flash_kernel_script_is_refused_with_its_own_step(tmp_path):
    # Debian's flash-kernel: boot.scr extends U-Boot's built-in bootargs (not in the guest) with
    # LINUX_KERNEL_CMDLINE from /etc/default/flash-kernel, written in at every kernel update.
    files, links = L.uboot_script_only()
    cmd = 'setenv bootargs "${bootargs} quiet"\nload ${devtype} ${devnum}:1 ${kernel_addr_r} ' \
          '/vmlinuz\nbootz ${kernel_addr_r}\n'
    files.update({"/boot/boot.cmd": cmd, "/boot/boot.scr": L.script_image(cmd),
                  "/etc/default/flash-kernel": 'LINUX_KERNEL_CMDLINE="quiet"\n'
                                               'LINUX_KERNEL_CMDLINE_DEFAULTS=""\n'})
    root = write(files, links, tmp_path / "root")
    report = report_of(root)
    why = next(f for f in report.findings if f.id == "uboot.script")
    assert "U-Boot's built-in value" in why.message
    assert "/etc/default/flash-kernel" in why.fix and "chroot /mnt flash-kernel" in why.fix
    assert "kernel.serial-console" in problems(report)       # not known: never ok
    with pytest.raises(UnfixableGuestError):
        plan_fix(guest_of(root), report.extra["device"])


def test_speed_without_architecture_evidence(tmp_path):
    # A root with no binaries (arch unknown): a board's speed (above any PC port's) is kept,
    # a PC-possible one is not taken as a reason to leave 115200.
    files, links = L.armbian()
    del files["/usr/bin/bash"]
    root = write(files, links, tmp_path / "board")
    report = report_of(root)
    assert (report.extra["device"], report.extra["baud"]) == ("ttyS2", 1500000)
    files, links = L.uboot_script_only()
    del files["/usr/bin/bash"]
    cmd = 'setenv bootargs "console=tty1 console=ttyS0,9600"\nbooti\n'
    files.update({"/boot/boot.cmd": cmd, "/boot/boot.scr": L.script_image(cmd)})
    report = report_of(write(files, links, tmp_path / "pc-speed"))
    assert (report.extra["device"], report.extra["baud"]) == ("ttyS0", 115200)


def test_extlinux_comes_first_so_a_script_beside_it_is_ignored(tmp_path):
    # U-Boot's distro boot scans extlinux.conf before boot.scr: a stale script on a u-boot-menu
    # board does not block fixing the extlinux.conf that really boots.
    files, links = L.debian_uboot()
    cmd = 'setenv bootargs "console=tty1"\nbooti\n'
    files.update({"/boot/boot.cmd": cmd, "/boot/boot.scr": L.script_image(cmd)})
    root = write(files, links, tmp_path / "root")
    report = report_of(root)
    assert "U-Boot script" not in report.extra["boot_loaders"]
    fix_root(root, tmp_path)
    assert problems(report_of(root)) == set()


@pytest.mark.parametrize("guard", [True, False])
def test_missing_env_file_the_script_imports_is_created(tmp_path, guard):
    """Armbian without /boot/armbianEnv.txt: the script imports it when it is there
    (`if test -e ...`), so fix creates it with extraargs (dry run shows it and writes nothing,
    the journal and --backup-dir hold it, a second fix changes nothing, undo removes it)."""
    files, links = L.armbian()
    del files["/boot/armbianEnv.txt"]
    if not guard:                   # the import without the `test -e` guard
        cmd = L.ARMBIAN_ROCKCHIP64_CMD.replace(
            "if test -e ${devtype} ${devnum}:${distro_bootpart} ${prefix}armbianEnv.txt; then\n",
            "").replace("env import -t ${load_addr} ${filesize}\nfi\n",
                        "env import -t ${load_addr} ${filesize}\n")
        files.update({"/boot/boot.cmd": cmd, "/boot/boot.scr": L.script_image(cmd)})
    root = write(files, links, tmp_path / "root")
    before = snapshot(root)
    report = report_of(root)
    assert problems(report) == {"kernel.serial-console"} and report.extra["fixable"] is True
    done = run_process("linux", "fix", "--dry-run", str(root))
    assert done.returncode == 0 and "+extraargs=console=ttyS2,1500000n8" in done.stdout
    assert snapshot(root) == before
    done = run_process("linux", "fix", "--json", "--backup-dir", str(tmp_path / "j"), str(root))
    assert done.returncode == 0, done.stderr
    assert (root / "boot/armbianEnv.txt").read_text() == "extraargs=console=ttyS2,1500000n8\n"
    assert problems(report_of(root)) == set()
    assert plan_fix(guest_of(root), "ttyS2").changes == []
    journal = json.loads(done.stdout)["journal"]
    assert run_process("undo", journal).returncode == 0
    assert snapshot(root) == before


def test_import_paths_in_any_branch():
    script = ("if test -e mmc 0:1 ${prefix}env.txt; then\n"
              "  load mmc 0:1 ${a} ${prefix}env.txt; env import -t ${a} ${filesize}\nfi\n"
              "load mmc 0:1 ${a} ${dir}/other.txt\nenv import -t ${a} ${filesize}\n"
              "load mmc 0:1 ${a} /boot/no-import.txt\n")
    assert uboot.import_paths(script, "/boot") == ["/boot/env.txt"]


@pytest.mark.parametrize("target", ["absolute", "relative"])
def test_a_dangling_link_in_place_of_the_env_file_is_never_written_through(tmp_path, target):
    host = tmp_path / "host"
    host.mkdir()
    root = L.build("armbian-rockchip64", tmp_path / "root")
    env = root / "boot/armbianEnv.txt"
    env.unlink()
    os.symlink(str(host / "created") if target == "absolute" else "../../host/created", env)
    before = snapshot(root)
    assert report_of(root).extra["fixable"] is False
    with pytest.raises(UnfixableGuestError):
        plan_fix(guest_of(root), "ttyS2")
    assert list(host.iterdir()) == [] and snapshot(root) == before
