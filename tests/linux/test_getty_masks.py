"""A getty that does not run, or already runs: systemd masks of the serial getty in every form
systemd reads as one (a link to /dev/null, absolute or relative, or an empty unit file) are never
ok and fix leaves them (with a note); an inittab getty on `/dev/ttyS0` is found, not doubled."""

from __future__ import annotations

import os

import pytest

from fixtures import linux_layouts as L
from fixtures.linux_guests import write
from tests.linux.linux_helpers import fix_root, problems, report_of


@pytest.mark.parametrize("name", ["serial-getty@ttyS0.service", "serial-getty@.service",
                                  "getty.target"])
@pytest.mark.parametrize("form", ["absolute", "relative", "empty"])
def test_masked_getty_is_never_ok(tmp_path, name, form):
    files, links = L.debian_systemd_boot()
    root = write(files, links, tmp_path / "root")
    unit = root / "etc/systemd/system" / name
    unit.parent.mkdir(parents=True, exist_ok=True)
    if form == "absolute":
        os.symlink("/dev/null", unit)
    elif form == "relative":
        os.symlink("../../../dev/null", unit)
    else:
        unit.write_bytes(b"")
    getty = next(f for f in report_of(root).findings if f.id == "getty.serial")
    assert getty.status == "problem" and "masked" in getty.message and f"rm /etc/systemd/" \
        f"system/{name}" in getty.fix
    guest, plan, _ = fix_root(root, tmp_path)
    assert any("the serial getty is masked" in n for n in plan.notes)
    assert not any("getty.target.wants" in c.path for c in plan.changes)   # a link does nothing
    assert "getty.serial" in problems(report_of(root))                      # still not ok


def test_inittab_getty_on_a_dev_path_is_found(tmp_path):
    # agetty takes the port as `ttyS0` or `/dev/ttyS0`: a getty already there is not added twice
    # (two gettys on one port garble the login).
    files, links = L.devuan()
    files["/etc/inittab"] += "S0:2345:respawn:/sbin/agetty -L /dev/ttyS0 115200 vt100\n"
    root = write(files, links, tmp_path / "root")
    getty = next(f for f in report_of(root).findings if f.id == "getty.serial")
    assert getty.status == "ok"
    guest, plan, _ = fix_root(root, tmp_path)
    assert "/etc/inittab" not in [c.path for c in plan.changes]
