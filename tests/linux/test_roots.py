"""Fixture roots of ten distribution families, broken and correct: check, fix, fix again, undo."""

from __future__ import annotations

import pytest

from bcdtool.ops.undo import undo
from bcdtool.linux.fix import apply_plan, plan_fix
from bcdtool.linux.sources import default_device
from fixtures import linux_roots
from tests.linux.linux_helpers import (guest_of, kernel_arg_lists, problems, report_of,
                                         snapshot, statuses)

#: Problems each broken family must show (and no others).
BROKEN_PROBLEMS = {
    "ubuntu-22.04": {"grub.terminal-serial"},
    "ubuntu-24.04": {"kernel.serial-console", "grub.config-applied", "grub.serial-speed",
                     "getty.serial"},
    "debian-12": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "rhel-7": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "rhel-8": {"kernel.serial-console", "grub.terminal-serial"},
    "rhel-9": {"kernel.serial-console", "grub.terminal-serial"},
    "sles-15": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "centos-6": {"kernel.serial-console", "grub.terminal-serial", "getty.serial",
                 "login.securetty"},
    "azurelinux-3.0": {"kernel.serial-console", "grub.terminal-serial", "getty.serial"},
    "ubuntu-24.04-arm64": {"kernel.serial-console", "getty.serial"},
}
#: Arguments that must survive a fix wherever they were.
PRECIOUS = ("root=", "crashkernel=", "rd.lvm.lv=", "rd_LVM_LV=", "resume=", "nvme_core.",
            "lockdown=", "LANG=", "net.ifnames=")
DROPPED = ("quiet", "rhgb")


@pytest.fixture(params=linux_roots.FAMILIES)
def family(request):
    return request.param


def test_broken_findings(tmp_path, family):
    root = linux_roots.build(family, "broken", tmp_path / "root")
    report = report_of(root)
    assert problems(report) == BROKEN_PROBLEMS[family]
    assert not report.ok
    st = statuses(report)
    if family in ("debian-12", "rhel-7", "rhel-8", "sles-15", "centos-6"):
        assert st["kernel.quiet"] == "warning"
    assert st["login.password"] == "ok"
    for f in report.findings:
        if f.status == "problem":
            assert f.fix and f.evidence or f.id == "getty.serial"


def test_correct_is_clean_and_fix_changes_nothing(tmp_path, family):
    root = linux_roots.build(family, "correct", tmp_path / "root")
    report = report_of(root)
    assert problems(report) == set() and report.ok
    guest = guest_of(root)
    assert plan_fix(guest, default_device(guest)).changes == []


def test_fix_then_fix_again_then_undo(tmp_path, family):
    root = linux_roots.build(family, "broken", tmp_path / "root")
    before_tree = snapshot(root)
    before_args = kernel_arg_lists(root)
    guest = guest_of(root)
    device = default_device(guest)
    plan = plan_fix(guest, device)
    assert plan.changes
    journal = apply_plan(guest, plan, backup_dir=str(tmp_path / "journals"))

    after = report_of(root)
    assert problems(after) == set(), [f for f in after.findings if f.status == "problem"]
    after_args = kernel_arg_lists(root)
    assert len(after_args) == len(before_args)
    for old, new in zip(before_args, after_args, strict=True):
        kept = [a for a in old if a not in DROPPED and not a.startswith(f"console={device}")]
        # every original argument is still there, in the same order
        assert [a for a in new if a in kept] == kept
        for a in old:
            if a.startswith(PRECIOUS):
                assert a in new
        assert not any(a in DROPPED for a in new)
        if old:
            assert any(a.startswith(f"console={device},115200") for a in new) or \
                "$GRUB_CMDLINE_LINUX" in old or "$kernelopts" in old or not any(
                    x.startswith("console=") for x in new)

    # idempotent: a second fix plans nothing
    guest2 = guest_of(root)
    assert plan_fix(guest2, device).changes == []

    # only the planned files changed (plus the getty link); nothing else in the tree
    changed = {rel for rel in set(snapshot(root)) | set(before_tree)
               if snapshot(root).get(rel) != before_tree.get(rel)}
    planned = {c.path.lstrip("/") for c in plan.changes}
    resolved = {str(guest.root.resolve(c.path, follow_last=c.link_target is None) and
                    "/".join(guest.root.resolve(c.path, follow_last=c.link_target is None)))
                for c in plan.changes}
    assert changed <= planned | resolved | {"etc/systemd/system/getty.target.wants"}

    undo(journal.path)
    assert snapshot(root) == before_tree


