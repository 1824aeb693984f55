"""Edits of unusual /etc/default/grub files, and a failed write that must leave nothing behind."""

from __future__ import annotations

import errno

import pytest

from bcdtool.errors import WriteError
from bcdtool.ops.undo import undo as undo_journal
from bcdtool.write import observe
from bcdtool.linux.fix import apply_plan, plan_fix
from fixtures import linux_roots
from tests.linux.linux_helpers import guest_of, report_of, snapshot, statuses


def _with_default(tmp_path, text):
    root = linux_roots.build("debian-12", "broken", tmp_path / "root")
    (root / "etc/default/grub").write_text(text)
    return root


def _fixed_default(tmp_path, text):
    root = _with_default(tmp_path, text)
    guest = guest_of(root)
    plan = plan_fix(guest, "ttyS0")
    apply_plan(guest, plan, backup_dir=str(tmp_path / "j"))
    return (root / "etc/default/grub").read_text(), plan


@pytest.mark.parametrize("before, after", [
    ("GRUB_CMDLINE_LINUX=quiet\n", 'GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8"\n'),
    ("GRUB_CMDLINE_LINUX='ro  rd.lvm.lv=vg/root'  # keep me\n",
     "GRUB_CMDLINE_LINUX='ro  rd.lvm.lv=vg/root console=tty0 console=ttyS0,115200n8'  # keep me\n"),
    ('export GRUB_CMDLINE_LINUX="crashkernel=auto"\n',
     'export GRUB_CMDLINE_LINUX="crashkernel=auto console=tty0 console=ttyS0,115200n8"\n'),
])
def test_quoting_styles(tmp_path, before, after):
    text, _ = _fixed_default(tmp_path, before + 'GRUB_TERMINAL="serial console"\n'
                             'GRUB_SERIAL_COMMAND="serial --speed=115200"\n')
    assert text.startswith(after)


def test_unknown_values_are_left_alone_with_a_note(tmp_path):
    before = 'GRUB_CMDLINE_LINUX="`cat /proc/cmdline`"\nGRUB_TERMINAL=console\n'
    text, plan = _fixed_default(tmp_path, before)
    assert text.startswith('GRUB_CMDLINE_LINUX="`cat /proc/cmdline`"\n')
    assert any("too complex" in n for n in plan.notes)
    assert 'GRUB_TERMINAL="serial console"' in text


def test_plus_equals_is_reported_unknown(tmp_path):
    root = _with_default(tmp_path, 'GRUB_CMDLINE_LINUX="ro"\nGRUB_CMDLINE_LINUX+=" quiet"\n')
    st = statuses(report_of(root))
    # the generated grub.cfg is still judged; /etc/default/grub's value cannot be
    assert st["grub.config-applied"] == "unknown"


def test_serial_command_speed_replaced_in_place(tmp_path):
    text, _ = _fixed_default(tmp_path, 'GRUB_CMDLINE_LINUX="console=ttyS0,9600"\n'
                             'GRUB_TERMINAL=serial\nGRUB_SERIAL_COMMAND="serial --speed=9600 '
                             '--unit=0 --word=8 --parity=no --stop=1"\n')
    assert 'GRUB_SERIAL_COMMAND="serial --speed=115200 --unit=0 --word=8 --parity=no --stop=1"' \
        in text
    assert 'GRUB_CMDLINE_LINUX="console=ttyS0,115200n8"' in text


def test_failed_write_restores_everything(tmp_path):
    root = linux_roots.build("rhel-8", "broken", tmp_path / "root")
    before = snapshot(root)
    guest = guest_of(root)
    plan = plan_fix(guest, "ttyS0")
    assert len(plan.changes) >= 3
    calls = []

    def failing(what):
        calls.append(what)
        if len(calls) == 2:         # the second write meets a full disk; the restore does not
            raise OSError(errno.ENOSPC, "No space left on device (injected)")

    observe.install(failing)
    try:
        with pytest.raises(WriteError, match="restored"):
            apply_plan(guest, plan, backup_dir=str(tmp_path / "j"))
    finally:
        observe.uninstall(failing)
    assert len(calls) > 2 and snapshot(root) == before


def test_selinux_labels_survive(tmp_path):
    """RHEL guests enforce SELinux: rewritten files keep their labels, the new link gets one."""
    import os

    # RHEL 7: no console= yet, so the fix enables serial-getty@ttyS0 itself (on RHEL 9 the
    # kernel's console=ttyS0 already makes systemd's generator start it: no link is made).
    root = linux_roots.build("rhel-7", "broken", tmp_path / "root")
    labels = {
        "etc/default/grub": b"system_u:object_r:bootloader_etc_t:s0\0",
        "boot/grub2/grub.cfg": b"system_u:object_r:boot_t:s0\0",
        "etc/systemd/system/getty.target.wants": b"system_u:object_r:systemd_unit_file_t:s0\0",
    }
    try:
        for rel, label in labels.items():
            os.setxattr(root / rel, "security.selinux", label)
    except OSError:
        pytest.skip("this file system cannot store security.selinux")
    guest = guest_of(root)
    journal = apply_plan(guest, plan_fix(guest, "ttyS0"), backup_dir=str(tmp_path / "j"))
    assert os.getxattr(root / "etc/default/grub", "security.selinux") == labels["etc/default/grub"]
    assert (
        os.getxattr(root / "boot/grub2/grub.cfg", "security.selinux")
        == labels["boot/grub2/grub.cfg"]
    )
    link = root / "etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"
    assert os.getxattr(link, "security.selinux", follow_symlinks=False) == \
        labels["etc/systemd/system/getty.target.wants"]
    # Undo rewrites the files once more: the labels must survive that too.
    undo_journal(journal.path)
    assert os.getxattr(root / "etc/default/grub", "security.selinux") == labels["etc/default/grub"]
    assert (
        os.getxattr(root / "boot/grub2/grub.cfg", "security.selinux")
        == labels["boot/grub2/grub.cfg"]
    )


