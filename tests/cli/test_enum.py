"""`bcdtool enum TARGET`: alias and GUID together, partition identities, complete JSON."""

from __future__ import annotations

import json

import pytest
from Registry import Registry

from tests.helpers.common import corpus_files, run_cli as run


def test_text_shows_alias_guid_and_partition(corpus, capsys):
    code, out, err = run(
        capsys, "enum", str(corpus / "bcd" / "win10-bios-installed-sysreserved.bcd")
    )
    assert code == 0 and "store: hive file" in err
    lines = out.splitlines()
    assert "identifier              {bootmgr} {9dea862c-5cdd-4e70-acc1-f32b344d4795}" in lines
    assert "device                  partition=<MBR disk 76a4a23d offset 0x100000 (1 MiB)>" in lines
    assert "EMS Settings" not in lines  # only active objects by default
    code, out, _ = run(
        capsys, "enum", "--all", str(corpus / "bcd" / "win10-bios-installed-sysreserved.bcd")
    )
    assert "EMS Settings" in out.splitlines()


def test_gpt_partition_identity(corpus, capsys):
    code, out, _ = run(capsys, "enum", str(corpus / "bcd" / "win11-uefi-installed-2025.bcd"))
    assert code == 0
    assert any(line.startswith("device                  partition=<GPT disk {") for line in
               out.splitlines())


def test_id_option_and_verbose(corpus, capsys):
    path = str(corpus / "bcd" / "win10-bios-installed-sysreserved.bcd")
    code, out, _ = run(capsys, "enum", path, "--id", "{c77a2611-6d5b-11eb-9ff2-e9f459e1e131}")
    assert code == 0 and "custom:46000010" not in out
    code, out, _ = run(capsys, "enum", path, "-v", "--id", "{C77A2611-6D5B-11EB-9FF2-E9F459E1E131}")
    assert "custom:46000010         Yes" in out.splitlines()
    code, _, err = run(capsys, "enum", path, "--id", "{bogus}")
    assert code == 21 and "not valid" in err


@pytest.mark.parametrize("path", [p for p in corpus_files("bcd", "*.bcd")], ids=lambda p: p.name)
def test_json_has_every_element(path, capsys):
    code, out, _ = run(capsys, "enum", "--all", "--json", str(path))
    assert code == 0
    doc = json.loads(out)
    reg = Registry.Registry(str(path))
    expected = {}
    for obj in reg.open("Objects").subkeys():
        for elem in obj.subkey("Elements").subkeys():
            expected[(obj.name().lower(), int(elem.name(), 16))] = elem
    seen = set()
    for obj in doc["objects"]:
        for elem in obj["elements"]:
            key = (obj["guid"], int(elem["code"], 16))
            seen.add(key)
            assert {"code", "name", "format", "raw", "value", "text"} <= elem.keys()
            raw = expected[key].value("Element").raw_data()
            assert elem["raw"] == raw.hex() or (raw == b"" and elem["raw"] == "0000")
    assert seen == set(expected)
    assert doc["target"]["kind"] == "file"


def test_json_values(corpus, capsys):
    code, out, _ = run(capsys, "enum", "--json", str(corpus / "bcd" / "win10-media-bios.bcd"))
    doc = json.loads(out)
    loader = doc["objects"][1]
    assert loader["alias"] == "{default}" and loader["title"] == "Windows Boot Loader"
    device = next(e for e in loader["elements"] if e["name"] == "device")
    assert device["format"] == "device" and device["value"]["type"] == "ramdisk"
    assert device["value"]["parent"] == {"type": "boot"}
    assert device["value"]["path"] == "\\sources\\boot.wim"
    bmp = next(e for e in loader["elements"] if e["name"] == "bootmenupolicy")
    assert bmp["value"] == 1 and bmp["text"] == "Standard" and bmp["raw"] == "0100000000000000"


def test_not_a_hive(tmp_path, capsys):
    bad = tmp_path / "BCD"
    bad.write_bytes(b"not a hive at all" * 100)
    code, _, err = run(capsys, "enum", str(bad))
    assert code != 0 and "Traceback" not in err and err.startswith("bcdtool: error:")


@pytest.mark.parametrize("firmware", ["bios", "uefi"])
def test_partitions_of_the_disk_itself_are_named(corpus, tmp_path, capsys, firmware):
    """A store inside a disk image whose devices point at that disk: enum says which partition."""
    import shutil
    import subprocess

    from fixtures import images

    tools = ["sfdisk"] + (["mkntfs", "ntfscp"] if firmware == "bios" else ["mkfs.fat", "mcopy"])
    if images.missing_tools(tools):
        pytest.skip(f"missing {images.missing_tools(tools)}")
    store = tmp_path / "BCD"
    shutil.copyfile(corpus / "bcd" / "win10-bios-installed-sysreserved.bcd", store)
    disk = tmp_path / "disk.img"
    if firmware == "bios":
        device = "partition=mbr:1b2c3d4e:1048576"        # fixture MBR label-id, partition 1
        build = images.build_mbr_disk
    else:
        # the fixture's GPT disk GUID; sfdisk picks the partition GUID, so build once to learn it
        images.build_esp_disk(disk, store.read_bytes())
        table = json.loads(subprocess.run(["sfdisk", "--json", str(disk)], check=True,
                                          capture_output=True, text=True).stdout)
        part_guid = table["partitiontable"]["partitions"][0]["uuid"].lower()
        device = f"partition=gpt:{{8d2a6c1e-6e4b-4f3a-9c5d-1b2c3d4e5f60}}:{{{part_guid}}}"
        build = None
    code, _, err = run(capsys, "bcdedit", "/store", str(store), "/set", "{default}", "osdevice",
                       device)
    assert code == 0, err
    if build is not None:
        build(disk, store.read_bytes())
    else:
        target = images.mtools_target(disk, images.FIRST_LBA * images.SECTOR)
        subprocess.run(["mcopy", "-o", "-i", target, str(store), "::/EFI/Microsoft/Boot/BCD"],
                       check=True, env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"})
        assert json.loads(subprocess.run(["sfdisk", "--json", str(disk)], check=True,
                                         capture_output=True, text=True).stdout)[
            "partitiontable"]["partitions"][0]["uuid"].lower() == part_guid
    code, out, err = run(capsys, "enum", str(disk))
    assert code == 0, err
    osdevice = next(line for line in out.splitlines() if line.startswith("osdevice"))
    assert osdevice.endswith(": partition 1 of this disk>")
    device_line = next(line for line in out.splitlines() if line.startswith("device "))
    assert "of this disk" not in device_line           # the original disk is not this one
    code, out, _ = run(capsys, "enum", "--json", str(disk))
    loader = json.loads(out)["objects"][1]
    text = next(e["text"] for e in loader["elements"] if e["name"] == "osdevice")
    assert text.endswith(": partition 1 of this disk>")
