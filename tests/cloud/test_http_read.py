"""Read commands on disk images served over HTTP with range requests (a real local server)."""

from __future__ import annotations

import json
import subprocess
from functools import partial

import pytest

from bcdtool.blockdev.detect import open_image
from bcdtool.blockdev.http import HttpDevice
from bcdtool.errors import (AccessDeniedError, ExpiredCredentialError, NetworkError, NotFoundError,
                            UnsupportedError)
from tests.helpers.common import need_tool, run_process
from fixtures import linux_roots
from tests.cloud.cloud_helpers import SECRET_MARK, RangeServer, environment, leaked

FORMATS = ["raw", "vhd-fixed", "vhd-dynamic", "vhdx", "qcow2", "vmdk"]


#: `bcdtool ARGS` as a process (an image read over HTTP; the timeout only catches a hang).
bcdtool = partial(run_process, timeout=300)


def name_of(served, fmt: str) -> str:
    return next(p.name for p in served.iterdir() if p.name.startswith(f"win-{fmt}."))


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_the_same_bytes_over_http(served, windows_raw, fmt):
    raw, disk = windows_raw
    local = open_image(str(served / name_of(served, fmt)))
    with RangeServer(served) as srv:
        remote = open_image(srv.url(name_of(served, fmt)))
        assert remote.size == local.size
        for offset, length in [(0, 4096), (disk.partitions[0].start, 70000),
                               (remote.size - 8192, 8192), (123457, 1)]:
            assert remote.read_at(offset, length) == local.read_at(offset, length)
        remote.close()
    local.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_enum_and_status_over_http_match_the_local_file(served, fmt, tmp_path):
    name = name_of(served, fmt)
    local = bcdtool("enum", served / name, "--json")
    assert local.returncode == 0, local.stderr
    with RangeServer(served) as srv:
        url = srv.url(name)
        remote = bcdtool("enum", url, "--json")
        status = bcdtool("serial-console", "status", url)
        bcdedit = bcdtool("bcdedit", "/store", url, "/enum", "all")
    assert remote.returncode == 0, remote.stderr
    mine, theirs = json.loads(remote.stdout), json.loads(local.stdout)
    assert mine["objects"] == theirs["objects"]
    assert status.returncode == 3 and "[BAD]" in status.stdout      # EMS is off on the fixture
    assert bcdedit.returncode == 0 and "Windows Boot Manager" in bcdedit.stdout
    for proc in (remote, status, bcdedit):
        assert not leaked(SECRET_MARK, proc.stdout, proc.stderr)
    assert srv.requests < 60


def test_doctor_over_http_costs_a_handful_of_requests(served):
    name = name_of(served, "vhd-fixed")
    with RangeServer(served) as srv:
        proc = bcdtool("doctor", srv.url(name), "--json")
    assert proc.returncode == 3, proc.stderr          # EMS off: problems found
    report = json.loads(proc.stdout)
    base = srv.url(name, sas=False)
    files = [e["file"] for f in report["findings"] for e in f["evidence"]]
    assert any(f.startswith(base + ":partition ") for f in files), files   # redacted exactly
    assert any(f["id"] == "ems" or f["status"] == "problem" for f in report["findings"])
    assert not leaked(SECRET_MARK, proc.stdout, proc.stderr)
    assert srv.requests <= 40, srv.requests
    assert srv.bytes_down < 4 * 1024 * 1024, srv.bytes_down


def test_windows_info_and_hive_commands_over_http(served):
    name = name_of(served, "vhdx")
    with RangeServer(served) as srv:
        url = srv.url(name)
        info = bcdtool("windows", "info", url, "--json")
        ls = bcdtool("hive", "ls", url, "Objects", "--json")
        check = bcdtool("hive", "check", url)
        export = bcdtool("hive", "export", url)
        system = bcdtool("hive", "ls", url, "--path", "Windows/System32/config/SYSTEM")
        get = bcdtool("hive", "get", url, "Objects\\{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
                      "\\Description", "Type", "--json")
        forensic = bcdtool("forensic", url, "--json")
    assert forensic.returncode in (0, 3), forensic.stderr
    assert json.loads(forensic.stdout)
    assert get.returncode == 0 and json.loads(get.stdout), get.stderr
    for proc in (info, ls, check, export, system, get):
        assert proc.returncode == 0, proc.stderr
        assert not leaked(SECRET_MARK, proc.stdout, proc.stderr)
    assert "Windows Registry Editor Version 5.00" in export.stdout
    assert json.loads(ls.stdout)


def test_linux_check_over_http(tmp_path):
    need_tool("mkfs.ext4")
    root = linux_roots.build("debian-12", "broken", tmp_path / "root")
    image = tmp_path / "served" / "linux.img"
    image.parent.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(24 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(root), str(image)], check=True)
    local = bcdtool("linux", "check", image, "--json")
    with RangeServer(image.parent) as srv:
        remote = bcdtool("linux", "check", srv.url(image.name), "--json")
    assert remote.returncode == local.returncode == 3, remote.stderr
    assert json.loads(remote.stdout)["findings"] == json.loads(local.stdout)["findings"]
    assert not leaked(SECRET_MARK, remote.stdout, remote.stderr)


