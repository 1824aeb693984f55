"""`bcdtool bcdedit`: the Azure offline SAC recipe on copies of installed stores, verified with
python-registry (and hivex), and every error path: exit code, message, store bytes unchanged."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from Registry import Registry

from tests.helpers.common import need_tool, run_cli as run, sha

BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
EMS = "{0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9}"
RECIPE = [
    "/ems {default} on",
    "/emssettings EMSPORT:1 EMSBAUDRATE:115200",
    "/set {bootmgr} displaybootmenu yes",
    "/set {bootmgr} timeout 5",
    "/set {bootmgr} bootems yes",
    "/debug {default} off",
]
INSTALLED = ["win10-bios-installed-sysreserved.bcd", "win7-bios-installed-winre.bcd",
             "win11-uefi-installed-2025.bcd", "win10-uefi-installed-systemd-boot.bcd"]


def copy_store(corpus, tmp_path, name: str, *, logs: bool = True):
    """Copy a corpus store (and its logs) into tmp_path, writable."""
    src = corpus / "bcd" / name
    dst = tmp_path / "BCD"
    shutil.copyfile(src, dst)
    if logs:
        for log in src.parent.glob(name + ".LOG*"):
            shutil.copyfile(log, tmp_path / ("BCD" + log.name[len(name):]))
    return dst


def elements(path) -> dict[tuple[str, str], tuple[int, bytes]]:
    reg = Registry.Registry(io.BytesIO(path.read_bytes()))
    found = {}
    for obj in reg.open("Objects").subkeys():
        for elem in obj.subkey("Elements").subkeys():
            value = elem.value("Element")
            found[(obj.name().lower(), elem.name().lower())] = (value.value_type(),
                                                                value.raw_data())
    return found


def default_loader(path) -> str:
    reg = Registry.Registry(io.BytesIO(path.read_bytes()))
    raw = reg.open(f"Objects\\{BOOTMGR}\\Elements\\23000003").value("Element").raw_data()
    return raw.decode("utf-16-le").rstrip("\0").lower()


@pytest.mark.parametrize("name", INSTALLED)
def test_azure_sac_recipe(corpus, tmp_path, capsys, name):
    store = copy_store(corpus, tmp_path, name)
    before = elements(store)
    size = store.stat().st_size
    loader = default_loader(store)
    for line in RECIPE:
        code, out, err = run(capsys, "bcdedit", "/store", str(store), *line.split())
        assert code == 0, err
        assert out == "The operation completed successfully.\n"
    after = elements(store)
    binary = 3
    expected = {  # bcd.md §9 "Net registry effect of the recipe"
        (BOOTMGR, "26000020"): (binary, b"\x01"),
        (BOOTMGR, "25000004"): (binary, bytes.fromhex("0500000000000000")),
        (BOOTMGR, "16000020"): (binary, b"\x01"),
        (loader, "260000b0"): (binary, b"\x01"),
        (EMS, "15000022"): (binary, bytes.fromhex("0100000000000000")),
        (EMS, "15000023"): (binary, bytes.fromhex("00c2010000000000")),
        (loader, "260000a0"): (binary, b"\x00"),
    }
    for key, value in expected.items():
        assert after[key] == value, key
    untouched = {k: v for k, v in after.items() if k not in expected}
    assert untouched == {k: v for k, v in before.items() if k not in expected}
    assert store.stat().st_size == size
    data = store.read_bytes()
    assert data[4:8] == data[8:12]  # sequence numbers equal: a clean hive


def test_recipe_output_checked_by_hivex(corpus, tmp_path, capsys):
    tool = need_tool("hivexregedit")
    store = copy_store(corpus, tmp_path, "win10-bios-installed-sysreserved.bcd")
    for line in RECIPE:
        assert run(capsys, "bcdedit", "--store", str(store), *line.split())[0] == 0
    text = subprocess.run([tool, "--export", str(store), f"\\Objects\\{EMS}\\Elements"],
                          capture_output=True, text=True, check=True).stdout
    assert '"Element"=hex(3):00,c2,01,00,00,00,00,00' in text
    assert '"Element"=hex(3):01,00,00,00,00,00,00,00' in text


def test_enum_through_bcdedit_matches_real_output(corpus, capsys):
    code, out, _ = run(capsys, "bcdedit", "/store", str(corpus / "bcd" / "win10-media-bios.bcd"))
    expected = (corpus / "enum" / "win10-setup-media-pcat-store-enum.txt").read_text()
    assert code == 0 and out == "\n" + expected


def test_enum_opens_read_only(corpus, tmp_path, capsys):
    store = copy_store(corpus, tmp_path, "win10-media-bios.bcd")
    store.chmod(0o444)
    digest = sha(store)
    code, out, _ = run(capsys, "bcdedit", "/store", str(store), "/enum", "ALL", "/v")
    assert code == 0 and "Windows Boot Loader" in out and sha(store) == digest


@pytest.mark.parametrize("line, exit_code, message", [
    ("/ems {bootmgr} on", 22, "does not apply to the specified entry"),
    ("/set {bootmgr} nosuch 1", 22, "is not recognized"),
    ("/set {nonsense} timeout 5", 21, "The specified entry identifier is not valid."),
    ("/set {00000000-0000-0000-0000-000000000001} bootems on", 15,
     "An error occurred while attempting to reference the specified entry."),
    ("/ems {ntldr} on", 15, "An error occurred while attempting to reference"),
    ("/set {default} nx bogus", 24, "The integer data 'bogus' is not valid"),
    ("/set {default} ems maybe", 24, "The boolean value 'maybe' is not valid"),
    ("/frobnicate", 24, "The parameter is incorrect."),
    ("/deletevalue {default} ems", 15, "Element not found."),
    ("/delete {memdiag}", 20, "well-known identifier"),
    ("/set {default} osdevice partition=C:", 17, "partition=mbr:"),
    ("/create {bootmgr}", 20, "already exists"),
    ("/emssettings EMSPORT", 24, "The parameter is incorrect."),
    ("/timeout soon", 24, "not valid"),
])
def test_errors_leave_store_untouched(corpus, tmp_path, capsys, line, exit_code, message):
    store = copy_store(corpus, tmp_path, "win10-bios-installed-sysreserved.bcd")
    digest = sha(store)
    code, out, err = run(capsys, "bcdedit", "/store", str(store), *line.split())
    assert code == exit_code, err
    assert message in err and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert sha(store) == digest


def test_no_store_named(capsys):
    code, _, err = run(capsys, "bcdedit", "/ems", "{default}", "on")
    assert code == 37 and "/store" in err and "running Windows" in err


def test_missing_store_file(tmp_path, capsys):
    code, _, err = run(capsys, "bcdedit", "/store", str(tmp_path / "nothing"), "/enum")
    assert code != 0 and "Traceback" not in err and err.startswith("bcdtool: error:")


def test_not_a_bcd_store(corpus, tmp_path, capsys):
    hive = tmp_path / "SAM"
    shutil.copyfile(corpus / "hives" / "SAM", hive)
    digest = sha(hive)
    code, _, err = run(capsys, "bcdedit", "/store", str(hive), "/timeout", "5")
    assert code == 20 and "not a BCD store" in err and sha(hive) == digest


def test_truncated_store(corpus, tmp_path, capsys):
    store = tmp_path / "BCD"
    store.write_bytes((corpus / "bcd" / "win10-media-bios.bcd").read_bytes()[:6000])
    digest = sha(store)
    code, _, err = run(capsys, "bcdedit", "/store", str(store), "/timeout", "5")
    assert code in (11, 13) and "Traceback" not in err and sha(store) == digest


def test_dry_run_writes_nothing(corpus, tmp_path, capsys):
    store = copy_store(corpus, tmp_path, "win10-bios-installed-sysreserved.bcd")
    digest = sha(store)
    code, out, _ = run(capsys, "bcdedit", "--dry-run", "/store", str(store), "/ems", "{default}",
                       "on")
    assert code == 0 and "ems: (absent) -> Yes" in out and "nothing written" in out
    assert sha(store) == digest


def test_emssettings_creates_object_and_says_so(corpus, tmp_path, capsys):
    store = copy_store(corpus, tmp_path, "win10-uefi-minimal-windeploy.bcd")
    code, out, err = run(capsys, "bcdedit", "/store", str(store), "/emssettings", "EMSPORT:1",
                         "EMSBAUDRATE:115200")
    assert code == 0 and "created {emssettings}" in err
    reg = Registry.Registry(str(store))
    assert reg.open(f"Objects\\{EMS}\\Description").value("Type").value() == 0x20100000
    assert reg.open(f"Objects\\{EMS}\\Elements\\15000023").value("Element").raw_data() == \
        bytes.fromhex("00c2010000000000")


def test_current_notice(corpus, tmp_path, capsys):
    store = copy_store(corpus, tmp_path, "win10-bios-installed-sysreserved.bcd")
    code, _, err = run(capsys, "bcdedit", "/store", str(store), "/ems", "{current}", "on")
    assert code == 0 and "{current}" in err and "{default}" in err
    assert elements(store)[(default_loader(store), "260000b0")][1] == b"\x01"


def test_createstore_export_import(corpus, tmp_path, capsys):
    new = tmp_path / "new.bcd"
    assert run(capsys, "bcdedit", "/createstore", str(new))[0] == 0
    reg = Registry.Registry(str(new))
    assert reg.root().name() == "NewStoreRoot"
    assert [k.name() for k in reg.root().subkeys()] == ["Description", "Objects"]
    code, _, err = run(capsys, "bcdedit", "/createstore", str(new))
    assert code == 20 and "exists" in err

    source = corpus / "bcd" / "win10-media-bios.bcd"
    exported = tmp_path / "exported.bcd"
    assert run(capsys, "bcdedit", "/store", str(source), "/export", str(exported))[0] == 0
    assert exported.read_bytes() == source.read_bytes()

    assert run(capsys, "bcdedit", "/store", str(new), "/import", str(exported))[0] == 0
    assert elements(new) == elements(source)


def test_create_then_set_then_delete(corpus, tmp_path, capsys):
    store = copy_store(corpus, tmp_path, "win10-bios-installed-sysreserved.bcd")
    code, out, _ = run(capsys, "bcdedit", "/store", str(store), "/create", "/d", "Rescue shell",
                       "/application", "osloader")
    assert code == 0
    guid = out.split()[2]
    assert run(capsys, "bcdedit", "/store", str(store), "/displayorder", guid, "/addlast")[0] == 0
    found = elements(store)
    assert found[(guid, "12000004")][1] == "Rescue shell\0".encode("utf-16-le")
    assert guid.encode("utf-16-le") in found[(BOOTMGR, "24000001")][1]
    assert run(capsys, "bcdedit", "/store", str(store), "/delete", guid)[0] == 0
    found = elements(store)
    assert not any(k[0] == guid for k in found)
    assert guid.encode("utf-16-le") not in found[(BOOTMGR, "24000001")][1]


@pytest.mark.parametrize("firmware, name", [("uefi", "win11-uefi-installed-2025.bcd"),
                                            ("bios", "win10-bios-installed-sysreserved.bcd")])
def test_recipe_inside_a_disk_image(corpus, tmp_path, capsys, firmware, name):
    """The same recipe through `--store disk.img`, read back with mtools / ntfscat."""
    from fixtures import images

    tools = ("sfdisk", "mkfs.fat", "mcopy", "mmd") if firmware == "uefi" else \
        ("sfdisk", "mkntfs", "ntfscp", "ntfscat")
    if images.missing_tools(tools):
        pytest.skip(f"missing {images.missing_tools(tools)}")
    source = corpus / "bcd" / name
    disk = tmp_path / "disk.img"
    built = (images.build_esp_disk if firmware == "uefi" else images.build_mbr_disk)(
        disk, source.read_bytes())
    for line in RECIPE:
        code, out, err = run(capsys, "bcdedit", "--store", str(disk), *line.split())
        assert code == 0, err
    part = built.bcd_part
    if firmware == "uefi":
        data = images.fat_get(disk, built.bcd_path, offset=part.start)
    else:
        volume = images.extract(disk, tmp_path / "part.ntfs", part.start, part.length)
        data = images.ntfs_get(volume, built.bcd_path)
    written = tmp_path / "BCD.read-back"
    written.write_bytes(data)
    assert len(data) == source.stat().st_size
    found = elements(written)
    loader = default_loader(written)
    assert found[(loader, "260000b0")] == (3, b"\x01")
    assert found[(EMS, "15000023")] == (3, bytes.fromhex("00c2010000000000"))
    assert found[(BOOTMGR, "25000004")] == (3, bytes.fromhex("0500000000000000"))
    code, out, _ = run(capsys, "enum", str(disk))
    assert code == 0 and "ems                     Yes" in out.splitlines()


def test_read_only_refuses_writes(corpus, tmp_path, capsys):
    store = copy_store(corpus, tmp_path, "win10-bios-installed-sysreserved.bcd")
    digest = sha(store)
    code, out, err = run(capsys, "bcdedit", "--read-only", "/store", str(store), "/ems",
                         "{default}", "on")
    assert code == 16 and out == "" and sha(store) == digest


def test_dirty_hive_without_logs_is_refused(corpus, tmp_path, capsys):
    hive = tmp_path / "BCD"
    shutil.copyfile(corpus / "hives" / "SECURITY-dirty-nolog", hive)
    digest = sha(hive)
    code, _, err = run(capsys, "bcdedit", "/store", str(hive), "/timeout", "5")
    # a dirty primary with no logs reads as a torn write (27) or unrecoverable (14); never edited
    assert code in (14, 27) and "Traceback" not in err and sha(hive) == digest


def test_a_windows_store_path_alone_names_what_to_give(tmp_path, capsys, monkeypatch):
    """`/store C:\\BCD` on Linux: no such file here, and nothing is created under that name."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "bcdedit", "/store", "C:\\BCD", "/set", "{default}", "nx",
                       "OptIn")
    assert code == 24 and "Windows path" in err and "--store DISK" in err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("C:")]


def test_sysstore_and_help_need_no_store(capsys):
    code, _, err = run(capsys, "bcdedit", "/sysstore", "C:")
    assert code == 37 and "live Windows" in err and err.count("\n") == 1
    code, out, _ = run(capsys, "bcdedit", "/?", "TYPES", "BOOTMGR")
    assert code == 0 and "displaybootmenu                 boolean" in out
