"""The /enum renderer: bcdedit's exact text for a corpus store, layout rules, JSON for all."""

from __future__ import annotations

import json

import pytest
from tests.bcd._corpus import corpus_stores, registry_elements

from bcdtool.bcd import enum, objects
from bcdtool.bcd.store import BcdStore
from bcdtool.regf.hive import Hive

MEDIA = "win10-media-bios.bcd"


def _store(path) -> BcdStore:
    return BcdStore(Hive.open(path))


def test_matches_real_bcdedit_output(corpus):
    # win10-setup-media-pcat-store-enum.txt is `bcdedit /store … /enum` of the same content; the
    # published copy lost the empty line bcdedit prints first (enum/SOURCES.md)
    store = _store(corpus / "bcd" / MEDIA)
    ours = enum.render(store, enum.select(store))
    expected = (corpus / "enum" / "win10-setup-media-pcat-store-enum.txt").read_text()
    assert ours == "\n" + expected


def test_matches_real_bcdedit_verbose_output(corpus):
    # the /v text was pasted twice with an artefact in the first copy: compare the second copy
    store = _store(corpus / "bcd" / MEDIA)
    ours = enum.render(store, enum.select(store), enum.View(verbose=True))
    lines = (corpus / "enum" / "win10-setup-media-pcat-store-enum-v.txt").read_text().splitlines()
    assert ours.splitlines() == [""] + lines[27:]


def test_layout_rules(corpus):
    store = _store(corpus / "bcd" / "win10-bios-installed-sysreserved.bcd")
    text = enum.render(store, enum.select(store, "all"))
    lines = text.splitlines()
    assert lines[0] == "" and lines[1] == "Windows Boot Manager" and lines[2] == "-" * 20
    assert "allowedinmemorysettings 0x15000075" in lines  # 23 characters: one space
    glob = lines.index("identifier              {globalsettings}")
    assert lines[glob + 1:glob + 4] == ["inherit                 {dbgsettings}",
                                        " " * 24 + "{emssettings}", " " * 24 + "{badmemory}"]
    assert "device                  unknown" in lines   # partitions cannot be resolved offline
    titles = [lines[i - 1] for i, line in enumerate(lines) if line and set(line) == {"-"}]
    assert titles == ["Windows Boot Manager", "Windows Boot Loader", "Windows Boot Loader",
                      "Resume from Hibernate", "Windows Memory Tester", "EMS Settings",
                      "Debugger Settings", "RAM Defects", "Global Settings",
                      "Boot Loader Settings", "Hypervisor Settings", "Resume Loader Settings",
                      "Device options"]


def test_hidden_template_elements_need_verbose(corpus):
    store = _store(corpus / "bcd" / "win10-bios-installed-sysreserved.bcd")
    winre = store.get("{c77a2611-6d5b-11eb-9ff2-e9f459e1e131}")
    assert 0x46000010 in winre.elements
    plain = enum.render(store, [winre])
    verbose = enum.render(store, [winre], enum.View(verbose=True))
    assert "custom:46000010" not in plain
    assert "custom:46000010         Yes" in verbose.splitlines()


def test_better_view_shows_alias_and_guid_and_partitions(corpus):
    store = _store(corpus / "bcd" / "win10-bios-installed-sysreserved.bcd")
    lines = enum.render(store, enum.select(store), enum.View(better=True)).splitlines()
    assert "identifier              {default} {99066a2d-6dcc-11eb-9378-f32123128c9c}" in lines
    assert ("osdevice                partition=<MBR disk 76a4a23d offset 0x24400000 (580 MiB)>"
            in lines)


@pytest.mark.parametrize("selector, types", [
    ("bootmgr", {objects.BOOTMGR}), ("osloader", {objects.OSLOADER}),
    ("resume", {objects.RESUME}), ("inherit", {0x20100000, 0x20200003, 0x20200004}),
])
def test_selectors(corpus, selector, types):
    store = _store(corpus / "bcd" / "win10-bios-installed-sysreserved.bcd")
    assert {o.type for o in enum.select(store, selector)} == types


@pytest.mark.parametrize("path", corpus_stores(), ids=lambda p: p.name)
def test_every_store_enumerates_and_json_matches_registry(path):
    store = _store(path)
    for view in (enum.View(), enum.View(verbose=True), enum.View(better=True, verbose=True)):
        text = enum.render(store, enum.select(store, "all"), view)
        assert "<invalid" not in text
    doc = json.loads(json.dumps(enum.to_json(store, store.objects())))
    raw = {(g, f"{c:#010x}"): r.hex() for g, _t, c, _rt, r in registry_elements(path)}
    seen = {}
    for obj in doc["objects"]:
        for elem in obj["elements"]:
            assert "error" not in elem and "text" in elem
            seen[(obj["guid"], elem["code"])] = elem["raw"]
    assert seen.keys() == raw.keys()


def test_undecodable_element_is_shown_not_fatal(corpus):
    store = _store(corpus / "bcd" / "win10-bios-installed-sysreserved.bcd")
    bootmgr = objects.ALIASES["{bootmgr}"]
    store.set_raw(bootmgr, 0x26000020, b"\x01\x02")     # a boolean of two bytes
    lines = enum.render(store, enum.select(store)).splitlines()
    assert "displaybootmenu         <invalid boolean: 0102>" in lines
    elem = next(e for e in enum.to_json(store, [store.get(bootmgr)])["objects"][0]["elements"]
                if e["code"] == "0x26000020")
    assert elem["value"] is None and "2 bytes" in elem["error"] and elem["raw"] == "0102"
