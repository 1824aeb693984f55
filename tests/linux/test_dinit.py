"""dinit (Chimera Linux): a getty is a service file (/usr/lib/dinit.d or /etc/dinit.d
agetty-PORT) enabled by a link in /etc/dinit.d/boot.d, named like the service (dinit reads only
the name); its speed is GETTY_BAUD in /etc/default/agetty-PORT."""

from __future__ import annotations

import os

import pytest

from bcdtool.errors import UnfixableGuestError
from bcdtool.linux.fix import plan_fix
from bcdtool.ops.undo import undo
from fixtures import linux_layouts2 as L2
from fixtures.linux_guests import write
from tests.linux.linux_helpers import (fix_root, guest_of, problems, report_of, snapshot,
                                       statuses)


def test_chimera_enables_agetty_like_dinitctl(tmp_path):
    root = L2.build("chimera", tmp_path / "root")
    assert report_of(root).extra["init"] == "dinit"
    fix_root(root, tmp_path)
    link = root / "etc/dinit.d/boot.d/agetty-ttyS0"
    assert os.readlink(link) == "../../../usr/lib/dinit.d/agetty-ttyS0"
    assert statuses(report_of(root))["getty.serial"] == "ok"


def test_chimeras_own_dangling_name_link_counts(tmp_path):
    """Chimera's live scripts link `../agetty-ttyS0` even when the file is in /usr/lib/dinit.d:
    dinit finds the service by name, so the getty runs."""
    root = write(*L2.chimera(enabled=("agetty-tty1", "agetty-ttyS0")), tmp_path / "root")
    getty = next(f for f in report_of(root).findings if f.id == "getty.serial")
    assert getty.status == "ok" and "agetty-ttyS0" in getty.message


def test_getty_baud_is_checked_and_fixed(tmp_path):
    files, links = L2.chimera(enabled=("agetty-tty1", "agetty-ttyS0"))
    files["/etc/default/agetty-ttyS0"] = "GETTY_BAUD=9600\nGETTY_TERM=vt100\nGETTY_ARGS='-L'\n"
    root = write(files, links, tmp_path / "root")
    before = snapshot(root)
    # (The getty's speed is compared with the kernel console's, which has none yet.)
    assert "getty.serial" not in problems(report_of(root))
    _, _, journal = fix_root(root, tmp_path)
    assert (root / "etc/default/agetty-ttyS0").read_text().startswith("GETTY_BAUD=115200\n")
    assert problems(report_of(root)) == set()
    assert plan_fix(guest_of(root), "ttyS0").changes == []
    conf = root / "etc/default/agetty-ttyS0"
    conf.write_text(conf.read_text().replace("115200", "9600"))       # garbled again
    getty = next(f for f in report_of(root).findings if f.id == "getty.serial")
    assert getty.status == "problem" and "9600" in getty.message
    conf.write_text(conf.read_text().replace("9600", "115200"))
    undo(journal.path)
    assert snapshot(root) == before


def test_a_port_without_a_service_is_refused_naming_dinit(tmp_path):
    root = L2.build("chimera", tmp_path / "root")
    before = snapshot(root)
    report = report_of(root, "ttyS3")
    why = next(f for f in report.findings if f.id == "dinit.service")
    assert "/etc/dinit.d/agetty-ttyS3" in why.fix and report.extra["fixable"] is False
    with pytest.raises(UnfixableGuestError) as exc:
        plan_fix(guest_of(root, "ttyS3"), "ttyS3")
    assert exc.value.exit_code == 36 and snapshot(root) == before


@pytest.mark.parametrize("name,init,step", [("artix-s6", "s6", "s6-rc"),
                                            ("obarun-66", "66", "66 enable")])
def test_the_s6_family_is_named_and_its_getty_left_to_the_user(tmp_path, name, init, step):
    """s6-rc and 66 start services from a compiled database bcdtool does not write: the
    getty finding is unknown (never ok) and names the init's own step; fix edits the boot
    configuration and says so."""
    root = L2.build(name, tmp_path / "root")
    report = report_of(root)
    assert report.extra["init"] == init
    getty = next(f for f in report.findings if f.id == "getty.serial")
    assert getty.status == "unknown" and step in getty.fix and "systemd" not in getty.fix
    _, plan, _ = fix_root(root, tmp_path)
    assert any(n.startswith(f"{init}: no getty enabled") for n in plan.notes)
    assert not any("dinit" in c.path or "s6" in c.path for c in plan.changes)


def test_s6_installed_beside_systemd_is_still_systemd(tmp_path):
    files, links = L2.debian_refind()
    files.update({"/usr/bin/s6-svscan": b"\x7fELF", "/etc/s6/sv/x/type": "longrun\n"})
    root = write(files, links, tmp_path / "root")
    assert report_of(root).extra["init"] == "systemd"