def test_sysvinit_gets_an_inittab_getty(tmp_path):
    import shutil

    root = linux_roots.build("debian-12", "broken", tmp_path / "root")
    shutil.rmtree(root / "usr/lib/systemd")
    (root / "etc/inittab").write_text("id:2:initdefault:\n1:2345:respawn:/sbin/getty 38400 tty1\n")
    report = report_of(root)
    assert statuses(report)["getty.serial"] == "problem"
    guest = guest_of(root)
    assert guest.init == "sysv"
    apply_plan(guest, plan_fix(guest, "ttyS0"), backup_dir=str(tmp_path / "j"))
    inittab = (root / "etc/inittab").read_text()
    assert inittab.endswith("1:2345:respawn:/sbin/getty 38400 tty1\n"
                            "S0:2345:respawn:/sbin/getty -L ttyS0 115200 vt100\n")
    assert statuses(report_of(root))["getty.serial"] == "ok"
    assert plan_fix(guest_of(root), "ttyS0").changes == []


def test_continued_linux_line_is_left_alone(tmp_path):
    root = linux_roots.build("debian-12", "broken", tmp_path / "root")
    cfg = root / "boot/grub/grub.cfg"
    text = cfg.read_text().replace("ro  quiet", "ro \\\n\t\tquiet", 1)
    cfg.write_text(text)
    guest = guest_of(root)
    plan = plan_fix(guest, "ttyS0")
    new = next(c.after.decode() for c in plan.changes if c.path == "/boot/grub/grub.cfg")
    assert "ro \\\n\t\tquiet" in new
    assert any("backslash" in n for n in plan.notes)


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from bcdtool.errors import BcdToolError  # noqa: E402

_grubish = st.lists(st.sampled_from([
    'GRUB_CMDLINE_LINUX="', 'GRUB_CMDLINE_LINUX_DEFAULT=', "GRUB_TERMINAL=", "GRUB_SERIAL_COMMAND=",
    '"', "'", "`x`", "$GRUB_CMDLINE_LINUX", " ", "\n", "quiet", "console=ttyS0", "console=tty0",
    "serial --speed=9600", "console", "+=", "#", "\\", "S=serial\n", "$S"]),
    max_size=30).map("".join)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_grubish)
def test_any_default_grub_plans_or_explains(tmp_path_factory, text):
    root = linux_roots.build("debian-12", "broken", tmp_path_factory.mktemp("g"))
    (root / "etc/default/grub").write_text(text)
    try:
        guest = guest_of(root)
        plan = plan_fix(guest, "ttyS0")
    except BcdToolError:
        return
    for change in plan.changes:
        if change.path == "/etc/default/grub":
            # whatever was there is still there, line by line, unless it was an edited value
            assert change.after.decode().count("\n") >= text.count("\n")


_cfgish = st.lists(st.sampled_from([
    "linux /vmlinuz ", "linux16 /v", "linuxefi", "options ", "kernel /k ", "serial", "--speed=",
    "9600", "terminal_input ", "terminal_output ", "terminal ", "console", "serial ", "gfxterm",
    "$kernelopts", " quiet", " console=ttyS0", " console=tty0", "\n", "\t", "#", "menuentry 'x' {",
    "}", "title t", "kernelopts=", "=", "blscfg", "\\", "splashimage=x"]), max_size=40).map("".join)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_cfgish, _cfgish, _cfgish)
def test_any_boot_files_check_and_fix(tmp_path_factory, cfg, entry, env):
    from bcdtool.linux.rules import evaluate

    root = linux_roots.build("rhel-8", "broken", tmp_path_factory.mktemp("g"))
    (root / "boot/grub2/grub.cfg").write_text(cfg)
    (root / "boot/loader/entries/x.conf").write_text(entry)
    (root / "boot/grub2/grubenv").write_text(("# GRUB Environment Block\n" + env)[:1024])
    (root / "boot/grub/grub.conf").parent.mkdir(parents=True, exist_ok=True)
    (root / "boot/grub/grub.conf").write_text(cfg)
    try:
        guest = guest_of(root)
        evaluate(guest, "ttyS0")
        plan = plan_fix(guest, "ttyS0")
    except BcdToolError:
        return
    if plan.changes:
        apply_plan(guest, plan, backup_dir=str(root.parent / "j"))
        # idempotent even on odd input: a second fix has nothing left to do
        assert plan_fix(guest_of(root), "ttyS0").changes == []
