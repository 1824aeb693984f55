"""`forensic` opens nothing for writing (syscall trace) on file, folder and image targets, and its
report names every byte read with its sha256 and is byte-identical for the same input."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys

import pytest

from tests.helpers.common import loop_device, need_tool
from fixtures import images
from tests.forensic.forensic_helpers import bcdtool
from tests.helpers.common import sha as _sha

STORE = "win11-uefi-installed-2025.bcd"
LOGS = (".LOG", ".LOG1")
_WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND")


def _folder(corpus, tmp_path):
    boot = tmp_path / "esp" / "EFI" / "Microsoft" / "Boot"
    boot.mkdir(parents=True)
    shutil.copyfile(corpus / "bcd" / STORE, boot / "BCD")
    for suffix in LOGS:
        shutil.copyfile(corpus / "bcd" / (STORE + suffix), boot / ("BCD" + suffix))
    return tmp_path / "esp"


def _image(corpus, tmp_path):
    logs = {f"EFI/Microsoft/Boot/BCD{s}": (corpus / "bcd" / (STORE + s)).read_bytes()
            for s in LOGS}
    return images.build_esp_disk(tmp_path / "disk.img", (corpus / "bcd" / STORE).read_bytes(),
                                 extra_files=logs)


def _opens(trace: str) -> list[str]:
    return [line for line in trace.splitlines() if re.search(r"\b(open|openat|openat2|creat)\(",
                                                              line)]


@pytest.mark.parametrize("kind", ["file", "folder", "image", "device"])
def test_no_open_for_writing_under_strace(corpus, tmp_path, kind):
    need_tool("strace")
    with contextlib.ExitStack() as stack:
        _traced_run(corpus, tmp_path, kind, stack)


def _traced_run(corpus, tmp_path, kind, stack) -> None:
    if kind == "file":
        target = tmp_path / "BCD"
        shutil.copyfile(corpus / "bcd" / STORE, target)
        for suffix in LOGS:
            shutil.copyfile(corpus / "bcd" / (STORE + suffix), tmp_path / ("BCD" + suffix))
    elif kind == "folder":
        target = _folder(corpus, tmp_path)
    elif kind == "image":
        target = _image(corpus, tmp_path).path
    else:
        # attached read-write: bcdtool could write through it; it must not
        target = stack.enter_context(loop_device(_image(corpus, tmp_path).path))
    trace = tmp_path / "trace.txt"
    run = subprocess.run(["strace", "-f", "-qq", "-e", "trace=open,openat,openat2,creat", "-o",
                          str(trace), sys.executable, "-m", "bcdtool", "forensic", str(target),
                          "--timeline", "--history", "--deleted", "--json"],
                         capture_output=True, text=True, timeout=300,
                         env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin",
                              "HOME": str(tmp_path)})
    assert run.returncode in (0, 3), run.stderr
    opens = _opens(trace.read_text())
    name = {"image": "disk.img", "device": str(target)}.get(kind, "BCD")
    assert any(name in line for line in opens), "the trace saw no open of the target"
    writes = [line for line in opens if _WRITE_FLAGS.search(line)]
    assert writes == []
    doc = json.loads(run.stdout)
    assert doc["schema"] == "bcdtool.forensic/1"


def test_integrity_of_an_image_names_partition_extents_and_digests(corpus, tmp_path):
    disk = _image(corpus, tmp_path)
    run = bcdtool("forensic", disk.path, "--json", "--generated-at", "2026-01-01T00:00:00Z")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    integrity = doc["integrity"]
    assert integrity["tool"] == "bcdtool" and integrity["version"]
    loc = integrity["location"]
    assert (loc["partition"], loc["partition_start"], loc["filesystem"]) == \
        (1, disk.bcd_part.start, "fat")
    raw = disk.path.read_bytes()
    roles = {}
    for f in integrity["files"]:
        data = b"".join(raw[off:off + n] for off, n in f["extents"])[:f["size"]]
        assert _sha(data) == f["sha256"]
        roles[f["name"]] = f
    assert roles["BCD"]["sha256"] == _sha((corpus / "bcd" / STORE).read_bytes())
    reads = integrity["disk_reads"]
    assert reads == sorted(reads, key=lambda r: r["offset"])
    for r in reads:
        assert _sha(raw[r["offset"]:r["offset"] + r["length"]]) == r["sha256"]
    covered = {(r["offset"], r["offset"] + r["length"]) for r in reads}
    for f in integrity["files"]:
        for off, n in f["extents"]:
            assert any(lo <= off and off + n <= hi for lo, hi in covered), (f["name"], off)
    assert any(r["offset"] == 0 for r in reads)        # the partition table was read too
    for suffix in LOGS:
        assert roles["BCD" + suffix]["sha256"] == _sha((corpus / "bcd" / (STORE + suffix))
                                                       .read_bytes())
        assert roles["BCD" + suffix]["role"] == "log"


def test_same_input_same_bytes(corpus, tmp_path):
    target = _folder(corpus, tmp_path)
    args = ("forensic", target, "--timeline", "--history", "--deleted")
    first = bcdtool(*args, "--json", "--generated-at", "2026-01-01T00:00:00Z")
    second = bcdtool(*args, "--json", "--generated-at", "2026-01-01T00:00:00Z")
    assert first.stdout == second.stdout and first.stdout
    text = [bcdtool(*args, "--generated-at", "T").stdout for _ in range(2)]
    assert text[0] == text[1]
    unpinned = json.loads(bcdtool(*args, "--json").stdout)
    pinned = json.loads(first.stdout)
    assert unpinned.pop("generated_at") != pinned.pop("generated_at")
    assert unpinned == pinned


def test_file_digests_match_the_files(corpus):
    run = bcdtool("forensic", corpus / "bcd" / STORE, "--json")
    doc = json.loads(run.stdout)
    files = {f["name"]: f for f in doc["integrity"]["files"]}
    for name, f in files.items():
        data = (corpus / "bcd" / name).read_bytes()
        assert (f["size"], f["sha256"], f["extents"]) == (len(data), _sha(data), [[0, len(data)]])
    assert set(files) == {STORE, STORE + ".LOG", STORE + ".LOG1"}


def test_exit_codes_and_text(corpus, tmp_path):
    tampered = bcdtool("forensic", corpus / "bcd" / "win10-uefi-dualboot-testsigning.bcd")
    assert tampered.returncode == 3
    assert "[HIGH  ] bcd.test-signing [T1553.006]" in tampered.stdout
    clean = bcdtool("forensic", corpus / "bcd" / "win10-media-uefi-x64.bcd")
    assert clean.returncode == 0, clean.stderr
    missing = bcdtool("forensic", tmp_path / "nothing")
    assert missing.returncode == 15 and missing.stderr.count("\n") == 1
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"regf" + bytes(100))
    bad = bcdtool("forensic", garbage)
    assert bad.returncode not in (0, 1, 3) and "Traceback" not in bad.stderr


@pytest.mark.parametrize("fmt", ["vhd-dynamic", "vhdx", "qcow2", "vmdk"])
def test_image_formats_give_the_same_report(corpus, tmp_path, fmt):
    disk = _image(corpus, tmp_path)
    converted = images.convert(disk.path, fmt)
    args = ("--json", "--timeline", "--history", "--deleted", "--generated-at", "T")
    raw_doc = json.loads(bcdtool("forensic", disk.path, *args).stdout)
    doc = json.loads(bcdtool("forensic", converted, *args).stdout)
    for key in ("findings", "timeline", "history", "deleted", "hive"):
        assert doc[key] == raw_doc[key], key
    assert doc["integrity"]["files"] == raw_doc["integrity"]["files"]
    assert doc["integrity"]["disk_reads"] == raw_doc["integrity"]["disk_reads"]
    assert doc["integrity"]["location"]["format"] != raw_doc["integrity"]["location"]["format"]


def test_bios_disk_with_ntfs_system_reserved(corpus, tmp_path):
    name = "win81-bios-installed-sysreserved.bcd"
    store = (corpus / "bcd" / name).read_bytes()
    log = (corpus / "bcd" / (name + ".LOG")).read_bytes()
    disk = images.build_mbr_disk(tmp_path / "bios.img", store, extra_files={"Boot/BCD.LOG": log})
    run = bcdtool("forensic", disk.path, "--json", "--timeline", "--history")
    assert run.returncode == 3, run.stderr            # recoveryenabled No
    doc = json.loads(run.stdout)
    loc = doc["integrity"]["location"]
    assert (loc["scheme"], loc["filesystem"], loc["path"]) == ("mbr", "ntfs", "Boot/BCD")
    files = {f["name"]: f for f in doc["integrity"]["files"]}
    assert files["BCD"]["sha256"] == _sha(store) and files["BCD.LOG"]["sha256"] == _sha(log)
    assert {f["id"] for f in doc["findings"] if f["severity"] == "high"} == \
        {"bcd.recovery-disabled"}
    assert [e["sequence"] for e in doc["timeline"] if e["kind"] == "log-entry"] == [13]
