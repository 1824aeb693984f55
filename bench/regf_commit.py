"""Benchmark: one value edit + commit on the 3.5 MiB XP SYSTEM hive, bcdtool vs `hivexsh -w`.

Both tools change the same REG_SZ value (a key holding exactly that one value, because hivexsh's
`setval` replaces all values of a key) in their own copy of the hive in a temporary folder.
bcdtool's time covers open + edit + the write transaction (verification of the plan by
`regf.verify`, journal, in-place write, read-back, audit line); hivexsh's covers its process
start, open, edit and commit.  Prints the best of a few runs of each, their ratio, and what one
verification costs.  Run: `.venv/bin/python bench/regf_commit.py`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bcdtool.locate import open_hive
from bcdtool.locate.commit import commit as commit_handle
from bcdtool.regf import commit
from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.hive import Hive
from bcdtool.regf.verify import verify_commit

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
HIVE = CORPUS / "hives" / "winxp-sp3-SYSTEM"
KEY = r"ControlSet001\Control\Class\{4D36E972-E325-11CE-BFC1-08002bE10318}\0002\Ndi"
NAME, NEW_TEXT = "Service", "AsyncMacBench"
RUNS = 3
REG_SZ = 1


def bcdtool_edit(path: Path) -> dict[str, float]:
    """One edit and commit through the library; seconds per phase."""
    t0 = time.perf_counter()
    handle = open_hive(path)
    t1 = time.perf_counter()
    editor = HiveEditor(handle.hive)
    editor.set_value(KEY, NAME, REG_SZ, (NEW_TEXT + "\0").encode("utf-16-le"))
    image = editor.to_bytes()
    t2 = time.perf_counter()
    with handle:
        commit_handle(handle, image, backup_dir=path.parent / "journal", operation="bench",
                      planned=editor.planned)
    t3 = time.perf_counter()
    return {"open": t1 - t0, "edit": t2 - t1, "commit+verify": t3 - t2, "total": t3 - t0}


def hivexsh_edit(path: Path) -> float:
    """The same edit with `hivexsh -w`; wall-clock seconds of the whole process."""
    script = "".join(f"cd {part}\n" for part in KEY.split("\\"))
    script += f"setval 1\n{NAME}\nstring:{NEW_TEXT}\ncommit\nquit\n"
    t0 = time.perf_counter()
    subprocess.run(["hivexsh", "-w", str(path)], input=script, text=True, check=True,
                   capture_output=True)
    return time.perf_counter() - t0


def check(path: Path) -> None:
    """Both results must hold the new text (read by our reader)."""
    value = Hive.open(path).key(KEY).value(NAME).data
    if value != NEW_TEXT:
        raise SystemExit(f"{path.name}: expected {NEW_TEXT!r}, read {value!r}")


def main() -> int:
    if not HIVE.is_file():
        print(f"corpus hive missing: {HIVE}", file=sys.stderr)
        return 2
    if shutil.which("hivexsh") is None:
        print("hivexsh is not installed (Debian package libhivex-bin)", file=sys.stderr)
        return 2
    ours: list[dict[str, float]] = []
    theirs: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(RUNS):
            mine, other = Path(tmp) / f"bcdtool-{run}", Path(tmp) / f"hivex-{run}"
            shutil.copy(HIVE, mine)
            shutil.copy(HIVE, other)
            ours.append(bcdtool_edit(mine))
            theirs.append(hivexsh_edit(other))
            check(mine)
            check(other)
    best = min(ours, key=lambda r: r["total"])
    hivex = min(theirs)
    data = HIVE.read_bytes()
    editor = HiveEditor(Hive.from_bytes(data))
    editor.set_value(KEY, NAME, REG_SZ, (NEW_TEXT + "\0").encode("utf-16-le"))
    image = commit.finalize(editor.to_bytes(), data)
    t0 = time.perf_counter()
    verify_commit(data, image, planned=editor.planned)
    t1 = time.perf_counter()
    print(f"hive: {HIVE.name} ({HIVE.stat().st_size} bytes), edit: {KEY}\\{NAME}")
    print("bcdtool: " + ", ".join(f"{k} {v:.3f} s" for k, v in best.items()))
    print(f"hivexsh -w: total {hivex:.3f} s")
    print(f"ratio bcdtool/hivexsh: {best['total'] / hivex:.1f}x")
    print(f"one verification (regf.verify.verify_commit): {t1 - t0:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
