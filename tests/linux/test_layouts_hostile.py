"""The new layouts' files made hostile one at a time: a symlink to a host file, a symlink loop,
a FIFO, a 64 MiB sparse file, binary data.  `check` still reports (a warning or a refusal, never a
traceback or a hang), no host file is opened or named, and `fix` writes nothing outside the root.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bcdtool.errors import BcdToolError
from bcdtool.linux.fix import apply_plan, plan_fix
from fixtures import linux_layouts as L
from fixtures import linux_layouts2 as L2
from tests.linux.linux_helpers import guest_of, report_of, snapshot
from tests.linux.test_hostile import opened  # noqa: F401  (the fixture)

#: (layout, guest file) pairs: every file a session-3 reader reads.
TARGETS = [
    ("raspios-12", "/boot/firmware/cmdline.txt"),
    ("raspios-12", "/boot/firmware/config.txt"),
    ("ubuntu-20.04-raspi", "/boot/firmware/syscfg.txt"),
    ("slackware-15", "/etc/lilo.conf"),
    ("debian-12-uboot", "/etc/default/u-boot"),
    ("clear-linux", "/etc/kernel/cmdline.d/10-local.conf"),
    ("arch-uki", "/boot/EFI/Linux/arch-linux.efi"),
    ("arch-uki", "/etc/kernel/uki.conf"),
    ("arch-grub-and-systemd-boot", "/boot/EFI/BOOT/BOOTX64.EFI"),
    ("arch-grub-and-systemd-boot", "/boot/loader/loader.conf"),
    ("photon-5", "/boot/linux-6.1.60-5.ph5-esx.cfg"),
    ("debian-runit", "/etc/sv/getty-ttyS0/run"),
    ("void", "/etc/sv/agetty-ttyS0/conf"),
    ("debian-12-systemd-boot", "/boot/efi/loader/entries/"
     "0f1e2d3c4b5a69788796a5b4c3d2e1f0-6.1.0-17-amd64.conf"),
    ("opensuse-microos", "/etc/fstab"),
    ("armbian-rockchip64", "/boot/boot.scr"),
    ("armbian-rockchip64", "/boot/armbianEnv.txt"),
    ("armbian-rockchip64", "/boot/boot.cmd"),
    ("uboot-script-only", "/boot/boot.scr"),
    ("popos-22.04-kernelstub", "/etc/kernelstub/configuration"),
    ("rhel-9-s390x", "/etc/zipl.conf"),
    ("debian-12-refind", "/boot/refind_linux.conf"),
    ("arch-refind", "/boot/EFI/refind/refind.conf"),
    ("amazonlinux-1", "/boot/grub/menu.lst"),
    ("chimera", "/usr/lib/dinit.d/agetty-ttyS0"),
    ("chimera", "/etc/default/agetty-ttyS0"),
]
KINDS = ("host-link", "loop", "fifo", "huge", "binary")


def _spoil(path: Path, kind: str, host_file: Path) -> None:
    path.unlink()
    if kind == "host-link":
        os.symlink(str(host_file), path)
    elif kind == "loop":
        os.symlink(path.name + ".b", path)
        os.symlink(path.name, path.with_name(path.name + ".b"))
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "huge":
        with open(path, "wb") as f:
            f.truncate(64 * 1024 * 1024)
    else:
        path.write_bytes(b"MZ\x00\xff" * 4096)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name,path", TARGETS, ids=[f"{n}:{p.rsplit('/', 1)[1]}"
                                                    for n, p in TARGETS])
def test_hostile_file_in_new_layouts(tmp_path, opened, name, path, kind):  # noqa: F811
    host = tmp_path / "host"
    host.mkdir()
    secret = host / "secret"
    secret.write_text("HOSTSECRET console=ttyS0,115200n8 enable_uart=1\nBAUD_RATE=9600\n")
    host_before = snapshot(host)
    root = (L2 if name in L2.LAYOUTS else L).build(name, tmp_path / "root")
    if not (root / path.lstrip("/")).exists():
        (root / path.lstrip("/")).write_text("GETTY_BAUD=9600\n")
    _spoil(root / path.lstrip("/"), kind, secret)
    report = report_of(root)
    assert "HOSTSECRET" not in repr(report.to_json())
    assert not [p for p in opened if p.startswith(str(host))]
    guest = guest_of(root)
    try:
        plan = plan_fix(guest, guest.device)
    except BcdToolError as exc:             # a refusal names a next step, never crashes
        assert exc.exit_code in (36,) and "next step" in exc.message
        return
    assert all(not c.path.startswith(str(host)) for c in plan.changes)
    if plan.changes:
        apply_plan(guest, plan, backup_dir=str(tmp_path / "j"))
    assert snapshot(host) == host_before
    assert not [p for p in opened if p.startswith(str(host))]
