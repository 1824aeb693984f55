"""Benchmark: `forensic --timeline --history` and `enum` on a BCD store beside hostile 64 MiB logs.

A transaction log may be as large as the BCD cap (64 MiB) and every new-format entry carries two
Marvin32 hashes that must be checked before the entry counts.  Three crafted logs, built once in
a temporary folder:

- `chain`: one valid chain of 1 MiB entries filling the log (every hash right, consecutive
  sequence numbers) beside a clean primary: nothing applies, the report lists the entries.
- `broken`: the same chain whose sequence numbers break after the first entry (all hashes
  right): Windows stops at the first break, so should we.
- `dirty`: the `chain` log beside a dirty primary (enum must replay it).

Prints wall clock and CPU of each whole process (best of RUNS).  Keep figures out of tests.
Run: `.venv/bin/python bench/hostile_logs.py`.
"""

from __future__ import annotations

import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fixtures.big_stores import log_entry  # noqa: E402
from tests.forensic.forensic_helpers import make_log, new_store, with_sequence  # noqa: E402

RUNS = 2
LOG_BYTES = 64 * 1024 * 1024


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """(wall, CPU of the child, exit code) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), \
        proc.returncode


def build(folder: Path) -> dict[str, Path]:
    """The three stores with their crafted BCD.LOG1."""
    image = new_store()
    hive_size = struct.unpack_from("<I", image, 40)[0]
    page = image[4096:4096 + 512]
    per_entry = (1 << 20) // 512 - 1
    count = LOG_BYTES // (1 << 20) - 1
    good = [log_entry(100 + i, hive_size, [(0, page)] * per_entry) for i in range(count)]
    broken = [good[0]] + [log_entry(200 + i, hive_size, [(0, page)] * per_entry)
                          for i in range(1, count)]
    dirty = bytearray(with_sequence(image, 100))
    struct.pack_into("<I", dirty, 4, 101)             # Sequence1 != Sequence2: dirty
    out = {}
    for name, primary, entries in (("chain", with_sequence(image, 5000), good),
                                   ("broken", with_sequence(image, 5000), broken),
                                   ("dirty", bytes(dirty), good)):
        (folder / name).mkdir()
        (folder / name / "BCD").write_bytes(primary)
        (folder / name / "BCD.LOG1").write_bytes(make_log(image, 100, entries))
        out[name] = folder / name / "BCD"
    return out


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        stores = build(Path(tmp))
        print("| case | command | best wall s | CPU s | exit |\n|---|---|---|---|---|")
        for name, store in stores.items():
            for args in (["forensic", "--timeline", "--history"], ["enum"]):
                runs = [timed([sys.executable, "-m", "bcdtool", *args, str(store)])
                        for _ in range(RUNS)]
                wall, cpu, code = min(runs)
                print(f"| {name} | {' '.join(args)} | {wall:.2f} | {cpu:.2f} | {code} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
