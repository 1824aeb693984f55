#!/usr/bin/env python3
"""`serial-console enable` on a 127 GiB Azure page blob in Azurite, against copying the blob.

The disk is Azure-like: a 127 GiB fixed VHD (GPT, FAT32 ESP with a real Windows store, NTFS
Windows partition with SYSTEM/SOFTWARE hives), uploaded to Azurite as a page blob (only its data
pages are written, as Azure stores disks).  bcdtool runs as a user would (its own process) with
a SAS URL that goes through a counting HTTP proxy on 127.0.0.1, which reports the requests and
the body bytes each way (headers separately): the whole cost of the command, reads for the plan,
lease, Put Pages, and the verification re-read through a fresh connection.

Baseline: download the whole blob, edit it, upload it whole (what a script without bcdtool does:
az storage blob download / upload).  Copying 127 GiB twice through Azurite would take an hour
here, so the baseline's wall time is measured on a 1 GiB blob (same layout) through the same
proxy and scaled linearly to 127 GiB; its byte counts are exact (the blob's size, each way).

Usage: `.venv/bin/python bench/cloud_pageblob.py` (bench/run runs it).  Needs npm (Azurite),
the corpus (../shared/corpus), sfdisk, mkfs.fat, mtools, ntfs-3g and qemu-img.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from azure.storage.blob import BlobClient  # noqa: E402

from fixtures import images, windows_hives  # noqa: E402
from fixtures.azurite import Azurite, CountingProxy, ensure_azurite  # noqa: E402

STORE = REPO.parent / "shared" / "corpus" / "bcd" / "win10-uefi-installed-systemd-boot.bcd"
GiB = 1024 ** 3
MiB = 1024 ** 2
KiB = 1024
SIZE = 127 * GiB
BASELINE = 1 * GiB
GOALS = {"down": 1 * MiB, "up": 16 * KiB, "requests": 30, "ratio": 100}


def disk(folder: Path, size: int) -> Path:
    """A fixed VHD of `size` bytes (plus its footer) with the Azure-like Windows layout."""
    raw = images.build_esp_disk(
        folder / f"disk-{size // GiB}g.img", STORE.read_bytes(), disk_size=size,
        windows_files=images.windows_hive_files(windows_hives.system_hive(),
                                                windows_hives.software_hive())).path
    return images.convert(raw, "vhd-fixed", folder)


def run_enable(url: str, state: Path) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ, XDG_STATE_HOME=str(state))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bcdtool", "serial-console", "enable", url,
                           "--json"], capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bcdtool failed ({proc.returncode}): {proc.stderr}")
    return proc, wall


def baseline(azurite: Azurite, proxy: CountingProxy, vhd: Path, work: Path) -> dict:
    """Download the whole blob, then upload it whole, through the proxy (the edit in between
    costs nothing next to that)."""
    azurite.upload_page_blob("vhds", "small.vhd", vhd)
    url = proxy.url(azurite.sas_url("vhds", "small.vhd"))
    client = BlobClient.from_blob_url(url, max_single_get_size=4 * MiB, max_chunk_get_size=4 * MiB)
    proxy.reset()
    start = time.perf_counter()
    copy = work / "copy.vhd"
    with copy.open("wb") as handle:
        client.download_blob(max_concurrency=2).readinto(handle)
    down_seconds = time.perf_counter() - start
    up = BlobClient.from_blob_url(proxy.url(azurite.sas_url("vhds", "small-copy.vhd")))
    up.create_page_blob(copy.stat().st_size)
    with copy.open("rb") as handle:
        pos = 0
        while chunk := handle.read(4 * MiB):
            up.upload_page(chunk, offset=pos, length=len(chunk))
            pos += len(chunk)
    wall = time.perf_counter() - start
    return {"size": vhd.stat().st_size, "requests": proxy.requests, "down": proxy.down,
            "up": proxy.up, "seconds": wall, "down_seconds": down_seconds}


def main() -> int:
    launcher = ensure_azurite()
    if launcher is None:
        print(f"skipped: {ensure_azurite.why}")
        return 0
    with tempfile.TemporaryDirectory(prefix="bcdtool-cloud-bench-") as tmp:
        work = Path(tmp)
        azurite = Azurite(launcher, work)
        proxy = CountingProxy(azurite.port)
        try:
            vhd = disk(work, SIZE)
            blob = vhd.stat().st_size
            start = time.perf_counter()
            azurite.upload_page_blob("vhds", "big.vhd", vhd)
            upload_seconds = time.perf_counter() - start
            url = proxy.url(azurite.sas_url("vhds", "big.vhd"))
            proxy.reset()
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "bcdtool", "doctor", url], capture_output=True,
                           env=dict(os.environ, XDG_STATE_HOME=str(work / "state")), cwd=REPO)
            doctor = {"requests": proxy.requests, "down": proxy.down,
                      "seconds": time.perf_counter() - start}
            proxy.reset()
            proc, wall = run_enable(url, work / "state")
            if os.environ.get("BENCH_VERBOSE"):
                print("\n".join(proxy.log))
            doc = json.loads(proc.stdout)
            ours = {"requests": proxy.requests, "down": proxy.down, "up": proxy.up,
                    "headers": proxy.headers, "methods": dict(proxy.methods), "seconds": wall,
                    "changes": len(doc["changes"]), "verified": doc["write"]["verified"]}
            proxy.reset()
            again, again_wall = run_enable(url, work / "state")
            second = {"requests": proxy.requests, "down": proxy.down, "up": proxy.up,
                      "seconds": again_wall}
            base = baseline(azurite, proxy, disk(work, BASELINE), work)
        finally:
            proxy.close()
            azurite.stop()
    scale = blob / base["size"]
    base_bytes = 2 * blob                          # the whole blob down, then up
    ours_bytes = ours["down"] + ours["up"]
    ratio = base_bytes / ours_bytes
    print(f"serial-console enable on a {blob / GiB:.0f} GiB page blob (fixed VHD, GPT, ESP + NTFS "
          f"Windows) in Azurite, through a counting proxy; blob upload for the setup "
          f"{upload_seconds:.1f} s")
    methods = ", ".join(f"{k} {v}" for k, v in sorted(ours["methods"].items()))
    print(f"bcdtool:  {ours['requests']} requests ({methods}), "
          f"{ours['down']:,} bytes down, {ours['up']:,} bytes up (bodies; headers "
          f"{ours['headers']:,} bytes), {ours['seconds']:.2f} s wall, {ours['changes']} "
          f"change(s), verified={ours['verified']}")
    print(f"doctor:   {doctor['requests']} requests, {doctor['down']:,} bytes down, "
          f"{doctor['seconds']:.2f} s (before the fix; read-only)")
    print(f"again:    {second['requests']} requests, {second['down']:,} bytes down, "
          f"{second['up']:,} bytes up, {second['seconds']:.2f} s (nothing to change)")
    print(f"baseline: download + upload of the whole blob: {base_bytes:,} bytes "
          f"({blob:,} each way); wall time measured on a {base['size'] / GiB:.0f} GiB blob: "
          f"{base['seconds']:.1f} s ({base['requests']} requests), x{scale:.0f} = "
          f"{base['seconds'] * scale / 60:.0f} min for {blob / GiB:.0f} GiB (linear scaling, "
          "not measured at full size)")
    print(f"data ratio baseline / bcdtool: {ratio:,.0f}x; wall-time ratio (scaled): "
          f"{base['seconds'] * scale / ours['seconds']:,.0f}x")
    checks = [("down < 1 MiB", ours["down"] < GOALS["down"]),
              ("up < 16 KiB", ours["up"] < GOALS["up"]),
              ("requests < 30", ours["requests"] < GOALS["requests"]),
              (">= 100x less data", ratio >= GOALS["ratio"])]
    print("goals: " + ", ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in checks))
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
