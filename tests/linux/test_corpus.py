"""Real boot configurations from ../shared/corpus/linux: read, checked and fixed (on copies)."""

from __future__ import annotations

import shutil

import pytest

from bcdtool.ops.undo import undo
from bcdtool.linux import cmdline
from bcdtool.linux.fix import apply_plan, plan_fix
from bcdtool.linux.rules import boot_views, default_views, grub_terminals
from bcdtool.linux.sources import default_device
from tests.helpers.common import CORPUS
from tests.linux.linux_helpers import guest_of, kernel_arg_lists, report_of, snapshot, statuses

FAMILIES = sorted(p.name for p in (CORPUS / "linux").iterdir() if p.is_dir()) \
    if (CORPUS / "linux").is_dir() else []


def test_rhel8_bls_and_grubenv(corpus):
    guest = guest_of(corpus / "linux/rhel-8.3-ec2")
    assert guest.grubenv is not None and len(guest.grubenv.file.data) == 1024
    assert guest.grubenv.values["kernelopts"].startswith("root=UUID=949779ce-")
    assert len(guest.bls_entries) == 4 and len(guest.bls_options) == 4
    normal = [v for v in boot_views(guest) if not v.rescue]
    assert len(normal) == 2
    for v in normal:
        assert "crashkernel=auto" in v.args and "$kernelopts" not in v.args
        last, serial = cmdline.serial_verdict(v.args)
        assert last.device == "tty0" and [c.device for c in serial] == ["ttyS0"]
    st = statuses(report_of(corpus / "linux/rhel-8.3-ec2"))
    # ttyS0 comes first, so tty0 owns /dev/console: the real EC2 image fails the first rule
    assert st["kernel.serial-console"] == "problem"
    assert st["grub.config-applied"] == "ok"
    assert st["grub.terminal-serial"] == "problem"  # GRUB_TERMINAL_OUTPUT="console"
    assert st["getty.serial"] == "ok"               # the generator starts it (console=ttyS0)


def test_ubuntu_generated_grub_cfg(corpus):
    guest = guest_of(corpus / "linux/ubuntu-22.04-ec2-with-boot")
    paths = [tf.path for tf in guest.grub_cfgs]
    assert paths == ["/boot/grub/grub.cfg", "/boot/efi/EFI/ubuntu/grub.cfg"]
    assert len(guest.linux_lines) == 10
    assert sum(1 for k in guest.linux_lines if k.rescue) == 4
    full, lin, _ = default_views(guest)
    assert full.args == ["console=tty1", "console=ttyS0", "nvme_core.io_timeout=4294967295"]
    assert lin.args == []
    terms = grub_terminals(guest)
    assert terms["default"]["output"] == "console"
    assert [c["output"] for c in terms["cfgs"]] == [[["console"]]]
    st = statuses(report_of(corpus / "linux/ubuntu-22.04-ec2-with-boot"))
    assert st["kernel.serial-console"] == "ok" and st["grub.config-applied"] == "ok"
    assert st["grub.terminal-serial"] == "problem"


def test_speed_rule_on_real_files(corpus):
    # Azure's prepared Ubuntu 18.04: GRUB at 9600 and console=ttyS0 without a speed (9600): equal
    assert (
        statuses(report_of(corpus / "linux/ubuntu-18.04-azure-prepared"))["grub.serial-speed"]
        == "ok"
    )
    # Debian 12 generic: 115200 on both sides
    st = statuses(report_of(corpus / "linux/debian-12-generic-amd64"))
    assert st["grub.serial-speed"] == "ok" and st["grub.terminal-serial"] == "ok"
    assert st["kernel.serial-console"] == "ok"


def test_arm64_corpus_uses_ttyAMA0(corpus):
    guest = guest_of(corpus / "linux/debian-12-azure-arm64")
    assert default_device(guest) == "ttyAMA0"
    assert (
        statuses(report_of(corpus / "linux/debian-12-azure-arm64"))["kernel.serial-console"] == "ok"
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_fix_real_configs(tmp_path, corpus, family):
    root = tmp_path / family
    shutil.copytree(corpus / "linux" / family, root, symlinks=True)
    before_tree = snapshot(root)
    before = kernel_arg_lists(root)
    guest = guest_of(root)
    device = default_device(guest)
    report = report_of(root)
    ids = {f.id for f in report.findings}
    assert ids >= {"kernel.serial-console", "getty.serial", "login.password"}
    # The boot menu rule is GRUB's where GRUB is configured, else it says what was (not) found.
    assert ("grub.terminal-serial" in ids) == bool(guest.grub_files or guest.kernel_lines)
    assert ("bootloader.serial" in ids) != ("grub.terminal-serial" in ids)
    plan = plan_fix(guest, device)
    journal = apply_plan(guest, plan, backup_dir=str(tmp_path / "j")) if plan.changes else None
    after = report_of(root)
    st = statuses(after)
    if guest.grub_files or guest.kernel_lines:
        assert st["kernel.serial-console"] == "ok", family
        # corpus dumps without /boot only warn that the generated files are missing
        assert st["grub.config-applied"] in ("ok", "warning" if not guest.kernel_lines else "ok")
        assert st["grub.serial-speed"] == "ok"
    for old, new in zip(before, kernel_arg_lists(root), strict=True):
        kept = [
            a for a in old if a not in cmdline.QUIET_ARGS and not a.startswith(f"console={device}")
        ]
        assert [a for a in new if a in kept] == kept
    assert plan_fix(guest_of(root), device).changes == []
    if journal is not None:
        undo(journal.path)
    assert snapshot(root) == before_tree
