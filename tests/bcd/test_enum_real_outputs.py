"""Every element line of the real `bcdedit /enum` outputs in the corpus (corpus/enum, printed by
Microsoft's bcdedit on live systems whose stores are not public), set again with bcdtool's
`/set` from the text bcdedit printed and shown again by bcdtool's `/enum`, gives the same text:
the value formats (booleans, enumerations, decimal and hex integers, lists, IPs, strings) are
bcdedit's.  Values that name the live system's volumes (`partition=C:`, `unknown`,
`\\Device\\HarddiskVolumeN`) cannot be set offline and are left out, as are lines the publisher's
console wrapped (enum/SOURCES.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bcdtool.bcd import bcdedit as be
from bcdtool.bcd import enum, objects
from bcdtool.bcd.store import BcdStore
from bcdtool.regf.hive import Hive

ENUM = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "enum"
TYPES = {"Windows Boot Manager": objects.BOOTMGR, "Windows Boot Loader": objects.OSLOADER,
         "Resume from Hibernate": objects.RESUME, "Windows Memory Tester": objects.MEMDIAG,
         "Firmware Boot Manager": objects.FWBOOTMGR, "EMS Settings": 0x20100000,
         "Debugger Settings": 0x20100000, "RAM Defects": 0x20100000,
         "Global Settings": 0x20100000, "Boot Loader Settings": objects.INHERIT_OSLOADER,
         "Hypervisor Settings": objects.INHERIT_OSLOADER,
         "Resume Loader Settings": objects.INHERIT_RESUME, "Device options": 0x30000000}
#: Values that name what only the live system has (its volumes; {current}, and {default},
#: which bcdedit prints as {current} for the running loader).
LIVE = ("partition=", "unknown", "\\Device\\", "{current}", "{default}")
#: String elements whose value may hold spaces (one /set word).
STRINGS = ("description", "loadoptions", "hypervisorloadoptions", "displaymessage",
           "displaymessageoverride", "locale")
NEW = "{11111111-2222-3333-4444-555555555555}"


def _lines(path: Path):
    """(section title, element name, [value lines]) of a bcdedit /enum text."""
    lines = path.read_text().splitlines()
    title, i = None, 0
    while i < len(lines):
        if i + 1 < len(lines) and lines[i].strip() and re.fullmatch(r"-+", lines[i + 1]):
            title, i = lines[i].strip(), i + 2
            continue
        match = re.match(r"^(\S+)\s+(\S.*)$", lines[i])
        i += 1
        if not match or title is None:
            continue
        values = [match.group(2).rstrip()]
        while i < len(lines) and re.match(r"^\s{20,}\S", lines[i]):
            values.append(lines[i].strip())
            i += 1
        yield title, match.group(1), values


def _cases():
    for path in sorted(ENUM.glob("*.txt")):
        for title, name, values in _lines(path):
            if name == "identifier" or title not in TYPES or \
                    any(live in v for v in values for live in LIVE) or \
                    any(v.count("{") != v.count("}") for v in values):
                continue
            yield path.name, title, name, values


CASES = list(_cases())


def test_the_outputs_give_enough_lines():
    assert len(CASES) >= 180 and len({c[0] for c in CASES}) == 6


@pytest.mark.parametrize("source, title, name, values", CASES,
                         ids=[f"{c[0]}:{c[1]}:{c[2]}" for c in CASES])
def test_bcdedit_text_sets_and_prints_back_the_same(source, title, name, values):
    store = BcdStore(Hive.from_bytes(be.new_store_image()))
    for alias in ("{bootmgr}", "{globalsettings}", "{bootloadersettings}", "{memdiag}",
                  "{resumeloadersettings}"):
        store.create_object(objects.ALIASES[alias], 0x20100000)       # aliases resolve
    store.create_object(NEW, TYPES[title])
    words = values if len(values) > 1 or name in STRINGS else values[0].split()
    be.execute(be.parse_args(["/set", NEW, name, *words]), store)
    verbose = source.endswith("-v.txt")
    shown = enum.render(store, [store.get(NEW)], enum.View(verbose=verbose)).splitlines()
    at = next(i for i, line in enumerate(shown) if line.split(None, 1)[:1] == [name])
    got = [shown[at].split(None, 1)[1]] + [line.strip() for line in shown[at + 1:at + len(values)]]
    assert got == values
