"""Hostile guests: symlinks that point out of the root, loops, huge, binary and special files."""

from __future__ import annotations

import builtins
import os
from pathlib import Path

import pytest

from bcdtool.errors import GuestError
from bcdtool.linux.fix import apply_plan, plan_fix
from bcdtool.linux.paths import open_directory
from bcdtool.write import journal as journals
from fixtures import linux_roots
from tests.linux.linux_helpers import guest_of, report_of, snapshot, statuses


@pytest.fixture
def opened(monkeypatch):
    """Every path bcdtool opens (os.open and open), to prove host files stay unread."""
    seen: list[str] = []
    real_os_open, real_open = os.open, builtins.open

    def spy_os_open(path, *a, **k):
        base = f"/proc/self/fd/{k['dir_fd']}" if k.get("dir_fd") is not None else None
        full = os.path.join(os.readlink(base), path) if base else path
        seen.append(os.path.realpath(full))
        return real_os_open(path, *a, **k)

    def spy_open(file, *a, **k):
        if not isinstance(file, int):
            seen.append(os.path.realpath(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(os, "open", spy_os_open)
    monkeypatch.setattr(builtins, "open", spy_open)
    return seen


def _host_secret(tmp_path: Path) -> Path:
    host = tmp_path / "host"
    (host / "etc/default").mkdir(parents=True)
    secret = host / "etc/default/grub"
    secret.write_text('GRUB_CMDLINE_LINUX="HOSTSECRET console=ttyS0,115200n8"\n')
    (host / "grub.cfg").write_text("menuentry 'host' {\n\tlinux /vmlinuz HOSTSECRET\n}\n")
    return host


def test_resolve_stays_inside(tmp_path):
    root = tmp_path / "g"
    (root / "etc").mkdir(parents=True)
    (root / "etc/real").write_text("inside")
    os.symlink("/etc/real", root / "etc/abs")
    os.symlink("../../../../../../etc/real", root / "etc/rel")
    os.symlink("/", root / "etc/toroot")
    os.symlink("loop2", root / "etc/loop1")
    os.symlink("loop1", root / "etc/loop2")
    g = open_directory(str(root))
    assert g.resolve("/etc/abs") == ("etc", "real")
    assert g.resolve("/etc/rel") == ("etc", "real")
    assert g.resolve("/etc/toroot/etc/real") == ("etc", "real")
    assert g.resolve("/../../etc/./real") == ("etc", "real")
    assert g.read("/etc/abs") == b"inside"
    with pytest.raises(GuestError):
        g.resolve("/etc/loop1")
    assert g.host_path("/etc/toroot/etc/abs") == str(root / "etc/real")


def test_long_symlink_chain_is_bounded(tmp_path):
    root = tmp_path / "g"
    root.mkdir()
    for i in range(60):
        os.symlink(f"l{i + 1}", root / f"l{i}")
    (root / "l60").write_text("end")
    g = open_directory(str(root))
    with pytest.raises(GuestError, match="too many symbolic links"):
        g.read("/l0")
    assert g.read("/l30") == b"end"


def test_escaping_symlinks_never_reach_host_files(tmp_path, opened):
    host = _host_secret(tmp_path)
    before = snapshot(host)
    root = linux_roots.build("debian-12", "broken", tmp_path / "g")
    (root / "etc/default/grub").unlink()
    os.symlink(str(host / "etc/default/grub"), root / "etc/default/grub")        # absolute
    (root / "boot/grub/grub.cfg").unlink()
    os.symlink("../" * 12 + str(host / "grub.cfg").lstrip("/"), root / "boot/grub/grub.cfg")
    os.symlink(str(host), root / "etc/default/grub.d")                           # a folder
    report = report_of(root)
    text = repr(report.to_json())
    assert "HOSTSECRET" not in text
    assert not [p for p in opened if p.startswith(str(host))]
    # nothing of the host was taken as the guest's config
    guest = guest_of(root)
    assert guest.grub_files == [] and guest.grub_cfgs == []
    plan = plan_fix(guest, "ttyS0")
    apply_plan(guest, plan, backup_dir=str(tmp_path / "j"))
    assert snapshot(host) == before
    assert not [p for p in opened if p.startswith(str(host))]


def test_fix_through_hostile_wants_folder_stays_in_guest(tmp_path):
    host = _host_secret(tmp_path)
    before = snapshot(host)
    root = linux_roots.build("debian-12", "broken", tmp_path / "g")
    wants = root / "etc/systemd/system/getty.target.wants"
    wants.rmdir()
    os.symlink(str(host), wants)   # absolute: means <guest>/<host path>, never the host
    guest = guest_of(root)
    journal = apply_plan(guest, plan_fix(guest, "ttyS0"), backup_dir=str(tmp_path / "j"))
    assert snapshot(host) == before
    made = root / str(host).lstrip("/") / "serial-getty@ttyS0.service"
    assert made.is_symlink()
    assert journal.sink["root"] == os.path.realpath(root)
    assert all(journals.inside_target(e.file) for e in journal.entries)


def test_hostile_files_become_findings(tmp_path):
    root = linux_roots.build("ubuntu-22.04", "correct", tmp_path / "g")
    # binary data, an oversized grub.cfg, a FIFO and a symlink loop
    (root / "etc/default/grub.d/50-cloudimg-settings.cfg").write_bytes(b"GRUB\x00\xff" * 100)
    cfg = root / "boot/grub/grub.cfg"
    with open(cfg, "ab") as f:
        f.truncate(5 * 1024 * 1024)
    os.mkfifo(root / "etc/default/grub.d/60-fifo.cfg")
    os.symlink("99-loop.cfg", root / "etc/default/grub.d/98-loop.cfg")
    os.symlink("98-loop.cfg", root / "etc/default/grub.d/99-loop.cfg")
    report = report_of(root)
    files = next(f for f in report.findings if f.id == "guest.files")
    assert files.status == "warning"
    flagged = {e.file: e.note for e in files.evidence}
    assert "binary" in flagged["/etc/default/grub.d/50-cloudimg-settings.cfg"]
    assert "larger than" in flagged["/boot/grub/grub.cfg"]
    assert "not a regular file" in flagged["/etc/default/grub.d/60-fifo.cfg"]
    assert "symbolic links" in flagged["/etc/default/grub.d/98-loop.cfg"]


def test_shadow_symlinked_to_host_is_not_read(tmp_path, opened):
    host = tmp_path / "hostshadow"
    host.write_text("root:$6$HOSTHASH$xyz:1:0:99999:7:::\n")
    root = linux_roots.build("debian-12", "correct", tmp_path / "g")
    (root / "etc/shadow").unlink()
    os.symlink(str(host), root / "etc/shadow")
    report = report_of(root)
    assert statuses(report)["login.password"] == "unknown"
    assert str(host) not in opened and "HOSTHASH" not in repr(report.to_json())


def test_backend_never_follows_a_symlink_swapped_in_after_resolution(tmp_path):
    """If a folder becomes a symlink between resolving and opening, the open fails."""
    from bcdtool.linux.paths import DirectoryFS

    host = _host_secret(tmp_path)
    root = tmp_path / "g"
    (root / "etc").mkdir(parents=True)
    fs = DirectoryFS(str(root))
    (root / "etc").rmdir()
    os.symlink(str(host / "etc"), root / "etc")       # the swap
    with pytest.raises(GuestError):
        fs.read(("etc", "default", "grub"), 1 << 20)