def test_grubenv_keeps_its_block_size(tmp_path):
    root = linux_roots.build("rhel-8", "broken", tmp_path / "root")
    env = root / "boot/grub2/grubenv"
    assert len(env.read_bytes()) == 1024
    guest = guest_of(root)
    apply_plan(guest, plan_fix(guest, "ttyS0"), backup_dir=str(tmp_path / "j"))
    data = env.read_bytes()
    assert len(data) == 1024 and data.endswith(b"#")
    assert b"kernelopts=root=/dev/mapper/rhel-root ro console=tty0 console=ttyS0,115200n8 " \
           b"crashkernel=auto" in data
    # GRUB reads its terminal from grub.cfg's header even when entries come from BLS
    cfg = (root / "boot/grub2/grub.cfg").read_text()
    assert "serial --unit=0 --speed=115200\nterminal_input serial console\n" \
           "terminal_output serial console" in cfg
    # BLS entries keep `$kernelopts $tuned_params` untouched; grubenv carries the change.
    for entry in (root / "boot/loader/entries").glob("*.conf"):
        assert b"options $kernelopts" in entry.read_bytes()


def test_debian_fix_edits_what_grub_reads(tmp_path):
    """The e2e guest (Debian 12 BIOS) boots the generated grub.cfg without grub-mkconfig."""
    root = linux_roots.build("debian-12", "broken", tmp_path / "root")
    guest = guest_of(root)
    apply_plan(guest, plan_fix(guest, "ttyS0"), backup_dir=str(tmp_path / "j"))
    cfg = (root / "boot/grub/grub.cfg").read_text()
    header = cfg.split("### END /etc/grub.d/00_header ###")[0]
    lines = [ln.strip() for ln in header.splitlines()]
    serial = lines.index("serial --unit=0 --speed=115200")
    assert lines.index("terminal_input serial console") > serial
    assert lines.index("terminal_output serial gfxterm") > serial
    for ln in cfg.splitlines():
        if ln.strip().startswith("linux"):
            assert ln.rstrip().endswith("console=tty0 console=ttyS0,115200n8")
            assert " quiet" not in ln
    default = (root / "etc/default/grub").read_text()
    assert 'GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8"' in default
    assert 'GRUB_TERMINAL="serial console"' in default
    assert "#GRUB_TERMINAL=console" in default  # comments kept
    link = root / "etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"
    assert link.is_symlink() and link.resolve() == (
        root / "usr/lib/systemd/system/serial-getty@.service").resolve()


def test_centos6_legacy_grub_through_its_symlinks(tmp_path):
    root = linux_roots.build("centos-6", "broken", tmp_path / "root")
    guest = guest_of(root)
    plan = plan_fix(guest, "ttyS0")
    assert [c.path for c in plan.changes if c.path.endswith("grub.conf")] == [
        "/boot/grub/grub.conf"
    ]
    apply_plan(guest, plan, backup_dir=str(tmp_path / "j"))
    assert (root / "boot/grub/menu.lst").is_symlink() and (root / "etc/grub.conf").is_symlink()
    text = (root / "boot/grub/grub.conf").read_text()
    assert "#splashimage=" in text and "terminal --timeout=5 serial console" in text
    assert text.index("serial --unit=0 --speed=115200") < text.index("title")
    assert "ttyS0" in (root / "etc/securetty").read_text().split()
    assert oct((root / "boot/grub/grub.conf").stat().st_mode & 0o777) == "0o600"


def test_arm64_uses_ttyAMA0(tmp_path):
    root = linux_roots.build("ubuntu-24.04-arm64", "broken", tmp_path / "root")
    guest = guest_of(root)
    assert guest.arch == "aarch64" and default_device(guest) == "ttyAMA0"
    apply_plan(guest, plan_fix(guest, "ttyAMA0"), backup_dir=str(tmp_path / "j"))
    cfg = (root / "boot/grub/grub.cfg").read_text()
    assert "console=tty0 console=ttyAMA0,115200n8" in cfg and "ttyS0" not in cfg
    assert (
        root / "etc/systemd/system/getty.target.wants/serial-getty@ttyAMA0.service"
    ).is_symlink()


