"""new-store: the bcdboot-like store compared with stores Windows installed (corpus), read with
python-registry: the same objects, types, inheritance and elements, minus WinRE."""

from __future__ import annotations

import pytest

from tests.ops.ops_helpers import BOOTMGR, LOADER, RESUME, new_store, registry

from bcdtool.errors import InvalidArgumentError

ALIASES = {"{0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9}": "{emssettings}",
           "{1afa9c49-16ab-4a5c-901b-212802da9460}": "{resumeloadersettings}",
           "{4636856e-540f-4170-a130-a84776f4c654}": "{dbgsettings}",
           "{5189b25c-5558-4bf2-bca4-289b11bd29e2}": "{badmemory}",
           "{6efb52bf-1766-41db-a6b3-0ee5eff72bd7}": "{bootloadersettings}",
           "{7ea2e1ac-2e61-4728-aaa3-896d9d0a9f0e}": "{globalsettings}",
           "{7ff607e0-4395-11db-b0de-0800200c9a66}": "{hypervisorsettings}",
           "{9dea862c-5cdd-4e70-acc1-f32b344d4795}": "{bootmgr}",
           "{a5a30fa2-3d06-4e9f-b5f4-a01df9d1fcba}": "{fwbootmgr}",
           "{b2721d73-1db4-4c62-bf78-c548a880142d}": "{memdiag}"}
#: Loader and resume elements that only exist with a WinRE entry or Hyper-V enabled.
OPTIONAL = {"14000008", "15000066", "16000009", "250000f0", "21000026"}


def _model(data: bytes) -> dict[str, tuple[int, frozenset[str], tuple[str, ...]]]:
    """{name: (type, element codes, inherit list)} with python-registry; the default loader is
    'loader', its resume object 'resume', well-known objects by alias."""
    reg = registry(data)
    default = reg.open(f"Objects\\{BOOTMGR}\\Elements\\23000003").value("Element").value()
    loader = default.lower()
    resume = reg.open(f"Objects\\{loader}\\Elements\\23000003").value("Element").value().lower()
    names = {loader: "loader", resume: "resume", **ALIASES}
    out = {}
    for key in reg.open("Objects").subkeys():
        guid = key.name().lower()
        if guid not in names:
            continue
        kind = key.subkey("Description").value("Type").value()
        codes = frozenset(e.name().lower() for e in key.subkey("Elements").subkeys())
        inherit: tuple[str, ...] = ()
        if "14000006" in codes:
            inherit = tuple(names.get(g.lower(), g) for g in
                            key.subkey("Elements").subkey("14000006").value("Element").value())
        out[names[guid]] = (kind, codes, inherit)
    return out


def test_uefi_store_matches_an_installed_windows_11_store(corpus):
    ours = _model(new_store("uefi"))
    theirs = _model((corpus / "bcd/win11-uefi-installed-2025.bcd").read_bytes())
    assert set(ours) == set(theirs)
    for name, (kind, codes, inherit) in theirs.items():
        our_kind, our_codes, our_inherit = ours[name]
        assert our_kind == kind, name
        assert our_inherit == inherit, name
        if name == "{fwbootmgr}":
            continue              # firmware's own list of boot entries: machine-specific
        assert our_codes <= codes | {"24000001"}, name
        assert codes - our_codes <= OPTIONAL, (name, sorted(codes - our_codes))


def test_bios_store_matches_an_installed_windows_10_store(corpus):
    ours = _model(new_store("bios"))
    theirs = _model((corpus / "bcd/win10-bios-windeploy-template.bcd").read_bytes())
    assert set(ours) == set(theirs)
    for name, (kind, _codes, inherit) in theirs.items():
        assert (ours[name][0], ours[name][2]) == (kind, inherit), name
    assert "12000002" not in ours["{bootmgr}"][1]          # BIOS bootmgr has no path
    assert ours["loader"][1] >= theirs["loader"][1]


def test_fixed_guids_sizes_and_validity():
    from bcdtool.regf.check import check
    from bcdtool.regf.hive import Hive

    for firmware in ("uefi", "bios"):
        data = new_store(firmware)
        assert len(data) == 32768
        assert all(any(data[i:i + 4096]) for i in range(0, len(data), 4096))
        assert not [f for f in check(Hive.from_bytes(data)) if f.severity == "error"]
        model = _model(data)
        assert "loader" in model and "resume" in model
    reg = registry(new_store("uefi"))
    assert reg.open(f"Objects\\{LOADER}\\Elements\\23000003").value("Element").value().lower() \
        == RESUME


def test_unknown_firmware_refused():
    from bcdtool.bcd.device import PartitionDevice
    from bcdtool.bcd.template import StoreLayout, build_store

    dev = PartitionDevice(style="mbr", disk_signature=1, partition_offset=1 << 20)
    with pytest.raises(InvalidArgumentError):
        build_store(StoreLayout("coreboot", dev, dev))


@pytest.mark.parametrize("firmware", ["uefi", "bios"])
def test_partition_identities_read_from_a_disk(tmp_path, firmware):
    import json
    import subprocess

    from tests.ops.ops_helpers import build_windows_disk

    from bcdtool.ops.new_store import disk_partitions

    raw = tmp_path / "disk.img"
    disk = build_windows_disk(firmware, raw)
    system, windows, why = disk_partitions(str(raw), firmware)
    if firmware == "bios":
        # sfdisk's label-id and partition starts, as the fixture script set them
        assert (system.style, system.disk_signature, system.partition_offset) == \
            ("mbr", 0x1B2C3D4E, disk.partitions[0].start)
        assert windows.partition_offset == disk.partitions[1].start
    else:
        dump = subprocess.run(["sfdisk", "--json", str(raw)], capture_output=True, text=True,
                              check=True).stdout
        table = json.loads(dump)["partitiontable"]
        assert system.disk_guid == "{" + table["id"].lower() + "}"
        assert [system.partition_guid, windows.partition_guid] == [
            "{" + p["uuid"].lower() + "}" for p in table["partitions"]]
    assert "Windows/System32/config/SYSTEM" in why[1]
