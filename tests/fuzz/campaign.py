"""A seeded campaign of hostile inputs through the real CLI (forked runs, 1 GiB address space,
hang guard).  `make fuzz` runs it; by hand:

    .venv/bin/python -m tests.fuzz.campaign hives --runs 500 --seed 1 --keep /tmp/fails

Prints every failure class once (with how many inputs hit it) and exits 1 if there was any.
Each input goes through a few commands drawn from the ones that read it.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import socket
import random
import shutil
import sys
import tempfile
from pathlib import Path

from fixtures import images
from tests.fuzz import hive_mutators as hm
from tests.fuzz import image_mutators as im
from fixtures import linux_roots
from tests.fuzz import text_mutators as tm
from tests.fuzz.cli_harness import Run, run_forked
from tests.helpers.common import CORPUS
from tests.locate.locate_helpers import build_disk

#: Seeds above this size make each run slow; the small hives carry the same structures.
MAX_SEED = 600 * 1024

HIVE_COMMANDS = [
    ["enum", "{p}", "--json"],
    ["bcdedit", "/store", "{p}", "/enum", "all", "/v"],
    ["bcdedit", "/store", "{p}", "/set", "{{default}}", "description", "fuzz"],
    ["serial-console", "status", "{p}"],
    ["serial-console", "enable", "{p}", "--backup-dir", "{tmp}/bk"],
    ["doctor", "{p}", "--json"],
    ["hive", "ls", "{p}", "--json"],
    ["hive", "ls", "{p}", "Objects"],
    ["hive", "get", "{p}", "Description", "KeyName"],
    ["hive", "export", "{p}"],
    ["hive", "export", "{p}", "--best-effort", "--allow-dirty"],
    ["hive", "check", "{p}", "--json"],
    ["forensic", "{p}", "--json", "--timeline", "--history", "--deleted"],
]


def hive_seeds() -> list[Path]:
    files = sorted((CORPUS / "bcd").glob("*.bcd")) + \
        [p for p in sorted((CORPUS / "hives").iterdir()) if ".LOG" not in p.name]
    return [p for p in files if p.stat().st_size <= MAX_SEED]


def logs_of(seed: Path) -> list[Path]:
    return sorted(seed.parent.glob(seed.name + ".LOG*"))


def hive_inputs(rng: random.Random, folder: Path):
    """Yield (label, hive path, [paths to hash]) forever: a mutated hive, sometimes made dirty
    with mutated logs beside it."""
    seeds = hive_seeds()
    with_logs = [s for s in seeds if logs_of(s)]
    n = 0
    while True:
        n += 1
        case = folder / f"case{n}"
        case.mkdir()
        if rng.random() < 0.3 and with_logs:
            seed = rng.choice(with_logs)
            data = seed.read_bytes()
            if rng.random() < 0.5:
                data = hm.make_dirty(data, rng)
                label = "dirty+"
            else:
                label = "logs+"
            hive = case / seed.name
            hive.write_bytes(data)
            labels = []
            for log in logs_of(seed):
                raw, what = hm.mutate_log(rng, log.read_bytes(), len(data))
                (case / log.name).write_bytes(raw)
                labels.append(what)
            yield label + labels[0], hive, [case]
        else:
            seed = rng.choice(seeds)
            data, label = hm.mutate_hive(rng, seed.read_bytes())
            hive = case / seed.name
            hive.write_bytes(data)
            yield label, hive, [case]


IMAGE_COMMANDS = [
    ["enum", "{p}", "--json"],
    ["bcdedit", "/store", "{p}", "/enum", "all", "/v"],
    ["bcdedit", "/store", "{p}", "/set", "{{default}}", "description", "fuzz"],
    ["serial-console", "status", "{p}"],
    ["serial-console", "enable", "{p}", "--backup-dir", "{tmp}/bk"],
    ["doctor", "{p}", "--json"],
    ["hive", "ls", "{p}", "Objects"],
    ["hive", "export", "{p}"],
    ["forensic", "{p}", "--json", "--timeline", "--history", "--deleted"],
    ["bcdedit", "--store", "{p}", "--read-only", "/enum", "all", "/v"],
    ["linux", "status", "{p}"],
]

#: The seeds of the image campaign, built once per process: raw GPT+FAT32 and MBR+NTFS disks
#: and every image format qemu-img writes of the GPT disk.
_IMAGE_SEEDS: dict[str, tuple[bytes, dict]] = {}


def image_seeds(folder: Path) -> dict[str, tuple[bytes, dict]]:
    if _IMAGE_SEEDS:
        return _IMAGE_SEEDS
    seeds = folder / "seeds"
    seeds.mkdir()
    uefi = build_disk("uefi", seeds, CORPUS)
    bios_dir = seeds / "bios"
    bios_dir.mkdir()
    bios = build_disk("bios", bios_dir, CORPUS)
    small = images.build_esp_disk(seeds / "fat16.img",
                                  (CORPUS / "bcd" / "win10-media-bios.bcd").read_bytes(),
                                  esp_mib=16, fat_bits=16, scheme="mbr")
    for name, disk in (("gpt-fat32", uefi), ("mbr-ntfs", bios), ("mbr-fat16", small)):
        _IMAGE_SEEDS[name] = (disk.path.read_bytes(), {"part": disk.bcd_part.start,
                                                       "fs": disk.bcd_part.fs})
    for fmt in ("qcow2", "qcow2-v2", "vhd-dynamic", "vhd-fixed", "vhdx", "vmdk"):
        _IMAGE_SEEDS[fmt] = (images.convert(uefi.path, fmt, seeds).read_bytes(), {})
    flat = images.convert(uefi.path, "vmdk-flat", seeds)
    _IMAGE_SEEDS["vmdk-flat"] = (flat.read_bytes(), {"extent": flat.with_name(
        flat.stem + "-flat.vmdk")})
    return _IMAGE_SEEDS


def _mutate_image(rng: random.Random, kind: str, data: bytes, info: dict):
    if kind in ("gpt-fat32", "mbr-ntfs", "mbr-fat16"):
        layer = rng.choice(["table", "fs", "fs", "fs"])
        if layer == "table":
            if kind == "gpt-fat32" and rng.random() < 0.7:
                return im.gpt_edit(rng, data)
            return im.mbr_edit(rng, data)
        if info["fs"] == "fat":
            return im.fat_edit(rng, data, info["part"])
        return im.ntfs_edit(rng, data, info["part"])
    if kind.startswith("qcow2"):
        return im.qcow2_edit(rng, data)
    if kind.startswith("vhd-"):
        return im.vhd_edit(rng, data)
    if kind == "vhdx":
        return im.vhdx_edit(rng, data)
    return im.vmdk_edit(rng, data)


def image_inputs(rng: random.Random, folder: Path):
    """Yield (label, image path, [paths to hash]) forever.  The image is called SELF so that
    names an image uses for itself (backing file, extent) point at it."""
    seeds = image_seeds(folder)
    n = 0
    while True:
        n += 1
        case = folder / f"case{n}"
        case.mkdir()
        kind = rng.choice(sorted(seeds))
        data, info = seeds[kind]
        path = case / "SELF"
        if kind == "vmdk-flat":
            extent = info["extent"]
            text, label = im.vmdk_descriptor_edit(rng, data, extent.name)
            (case / extent.name).symlink_to(extent) if rng.random() < 0.2 else \
                shutil.copyfile(extent, case / extent.name)
            path.write_bytes(text)
            yield f"{kind}: {label}", path, [path]
            continue
        out, label = _mutate_image(rng, kind, data, info)
        if rng.random() < 0.25:
            out, _ = _mutate_image(rng, kind, out, info)
        path.write_bytes(out)
        yield f"{kind}: {label}", path, [case]


STATE_COMMANDS = [
    ["undo", "{journal}"],
    ["undo", "{journal}", "--force", "--json"],
    ["undo", "{journal_dir}"],
    ["enum", "{p}"],
    ["serial-console", "enable", "{p}"],
    ["bcdedit", "/store", "{p}", "/set", "{{bootmgr}}", "timeout", "7"],
]


def _journal_seed(folder: Path) -> tuple[Path, Path]:
    """A hive file and the state folder of one real write to it (its journal and audit log)."""
    seed = folder / "state-seed"
    if not seed.is_dir():
        seed.mkdir()
        hive = seed / "BCD"
        hive.write_bytes((CORPUS / "bcd" / "win10-media-bios.bcd").read_bytes())
        run = run_forked(["serial-console", "enable", hive], state=str(seed / "state"))
        assert run.code == 0, run.stderr
    return seed / "BCD", seed / "state"


def state_inputs(rng: random.Random, folder: Path):
    """Yield (label, hive, [paths]) with a state folder beside the hive: its journal mutated,
    or a pending-write marker for the hive made hostile (read by every open of the store)."""
    hive_seed, state_seed = _journal_seed(folder)
    n = 0
    while True:
        n += 1
        case = folder / f"case{n}"
        shutil.copytree(hive_seed.parent, case, symlinks=True)
        journal = next((case / "state").rglob("journal.json"))
        doc = json.loads(journal.read_text())
        if rng.random() < 0.6:
            raw, label = tm.mutate_json(rng, journal.read_text())
            journal.write_bytes(raw)
        else:
            doc["state"] = "writing"
            marker = {"journal": str(journal), "pid": os.getpid(), "started": "1"}
            raw, label = tm.mutate_json(rng, json.dumps(marker))
            key = hashlib.sha256(doc["target_key"].encode()).hexdigest()[:32]
            pending = case / "state" / "bcdtool" / "pending"
            pending.mkdir(parents=True, exist_ok=True)
            (pending / f"{key}.json").write_bytes(raw)
            journal.write_text(json.dumps(doc))
            label = "marker " + label
        yield label, case / "BCD", [case / "BCD"]


MANIFEST_COMMANDS = [
    ["batch", "{p}", "--json", "--jobs", "1"],
    ["batch", "{p}", "--jobs", "1", "--op", "bcdedit /enum"],
]


def manifest_inputs(rng: random.Random, folder: Path):
    """Yield (label, manifest, [paths]): lines naming real (copied) stores, made hostile."""
    n = 0
    store = CORPUS / "bcd" / "win10-media-bios.bcd"
    while True:
        n += 1
        case = folder / f"case{n}"
        case.mkdir()
        shutil.copyfile(store, case / "BCD")
        good = json.dumps({"target": str(case / "BCD"), "ops": [
            "serial-console enable", {"op": "bcdedit", "args": ["/enum", "all"]}]})
        roll = rng.random()
        if roll < 0.5:
            raw, label = tm.mutate_json(rng, good)
        elif roll < 0.7:
            # (a manifest of 500,000 targets is legitimately long work, not a hang)
            raw, label = tm.hostile_text(rng, str(case / "BCD").encode(), many=20)
        elif roll < 0.85:
            name = rng.choice(["a\nb", "x\u0000y", "..", "/", "/dev/zero", "/proc/self/mem",
                               str(case), str(case / "BCD") + "\n" + str(case / "BCD")])
            raw, label = ('{"target": "' + name + '"}\n').encode(), "manifest path"
        else:
            lines = [good] * rng.choice((2, 50)) + [str(case / "BCD")] * 2
            raw, label = "\n".join(lines).encode(), "manifest duplicates"
        manifest = case / "manifest"
        manifest.write_bytes(raw + b"\n")
        yield label, manifest, [case]


LINUX_COMMANDS = [
    ["linux", "check", "{p}"],
    ["linux", "status", "{p}", "--json"],
    ["linux", "fix", "{p}", "--dry-run"],
    ["linux", "fix", "{p}", "--backup-dir", "{tmp}/bk"],
    ["doctor", "{p}"],
]
LINUX_FILES = ["etc/default/grub", "boot/grub/grub.cfg", "boot/grub2/grub.cfg", "etc/os-release",
               "etc/inittab", "boot/grub/grubenv", "boot/grub2/grubenv", "etc/securetty",
               "etc/default/grub.d/50-cloudimg-settings.cfg", "etc/fstab",
               "etc/systemd/system/getty.target.wants", "boot/loader/entries", "etc/kernel/cmdline"]


def _special(rng: random.Random, path: Path, outside: Path) -> str:
    """Make `path` a hostile kind of file; returns a label."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = rng.choice(["dir", "fifo", "socket", "huge", "loop", "self-loop", "abs-out",
                       "rel-out", "dangling", "dev", "deep-dir"])
    if kind == "dir":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.bind(str(path))
        except OSError:
            path.mkdir()
        finally:
            sock.close()
    elif kind == "huge":
        with open(path, "wb") as handle:
            handle.truncate(rng.choice((64 << 20, 4 << 30)))
    elif kind == "loop":
        os.symlink(path.name + ".b", path)
        os.symlink(path.name, path.with_name(path.name + ".b"))
    elif kind == "self-loop":
        os.symlink(path.name, path)
    elif kind == "abs-out":
        os.symlink(str(outside), path)
    elif kind == "rel-out":
        os.symlink("../" * 12 + str(outside).lstrip("/"), path)
    elif kind == "dangling":
        os.symlink("/nonexistent/x", path)
    elif kind == "dev":
        os.symlink(rng.choice(("/dev/zero", "/dev/urandom", "/dev/stdin", "/proc/self/mem")),
                   path)
    else:
        deep = path
        for _ in range(60):
            deep = deep / "d"
        deep.mkdir(parents=True)
    return kind


