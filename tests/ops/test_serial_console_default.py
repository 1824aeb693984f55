"""`serial-console enable` on stores without a usable {default}: the loader the boot manager
would start, a clear refusal for a legacy default, and no inherit list of another loader touched
(read back with python-registry)."""

from __future__ import annotations

import pytest

from tests.helpers.common import CORPUS
from tests.ops.ops_helpers import BOOTMGR, CODES, element_raw, registry

from bcdtool.bcd import bcdedit as be
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import BcdError
from bcdtool.ops import serial_checks
from bcdtool.ops import serial_console as sc
from bcdtool.regf.hive import Hive

NTLDR = "{466f5a88-0af2-4f76-9038-095b170dc21c}"


def _store(name: str) -> BcdStore:
    return BcdStore(Hive.open(CORPUS / "bcd" / name))


def _write(store: BcdStore, tmp_path, name="BCD"):
    path = tmp_path / name
    path.write_bytes(store.to_bytes())
    return path


def _other_loader(store: BcdStore) -> str:
    out = be.execute(be.parse_args(["/create", "/d", "other", "/application", "osloader"]),
                     store)
    return out.lines[0].split()[2]


def test_no_default_sets_up_the_first_loader_of_displayorder(tmp_path):
    store = _store("win10-bios-installed-sysreserved.bcd")
    first = store.default_guid()
    other = _other_loader(store)
    store.delete_element(BOOTMGR, int(CODES["default"], 16))
    path = _write(store, tmp_path)
    before = registry(path.read_bytes())
    result = sc.enable(str(path))
    assert any("no default entry" in n and first in n and "/default" in n
               for n in result.notices), result.notices
    reg = registry(path.read_bytes())
    assert element_raw(reg, first, CODES["ems"]) == b"\x01"
    assert element_raw(reg, other, CODES["ems"]) is None
    assert element_raw(reg, other, CODES["inherit"]) == element_raw(before, other,
                                                                    CODES["inherit"])
    status = serial_checks.status(str(path))
    assert status["ok"] and any("no default entry" in n for n in status["notices"])


def test_a_dangling_default_falls_back_too(tmp_path):
    store = _store("win10-bios-installed-sysreserved.bcd")
    first = store.default_guid()
    store.set_element(BOOTMGR, int(CODES["default"], 16),
                      "{00000000-0000-0000-0000-000000000001}")
    result = sc.enable(str(_write(store, tmp_path)))
    assert any("which is not in the store" in n for n in result.notices)
    assert {c["object"] for c in result.changes if c["element"] == "ems"} == {first}


def test_a_legacy_default_is_refused_with_the_ways_out(tmp_path):
    store = _store("win10-bios-installed-sysreserved.bcd")
    be.execute(be.parse_args(["/create", "{ntldr}", "/d", "Earlier Windows"]), store)
    store.set_element(BOOTMGR, int(CODES["default"], 16), NTLDR)
    path = _write(store, tmp_path)
    with pytest.raises(BcdError) as caught:
        sc.enable(str(path))
    message = str(caught.value)
    assert "Windows Legacy OS Loader" in message and "not a Windows Boot Loader" in message
    assert "--loaders all" in message and "/default" in message
    done = sc.enable(str(path), sc.SerialOptions(loaders="all"))
    assert done.changes


def test_missing_settings_objects_touch_only_the_edited_loader(tmp_path):
    """A bcdedit-made store without {emssettings}/{globalsettings}: the default loader and
    {bootmgr} get {globalsettings} in their inherit list, the other loader does not."""
    store = _store("win10-uefi-minimal-windeploy.bcd")
    default = store.default_guid()
    other = _other_loader(store)
    path = _write(store, tmp_path)
    before = registry(path.read_bytes())
    result = sc.enable(str(path))
    assert any("created {emssettings}" in n for n in result.notices)
    reg = registry(path.read_bytes())
    glob = "{7ea2e1ac-2e61-4728-aaa3-896d9d0a9f0e}"
    assert glob in element_raw(reg, default, CODES["inherit"]).decode("utf-16-le")
    assert element_raw(reg, other, CODES["inherit"]) == element_raw(before, other,
                                                                    CODES["inherit"])
    assert element_raw(reg, other, CODES["ems"]) is None
