"""Full walk (every key, every value's name, type and raw data) of a hive: bcdtool vs others.

Prints the time of each reader, measured in this one run (best of N), and the ratios to bcdtool.
Usage: python bench/regf_walk.py [HIVE] [--repeat N]   (default: the corpus' XP SYSTEM hive)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bcdtool.regf.hive import Hive

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "hives" / "winxp-sp3-SYSTEM"


def walk_bcdtool(path: Path) -> int:
    hive = Hive.open(path)
    count = 0
    for key in hive.walk():
        count += 1
        key.name
        for value in key.values():
            value.name, value.type, value.raw
            count += 1
    return count


def walk_python_registry(path: Path) -> int:
    from Registry import Registry
    stack = [Registry.Registry(str(path)).root()]
    count = 0
    while stack:
        key = stack.pop()
        count += 1
        key.name()
        for value in key.values():
            value.name(), value.value_type(), value.raw_data()
            count += 1
        stack.extend(key.subkeys())
    return count


def walk_regipy(path: Path) -> int:
    from regipy.registry import RegistryHive
    hive = RegistryHive(str(path))
    count = 0
    for entry in hive.recurse_subkeys(as_json=False):
        count += 1 + len(entry.values or ())
    return count + 1


def best_of(func, path: Path, repeat: int) -> tuple[float, int]:
    best, count = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        count = func(path)
        best = min(best, time.perf_counter() - start)
    return best, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hive", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    size = args.hive.stat().st_size
    print(
        f"full walk of {args.hive.name} ({size / 2**20:.1f} MiB), best of {args.repeat}", flush=True
    )
    results = {}
    for name, func, repeat in (("bcdtool", walk_bcdtool, args.repeat),
                               ("python-registry", walk_python_registry, args.repeat),
                               ("regipy", walk_regipy, 1)):
        try:
            results[name] = best_of(func, args.hive, repeat)
        except ImportError as exc:
            print(f"{name:16} not installed ({exc})")
    base = results["bcdtool"][0]
    for name, (seconds, count) in results.items():
        print(f"{name:16} {seconds:8.3f} s  {count:7d} keys+values  {seconds / base:6.2f}x bcdtool")


if __name__ == "__main__":
    main()