# -- refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, error, code", [
    ("403", AccessDeniedError, 33),
    ("expired", ExpiredCredentialError, 34),
    ("404", NotFoundError, 15),
    ("norange", UnsupportedError, 17),
])
def test_server_refusals_have_their_own_errors(served, mode, error, code, tmp_path):
    name = name_of(served, "raw")
    with RangeServer(served, mode) as srv:
        url = srv.url(name)
        if mode == "expired":       # what Azure answers once a SAS's se= time has passed
            url = url.replace("se=2099", "se=2020")
        with pytest.raises(error) as caught:
            HttpDevice(url)
        proc = bcdtool("enum", url, env=environment(XDG_STATE_HOME=str(tmp_path / "s")))
    assert proc.returncode == code, proc.stderr
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert not leaked(SECRET_MARK, proc.stderr, str(caught.value))
    assert srv.url(name).split("?")[0] in proc.stderr      # the redacted URL is named
    if mode == "norange":
        assert srv.bytes_down < 8 * 1024 * 1024            # hung up instead of downloading


def test_expired_sas_is_recognised_from_its_se_field(served):
    name = name_of(served, "raw")
    with RangeServer(served, "403") as srv:
        url = srv.url(name).replace("se=2099", "se=2001")
        with pytest.raises(ExpiredCredentialError, match="se=2001"):
            HttpDevice(url)


def test_transient_500s_are_retried(served):
    name = name_of(served, "raw")
    with RangeServer(served, "flaky", failures=2) as srv:
        dev = HttpDevice(srv.url(name))
        assert dev.read_at(0, 512)[510:512] == b"\x55\xaa"
        assert srv.requests == 3
    with RangeServer(served, "flaky", failures=10) as srv:
        with pytest.raises(NetworkError, match="HTTP 500"):
            HttpDevice(srv.url(name))
        assert srv.requests == 3                   # BCDTOOL_HTTP_RETRIES=2: bounded


def test_connection_cut_mid_body_is_retried(served):
    name = name_of(served, "raw")
    with RangeServer(served, "cut", failures=1) as srv:
        dev = HttpDevice(srv.url(name))
        assert len(dev.read_at(0, 4096)) == 4096
        assert srv.requests == 2


def test_slow_server_times_out_with_a_clear_error(served, monkeypatch, tmp_path):
    name = name_of(served, "raw")
    with RangeServer(served, "slow", delay=3) as srv:
        proc = bcdtool("enum", srv.url(name), env=environment(
            BCDTOOL_HTTP_TIMEOUT="0.5", BCDTOOL_HTTP_RETRIES="1",
            XDG_STATE_HOME=str(tmp_path / "s")))
    assert proc.returncode == 35, proc.stderr
    assert "timed out" in proc.stderr and not leaked(SECRET_MARK, proc.stderr)


def test_reads_are_cached_in_aligned_blocks(served):
    name = name_of(served, "raw")
    with RangeServer(served) as srv:
        dev = HttpDevice(srv.url(name))
        first = srv.requests
        dev.read_at(100, 1000)
        dev.read_at(60000, 5000)            # within the first 64 KiB block: cached
        assert srv.requests == first
        dev.read_at(10 * 65536 + 5, 3 * 65536)     # four missing blocks: one request
        assert srv.requests == first + 1
        assert dev.traffic.requests == srv.requests


def test_qcow2_backing_and_vmdk_descriptor_are_refused_over_http(tmp_path, windows_raw):
    raw, _ = windows_raw
    base = tmp_path / "base.qcow2"
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(base)], check=True)
    child = tmp_path / "child.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
                    str(child)], check=True)
    flat = tmp_path / "flat.vmdk"
    subprocess.run(["qemu-img", "convert", "-O", "vmdk", "-o", "subformat=monolithicFlat",
                    str(raw), str(flat)], check=True)
    with RangeServer(tmp_path) as srv:
        with pytest.raises(UnsupportedError, match="backing files are not fetched"):
            open_image(srv.url("child.qcow2"))
        with pytest.raises(UnsupportedError, match="VMDK descriptor"):
            open_image(srv.url("flat.vmdk"))


def test_writing_a_plain_http_url_is_refused(served, tmp_path):
    name = name_of(served, "vhd-fixed")
    (tmp_path / "container").mkdir()
    (tmp_path / "container" / "disk.vhd").symlink_to(served / name)
    for root, path in [(served, name), (tmp_path, "container/disk.vhd")]:
        with RangeServer(root) as srv:     # not Azure: no blob URL, then no blob properties
            proc = bcdtool("serial-console", "enable", srv.url(path),
                           env=environment(XDG_STATE_HOME=str(tmp_path / "s")))
        assert proc.returncode == 17, proc.stderr
        assert "only Azure page blobs" in proc.stderr and not leaked(SECRET_MARK, proc.stderr)
