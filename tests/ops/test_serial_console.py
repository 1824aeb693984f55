"""serial-console enable/status on store files: corpus stores and bcdboot-like new stores,
each result read back with python-registry (effective values through inheritance)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.helpers.common import CORPUS, sha
from tests.ops.ops_helpers import (BOOTMGR, CODES, EMSSETTINGS, LOADER, assert_recipe, element_raw,
                                   new_store, registry, u64)

from bcdtool.errors import BcdError, InvalidArgumentError, ReadOnlyError
from bcdtool.ops import serial_checks
from bcdtool.ops import serial_console as sc
from bcdtool.ops.undo import undo


def _installed_stores() -> list[str]:
    """Corpus stores that have a {bootmgr} with a default Windows loader."""
    from bcdtool.bcd.store import BcdStore
    from bcdtool.regf.hive import Hive

    if not CORPUS.is_dir():
        return []
    names = []
    for path in sorted((CORPUS / "bcd").glob("*.bcd")):
        try:
            store = BcdStore(Hive.open(path))
        except Exception:       # noqa: BLE001 - stores we cannot open are other tests' business
            continue
        guid = store.default_guid()
        if guid and store.has(guid):
            names.append(path.name)
    return names


def _copy_store(corpus, name: str, folder) -> str:
    dest = folder / name
    shutil.copy(corpus / "bcd" / name, dest)
    for log in (corpus / "bcd").glob(name + ".LOG*"):
        shutil.copy(log, folder / log.name)
    return str(dest)


@pytest.mark.parametrize("name", _installed_stores() or ["(no corpus)"])
def test_enable_corpus_store(corpus, tmp_path, name):
    path = _copy_store(corpus, name, tmp_path)
    result = sc.enable(path)
    assert result.changes and result.journal
    assert_recipe(open(path, "rb").read())
    # Each change is exactly what python-registry finds at that object and element.
    reg = registry(open(path, "rb").read())
    for change in result.changes:
        if change["element"] in ("emsport", "emsbaudrate", "timeout", "ems", "bootems",
                                 "displaybootmenu", "debug"):
            raw = element_raw(reg, change["object"], change["code"][2:])
            assert raw is not None, change
    before = sha(path)
    again = sc.enable(path)
    assert again.changes == [] and again.journal is None and again.write is None
    assert sha(path) == before
    assert serial_checks.status(path)["ok"]


def test_new_store_enable_dry_run_undo(tmp_path, state):
    path = tmp_path / "BCD"
    path.write_bytes(new_store("uefi"))
    original = sha(path)
    status = serial_checks.status(str(path))
    assert not status["ok"]
    dry = sc.enable(str(path), dry_run=True)
    assert dry.changes and dry.journal is None and dry.write["dry_run"]
    assert sha(path) == original
    assert not (state / "bcdtool" / "audit.jsonl").exists()
    done = sc.enable(str(path))
    assert [c["label"].split()[0] for c in done.changes] == [
        "{emssettings}", "{emssettings}", "{default}", "{bootmgr}", "{bootmgr}", "{bootmgr}"]
    assert_recipe(path.read_bytes())
    reg = registry(path.read_bytes())
    assert element_raw(reg, EMSSETTINGS, CODES["emsport"]) == u64(1)
    assert element_raw(reg, LOADER, CODES["ems"]) == b"\x01"
    audit = [json.loads(line) for line in (state / "bcdtool" / "audit.jsonl").read_text()
             .splitlines()]
    assert len(audit) == 1 and audit[0]["journal"] == done.journal
    assert audit[0]["sha256_before"] == original and audit[0]["sha256_after"] == sha(path)
    undo(done.journal)
    assert sha(path) == original


def test_options_port_baud_timeout_and_all_loaders(tmp_path):
    path = tmp_path / "BCD"
    path.write_bytes(new_store("bios"))
    opts = sc.SerialOptions(port=2, baud=9600, timeout=10, loaders="all")
    sc.enable(str(path), opts)
    assert_recipe(path.read_bytes(), port=2, baud=9600, timeout=10, loaders=[LOADER])
    assert sc.enable(str(path), opts).changes == []
    # other options now differ: only the speed changes
    changed = sc.enable(str(path), sc.SerialOptions(port=2, baud=115200, timeout=10))
    assert [(c["element"], c["new"]) for c in changed.changes] == [("emsbaudrate", "115200")]


def test_no_boot_menu_no_bootems_leave_bootmgr_alone(tmp_path):
    path = tmp_path / "BCD"
    path.write_bytes(new_store("uefi"))
    result = sc.enable(str(path), sc.SerialOptions(boot_menu=False, bootems=False))
    assert {c["object"] for c in result.changes} == {EMSSETTINGS, LOADER}
    reg = registry(path.read_bytes())
    assert element_raw(reg, BOOTMGR, CODES["timeout"]) == u64(30)
    assert element_raw(reg, BOOTMGR, CODES["bootems"]) is None


def test_kernel_debug_turned_off_unless_kept(tmp_path):
    from bcdtool.bcd.store import BcdStore
    from bcdtool.regf.hive import Hive

    store = BcdStore(Hive.from_bytes(new_store("uefi")))
    store.set_element(LOADER, int(CODES["debug"], 16), True)
    image = store.to_bytes(same_size=True)
    kept, cleared = tmp_path / "kept", tmp_path / "cleared"
    kept.write_bytes(image)
    cleared.write_bytes(image)
    sc.enable(str(kept), sc.SerialOptions(keep_debug=True))
    assert element_raw(registry(kept.read_bytes()), LOADER, CODES["debug"]) == b"\x01"
    sc.enable(str(cleared))
    assert element_raw(registry(cleared.read_bytes()), LOADER, CODES["debug"]) == b"\x00"
    assert_recipe(cleared.read_bytes())


def test_missing_emssettings_is_created_and_linked(corpus, tmp_path):
    # A minimal bcdedit-made store: no inherit or settings objects at all.
    path = _copy_store(corpus, "win10-uefi-minimal-windeploy.bcd", tmp_path)
    result = sc.enable(path)
    assert any(c["action"] == "create object" and c["object"] == EMSSETTINGS
               for c in result.changes)
    assert_recipe(open(path, "rb").read())


@pytest.mark.parametrize("bad", [dict(port=9), dict(baud=12345), dict(timeout=-1),
                                 dict(loaders="some")])
def test_bad_options_refused(bad):
    with pytest.raises(InvalidArgumentError):
        sc.SerialOptions(**bad)


def test_refusals_leave_the_store_unchanged(tmp_path, corpus):
    path = tmp_path / "BCD"
    path.write_bytes(new_store("uefi"))
    original = sha(path)
    with pytest.raises(ReadOnlyError):
        sc.enable(str(path), read_only=True)
    assert sha(path) == original
    # a store whose {bootmgr} names no default loader
    no_default = _copy_store(corpus, "empty-createstore.bcd", tmp_path)
    before = sha(no_default)
    with pytest.raises(BcdError):
        sc.enable(no_default)
    assert sha(no_default) == before


def test_hostile_store_cycles_and_malformed_values(tmp_path):
    from bcdtool.bcd.store import BcdStore
    from bcdtool.regf.hive import Hive

    globalsettings = "{7ea2e1ac-2e61-4728-aaa3-896d9d0a9f0e}"
    store = BcdStore(Hive.from_bytes(new_store("uefi")))
    # {emssettings} inherits {globalsettings}, which inherits it back: a cycle.
    store.set_element(EMSSETTINGS, 0x14000006, [globalsettings])
    # ems holding 2 (not a boolean), a 9-byte port and a timeout of 0.
    store.set_raw(LOADER, int(CODES["ems"], 16), b"\x02")
    store.set_raw(EMSSETTINGS, int(CODES["emsport"], 16), bytes(9))
    store.set_element(BOOTMGR, int(CODES["timeout"], 16), 0)
    path = tmp_path / "BCD"
    path.write_bytes(store.to_bytes(same_size=True))
    status = serial_checks.status(str(path))
    bad = {(s["label"], s["element"]) for s in status["settings"] if not s["ok"]}
    assert {("{default}", "ems"), ("{default}", "emsport"), ("{bootmgr}", "timeout")} <= bad
    sc.enable(str(path))
    assert_recipe(path.read_bytes())
    assert serial_checks.status(str(path))["ok"] and sc.enable(str(path)).changes == []


def test_short_integers_written_by_windows_tools_are_kept(tmp_path):
    from bcdtool.bcd.store import BcdStore
    from bcdtool.regf.hive import Hive

    store = BcdStore(Hive.from_bytes(new_store("uefi")))
    store.set_raw(EMSSETTINGS, int(CODES["emsport"], 16), b"\x01\x00\x00")   # 3 bytes: 1
    path = tmp_path / "BCD"
    path.write_bytes(store.to_bytes(same_size=True))
    result = sc.enable(str(path))
    assert "emsport" not in {c["element"] for c in result.changes}
    assert element_raw(registry(path.read_bytes()), EMSSETTINGS, CODES["emsport"]) == \
        b"\x01\x00\x00"
    assert_recipe(path.read_bytes())


def test_mounted_esp_folder(tmp_path):
    esp = tmp_path / "esp"
    (esp / "EFI" / "Microsoft" / "Boot").mkdir(parents=True)
    store = esp / "EFI" / "Microsoft" / "Boot" / "BCD"
    store.write_bytes(new_store("uefi"))
    result = sc.enable(str(esp))
    assert result.location["kind"] == "directory" and result.location["path"].lower().endswith(
        "bcd"
    )
    assert_recipe(store.read_bytes())
    assert sc.enable(str(esp)).changes == []


def test_written_store_reads_in_hivex(tmp_path):
    import subprocess

    from tests.helpers.common import need_tools

    need_tools("hivexregedit")
    path = tmp_path / "BCD"
    path.write_bytes(new_store("uefi"))
    sc.enable(str(path))
    text = subprocess.run(["hivexregedit", "--export", str(path), "\\"], capture_output=True,
                          text=True, check=True).stdout
    key = f"[\\Objects\\{EMSSETTINGS}\\Elements\\{CODES['emsport']}]"
    assert key in text
    after = text.split(key, 1)[1].split("\n[", 1)[0]
    assert '"Element"=hex(3):01,00,00,00,00,00,00,00' in after