def test_password_problem_is_reported_without_the_hash(tmp_path):
    root = linux_roots.build("debian-12", "correct", tmp_path / "root")
    shadow = root / "etc/shadow"
    shadow.write_text(shadow.read_text().replace(linux_roots.PASSWORD_HASH, "*"))
    report = report_of(root)
    assert statuses(report)["login.password"] == "problem" and not report.ok
    root2 = linux_roots.build("debian-12", "correct", tmp_path / "root2")
    text = repr(report_of(root2).to_json())
    assert linux_roots.PASSWORD_HASH not in text and "$6$" not in text


def test_masked_getty_is_a_problem_fix_leaves_it(tmp_path):
    root = linux_roots.build("debian-12", "correct", tmp_path / "root")
    (root / "etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service").unlink()
    (root / "etc/systemd/system/serial-getty@ttyS0.service").symlink_to("/dev/null")
    report = report_of(root)
    assert statuses(report)["getty.serial"] == "problem"
    guest = guest_of(root)
    plan = plan_fix(guest, "ttyS0")
    assert plan.changes == [] and any("masked" in n for n in plan.notes)


def test_unmounted_boot_is_a_warning(tmp_path):
    root = linux_roots.build("debian-12", "correct", tmp_path / "root")
    (root / "boot/grub/grub.cfg").unlink()
    report = report_of(root)
    assert statuses(report)["grub.config-applied"] == "warning"
    assert "not mounted" in next(f.message for f in report.findings
                                 if f.id == "grub.config-applied")


def test_grub_tools_read_what_fix_wrote(tmp_path, family):
    """GRUB's own tools are the independent readers: grub-script-check and grub-editenv."""
    import subprocess

    from tests.helpers.common import need_tool

    check = need_tool("grub-script-check")
    editenv = need_tool("grub-editenv")
    root = linux_roots.build(family, "broken", tmp_path / "root")
    guest = guest_of(root)
    apply_plan(guest, plan_fix(guest, default_device(guest)), backup_dir=str(tmp_path / "j"))
    for cfg in [*root.glob("boot/grub*/grub.cfg"), *root.glob("boot/efi/EFI/*/grub.cfg")]:
        proc = subprocess.run([check, str(cfg)], capture_output=True, text=True)
        assert proc.returncode == 0, (cfg, proc.stdout, proc.stderr)
    for env in root.glob("boot/grub*/grubenv"):
        proc = subprocess.run([editenv, str(env), "list"], capture_output=True, text=True,
                              check=True)
        values = dict(line.split("=", 1) for line in proc.stdout.splitlines())
        assert values["saved_entry"] and values["boot_success"] == "1"
        if "kernelopts" in values:
            args = values["kernelopts"].split()
            assert [a for a in args if a.startswith("console=")][-1] == "console=ttyS0,115200n8"
            assert "rd.lvm.lv=rhel/root" in args and "crashkernel=auto" in args
        # GRUB's tool can still write the block we rewrote
        subprocess.run([editenv, str(env), "set", "boot_success=0"], check=True)
        assert env.stat().st_size == 1024


def test_sysrq_and_competing_consoles(tmp_path):
    ubuntu = linux_roots.build("ubuntu-22.04", "correct", tmp_path / "u")
    sysrq = next(f for f in report_of(ubuntu).findings if f.id == "kernel.sysrq")
    assert (
        sysrq.status == "warning" and sysrq.evidence[0].file == "/etc/sysctl.d/10-magic-sysrq.conf"
    )
    debian = linux_roots.build("debian-12", "correct", tmp_path / "d")
    assert statuses(report_of(debian))["kernel.sysrq"] == "ok"
    # /etc/sysctl.conf is applied last and wins
    (debian / "etc/sysctl.conf").write_text("kernel.sysrq=0\n")
    assert statuses(report_of(debian))["kernel.sysrq"] == "warning"
    cfg = debian / "boot/grub/grub.cfg"
    cfg.write_text(cfg.read_text().replace("console=tty0 console=ttyS0,115200",
                                           "console=ttyS1,9600 console=ttyS0,115200"))
    report = report_of(debian)
    st = statuses(report)
    assert st["kernel.serial-competing"] == "warning" and st["grub.config-applied"] == "problem"
