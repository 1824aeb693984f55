"""The REAL files of fixtures/linux_layouts.py are what Debian ships: fetched again with
`apt-get download` (skipped when the mirrors cannot be reached), unpacked with dpkg-deb, compared
byte for byte, and read by bcdtool's own readers.  Slow tier (network)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bcdtool.linux import inittab, shell
from fixtures import linux_layouts as L

pytestmark = pytest.mark.slow

#: package -> {path inside the package: fixture text}
EXPECTED = {
    "grub2-common": {"usr/share/grub/default/grub": L.DEBIAN_GRUB_DEFAULT},
    "sysvinit-core": {"usr/share/sysvinit/inittab": L.SYSVINIT_INITTAB},
    "u-boot-menu": {"etc/default/u-boot": L.UBOOT_DEFAULT},
    "getty-run": {"etc/sv/getty-ttyS0/run": L.GETTY_RUN_TTYS0,
                  "etc/sv/getty-tty1/run": L.GETTY_RUN_TTY1},
}


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory) -> Path:
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("apt-get/dpkg-deb not available")
    work = tmp_path_factory.mktemp("debs")
    done = subprocess.run(["apt-get", "download", *EXPECTED], cwd=work, capture_output=True,
                          text=True, timeout=300)
    debs = sorted(work.glob("*.deb"))
    if done.returncode != 0 or len(debs) != len(EXPECTED):
        pytest.skip(f"Debian mirrors not reachable: {done.stderr.strip()[:200]}")
    out = work / "x"
    out.mkdir()
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(out / deb.name.split("_")[0])],
                       check=True)
    return out


@pytest.mark.parametrize("package", sorted(EXPECTED))
def test_fixture_files_are_the_packaged_ones(unpacked, package):
    for path, text in EXPECTED[package].items():
        assert (unpacked / package / path).read_text() == text, (package, path)


def test_getty_run_links_are_relative_as_fix_writes_them(unpacked):
    link = unpacked / "getty-run/etc/runit/runsvdir/default/getty-tty1"
    assert link.is_symlink() and link.readlink() == Path("../../../sv/getty-tty1")
    assert (unpacked / "getty-run/etc/runit/runsvdir/solo/getty-ttyS0").is_symlink()


def test_readers_on_the_packaged_files(unpacked):
    env = shell.parse([("/etc/default/grub", (unpacked / "grub2-common/usr/share/grub/default/"
                                              "grub").read_text())])
    assert env.values["GRUB_CMDLINE_LINUX_DEFAULT"] == "quiet"
    assert env.values["GRUB_DISTRIBUTOR"] is None          # a command: unknown, never guessed
    tab = (unpacked / "sysvinit-core/usr/share/sysvinit/inittab").read_text()
    assert inittab.getty_on(tab, "ttyS0", busybox=False) is None   # the serial lines are comments
    assert {"1", "2", "T0"} & inittab.ids(tab) == {"1", "2"}
    uboot = shell.parse([("/etc/default/u-boot", (unpacked / "u-boot-menu/etc/default/u-boot")
                          .read_text())])
    assert uboot.last("U_BOOT_PARAMETERS") is None