def linux_inputs(rng: random.Random, folder: Path):
    """Yield (label, guest root, [root, outside file]): a rendered real layout with one of its
    configuration files (or folders) made hostile."""
    outside = folder / "outside-canary"
    if not outside.exists():
        outside.write_text('GRUB_CMDLINE_LINUX="outside"\n')
    families = ["ubuntu-22.04", "debian-12", "rhel-7", "rhel-9", "sles-15", "centos-6",
                "azurelinux-3.0"]
    n = 0
    while True:
        n += 1
        case = folder / f"case{n}"
        root = linux_roots.build(rng.choice(families), rng.choice(("broken", "correct")),
                                 case / "root")
        files = [f for f in LINUX_FILES if (root / f).exists() or rng.random() < 0.1]
        target = root / rng.choice(files or LINUX_FILES)
        if rng.random() < 0.5 and target.is_file() and not target.is_symlink():
            raw, label = tm.hostile_text(rng, target.read_bytes())
            target.write_bytes(raw)
        else:
            label = _special(rng, target, outside)
        yield f"{target.relative_to(root)}: {label}", root, [root, outside]


def run_campaign(kind: str, runs: int, seed: int, keep: Path | None, per_input: int = 2):
    rng = random.Random(seed)
    failures: dict[str, list[tuple[str, Run, Path]]] = collections.defaultdict(list)
    done = 0
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{kind}-") as tmp:
        tmp = Path(tmp)
        inputs = GENERATORS[kind](rng, tmp)
        while done < runs:
            label, path, hashed = next(inputs)
            for template in rng.sample(COMMANDS[kind], min(per_input, len(COMMANDS[kind]))):
                journal = next(path.parent.rglob("journal.json"), path)
                argv = [a.format(p=path, tmp=path.parent, journal=journal,
                                 journal_dir=journal.parent) for a in template]
                run = run_forked(argv, hashed, state=str(path.parent / "state")
                                 if kind == "state" else None)
                done += 1
                if run.problems():
                    failures[run.key()].append((label, run, path))
                    print(f"FAIL {done} [{label}] {' '.join(argv)}: {run.key()}", flush=True)
                    if keep is not None:
                        dest = keep / f"{kind}-{done}"
                        shutil.copytree(path.parent, dest, dirs_exist_ok=True, symlinks=True,
                                        ignore=shutil.ignore_patterns("bk"))
            cases = [p for p in tmp.iterdir() if p.name.startswith("case")]
            if len(cases) > 50:
                for old in sorted(cases, key=lambda p: p.stat().st_mtime)[:25]:
                    shutil.rmtree(old, ignore_errors=True)
    return done, failures


GENERATORS = {"hives": hive_inputs, "images": image_inputs, "state": state_inputs,
              "manifests": manifest_inputs, "linux": linux_inputs}
COMMANDS = {"hives": HIVE_COMMANDS, "images": IMAGE_COMMANDS, "state": STATE_COMMANDS,
            "manifests": MANIFEST_COMMANDS, "linux": LINUX_COMMANDS}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=sorted(GENERATORS))
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    done, failures = run_campaign(args.kind, args.runs, args.seed, args.keep)
    print(f"{args.kind}: {done} runs, {sum(map(len, failures.values()))} failed, "
          f"{len(failures)} classes")
    for key, hits in sorted(failures.items(), key=lambda kv: -len(kv[1])):
        label, run, path = hits[0]
        print(f"{len(hits):5d}  {key}\n       first: [{label}] {' '.join(run.argv)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
