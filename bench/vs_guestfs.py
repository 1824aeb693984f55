"""Benchmark: wall time of `bcdedit /ems {default} on` inside a disk image, bcdtool vs libguestfs.

Both run as whole processes on their own copy of the same GPT disk image (FAT32 ESP with a real
Windows store): bcdtool as `python -m bcdtool bcdedit --store IMAGE /ems {default} on` (open,
find, edit, journal, in-place write, re-open and verify); libguestfs as one guestfish session
(appliance boot, mount the ESP, download the store, `hivexregedit --merge`, upload).  The
default loader's GUID is looked up for guestfish beforehand and not timed, which only flatters
libguestfs.  Prints the best of a few runs of each and the ratio; without libguestfs it says
how to install it.  Run: `.venv/bin/python bench/vs_guestfs.py`.
"""

from __future__ import annotations

import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fixtures import images  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
STORE = CORPUS / "bcd" / "win11-uefi-installed-2025.bcd"
BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
RUNS = 3
INSTALL = "apt-get install libguestfs-tools (guestfish, with its ~1 GB appliance and a kernel)"


def best(run) -> tuple[float, float]:
    """Fastest of RUNS (wall-clock, child CPU) timings of `run()`.

    CPU time (user + system of the child processes) is printed too: on a loaded machine the
    wall clock mostly measures waiting for a core.
    """
    times = []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        run()
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append((wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime))
    return min(times)


def bcdtool_run(source: Path, work: Path) -> None:
    image = work / "bcdtool.img"
    shutil.copyfile(source, image)
    env = dict(os.environ, XDG_STATE_HOME=str(work / "state"))
    subprocess.run([sys.executable, "-m", "bcdtool", "bcdedit", "--store", str(image), "/ems",
                    "{default}", "on"], check=True, capture_output=True, env=env)


def default_loader(store: bytes) -> str:
    from Registry import Registry

    reg = Registry.Registry(io.BytesIO(store))
    return reg.open(f"Objects\\{BOOTMGR}\\Elements\\23000003").value("Element").value()


def guestfs_run(source: Path, work: Path, reg_file: Path) -> None:
    image = work / "guestfs.img"
    shutil.copyfile(source, image)
    local = work / "BCD"
    script = (
        f"run\nmount /dev/sda1 /\ndownload /EFI/Microsoft/Boot/BCD {local}\n"
        f"! hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\\BCD00000000' {local} {reg_file}\n"
        f"upload {local} /EFI/Microsoft/Boot/BCD\n"
    )
    # KVM is unusable on these machines: without force_tcg the appliance hangs (seen: 12 min).
    env = dict(os.environ)
    env.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
    subprocess.run(["guestfish", "--rw", "-a", str(image)], input=script.encode(), check=True,
                   capture_output=True, env=env, timeout=300)


def main() -> int:
    for tool in ("sgdisk", "mkfs.fat", "mcopy"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (apt-get install gdisk dosfstools mtools)")
            return 2
    work = Path(tempfile.mkdtemp(prefix="bcdtool-vs-guestfs-"))
    try:
        source = images.build_esp_disk(work / "source.img", STORE).path
        ours, ours_cpu = best(lambda: bcdtool_run(source, work))
        print(
            f"bcdtool   (whole process): {ours * 1000:8.1f} ms wall, {ours_cpu * 1000:8.1f} ms CPU"
            f"  best of {RUNS} (load average {os.getloadavg()[0]:.1f})"
        )
        if shutil.which("guestfish") is None or shutil.which("hivexregedit") is None:
            print(f"libguestfs is not installed, so there is nothing to compare with; "
                  f"install it with: {INSTALL}")
            return 0
        reg_file = work / "ems.reg"
        guid = default_loader(STORE.read_bytes())
        reg_file.write_text("Windows Registry Editor Version 5.00\n\n"
                            f"[HKEY_LOCAL_MACHINE\\BCD00000000\\Objects\\{guid}\\Elements\\260000b0]\n"
                            '"Element"=hex:01\n')
        theirs, theirs_cpu = best(lambda: guestfs_run(source, work, reg_file))
        print(f"libguestfs (guestfish):    {theirs * 1000:8.1f} ms wall, "
              f"{theirs_cpu * 1000:8.1f} ms CPU  best of {RUNS}")
        print(f"bcdtool is {theirs / ours:.1f}x faster (goal: at least 40x)")
        return 0
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
