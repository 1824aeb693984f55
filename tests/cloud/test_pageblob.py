"""Azure page blobs written in place, against Azurite (Microsoft's storage emulator, real server).

Every check of what landed in the blob reads it back with the account key through the Azure
SDK and then with mtools (an independent FAT reader) and python-registry (an independent hive
reader), never only through bcdtool.
"""

from __future__ import annotations

import json
import os
import uuid
from functools import partial

import pytest

from tests.helpers.common import run_process

from azure.storage.blob import BlobLeaseClient

from bcdtool.bcd import bcdedit
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import LockedError, WriteError
from bcdtool.locate import open_hive
from bcdtool.locate.commit import commit as commit_handle
from bcdtool.ops.serial_console import SerialOptions, enable
from bcdtool.write import observe
from tests.crash.crash_support import FAULT_EXIT, INJECT
from tests.cloud.cloud_helpers import leaked, tree_text
from fixtures import images
from tests.ops.ops_helpers import assert_recipe, registry, store_bytes

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


#: `bcdtool ARGS` as a process (a blob round trip through Azurite can take a while on load).
bcdtool = partial(run_process, timeout=300)


@pytest.fixture
def blob(azurite, windows_raw, tmp_path, monkeypatch):
    """A fresh page blob holding the Windows disk as a fixed VHD, and what a test needs."""
    raw, disk = windows_raw
    vhd = images.convert(raw, "vhd-fixed", tmp_path)
    name = f"{uuid.uuid4().hex[:12]}.vhd"
    azurite.upload_page_blob("vhds", name, vhd)
    env = dict(os.environ)

    class Blob:
        url = azurite.sas_url("vhds", name)
        read_only_url = azurite.sas_url("vhds", name, write=False)
        secret = url.split("sig=")[1].split("&")[0]
        state = tmp_path / "state"

        @staticmethod
        def content() -> bytes:
            return azurite.download("vhds", name)

        @staticmethod
        def store() -> bytes:
            """The BCD store as mtools reads it from the blob's bytes."""
            image = tmp_path / "downloaded.img"
            image.write_bytes(azurite.download("vhds", name)[:-512])     # minus the VHD footer
            return store_bytes(image, disk, tmp_path)

        @staticmethod
        def client():
            return azurite.service().get_blob_client("vhds", name)

    Blob.env = env
    return Blob


def assert_no_secret(blob, *procs):
    for proc in procs:
        assert not leaked(blob.secret, proc.stdout, proc.stderr), proc
    assert not leaked(blob.secret, tree_text(blob.state))


def test_enable_verify_idempotent_undo(blob):
    before_store, before_all = blob.store(), blob.content()
    first = bcdtool("serial-console", "enable", blob.url, "--json", env=blob.env)
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["changes"] and doc["journal"] and doc["write"]["verified"]
    assert_recipe(blob.store())                           # python-registry reads the new store
    after_all = blob.content()
    changed = [i for i in range(0, len(after_all), 512)
               if after_all[i:i + 512] != before_all[i:i + 512]]
    assert 0 < len(changed) <= 16                          # a few pages, nothing else
    etag = blob.client().get_blob_properties().etag
    second = bcdtool("serial-console", "enable", blob.url, env=blob.env)
    assert second.returncode == 0 and "nothing to change" in second.stdout
    assert blob.client().get_blob_properties().etag == etag        # nothing written
    status = bcdtool("serial-console", "status", blob.url, env=blob.env)
    assert status.returncode == 0, status.stdout
    undo = bcdtool("undo", doc["journal"], "--target", blob.url, env=blob.env)
    assert undo.returncode == 0, undo.stderr
    assert blob.store() == before_store and blob.content() == before_all
    assert_no_secret(blob, first, second, status, undo)
    audit = (blob.state / "bcdtool" / "audit.jsonl").read_text()
    assert blob.url.split("?")[0] in audit


def test_undo_without_the_sas_is_refused_clearly(blob):
    first = bcdtool("serial-console", "enable", blob.url, "--json", env=blob.env)
    journal = json.loads(first.stdout)["journal"]
    undo = bcdtool("undo", journal, env=blob.env)
    assert undo.returncode == 33, undo.stderr          # the journal holds no secret
    assert "Traceback" not in undo.stderr


def test_bcdedit_and_hive_set_on_a_page_blob(blob):
    set_timeout = bcdtool("bcdedit", "/store", blob.url, "/timeout", "7", env=blob.env)
    assert set_timeout.returncode == 0, set_timeout.stderr
    reg = registry(blob.store())
    mgr = reg.open("Objects\\{9dea862c-5cdd-4e70-acc1-f32b344d4795}\\Elements\\25000004")
    assert int.from_bytes(mgr.value("Element").value()[:8], "little") == 7
    hive_set = bcdtool("hive", "set", blob.url, "--path", "Windows/System32/config/SYSTEM",
                       "Select", "Marker", "--type", "REG_DWORD", "--data", "5", env=blob.env)
    assert hive_set.returncode == 0, hive_set.stderr
    crash = bcdtool("windows", "crashdump", "enable", blob.url, env=blob.env)
    assert crash.returncode == 0, crash.stderr
    sac = bcdtool("windows", "sac", "enable", blob.url, env=blob.env)
    assert sac.returncode == 0, sac.stderr
    repair = bcdtool("repair", "boot", blob.url, env=blob.env)
    assert repair.returncode == 0, repair.stderr
    info = bcdtool("windows", "info", blob.url, "--json", env=blob.env)
    facts = json.loads(info.stdout)
    assert all(c["nmi_ready"] for c in facts["crash_control"]), facts
    assert_no_secret(blob, set_timeout, hive_set, crash, sac, repair, info)


def test_lease_held_by_someone_else_refuses_and_writes_nothing(blob):
    before = blob.content()
    lease = blob.client().acquire_lease(lease_duration=-1)
    try:
        proc = bcdtool("serial-console", "enable", blob.url, env=blob.env)
    finally:
        lease.release()
    assert proc.returncode == LockedError.exit_code, proc.stderr
    assert "leased by someone else" in proc.stderr and "lease break" in proc.stderr
    assert blob.content() == before
    assert_no_secret(blob, proc)


def test_read_only_sas_refuses_with_the_azure_flows(blob):
    before = blob.content()
    proc = bcdtool("serial-console", "enable", blob.read_only_url, env=blob.env)
    assert proc.returncode == 16, proc.stderr
    for command in ("az snapshot create", "az storage blob copy start", "az vm update",
                    "--os-disk", "--upload-type Upload"):
        assert command in proc.stderr
    assert blob.content() == before
    status = bcdtool("serial-console", "status", blob.read_only_url, env=blob.env)
    assert status.returncode == 3                       # reading is fine
    assert not leaked(blob.read_only_url.split("sig=")[1], proc.stderr, status.stdout)


def test_etag_change_between_read_and_write_is_detected(blob, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(blob.state))
    before = blob.content()
    with open_hive(blob.url) as handle:
        store = BcdStore(handle.hive)
        bcdedit.execute(bcdedit.parse_args(["/timeout", "9"]), store)
        image = store.to_bytes(same_size=True)
        # another writer changes a page far from the store after we read it
        blob.client().upload_page(b"\x01" * 512, offset=len(before) - 4096, length=512)
        with pytest.raises(WriteError, match="changed on the server"):
            commit_handle(handle, image, operation="test")
    after = blob.content()
    assert after[:len(before) - 4096] == before[:len(before) - 4096]


def test_concurrent_writer_between_pages_is_detected_and_restored(blob, monkeypatch):
    """Someone breaks our lease and writes after our first Put Page: the next Put Page fails its
    If-Match, the transaction stops and puts the original pages back."""
    monkeypatch.setenv("XDG_STATE_HOME", str(blob.state))
    before_store, before = blob.store(), blob.content()
    calls = []

    def intruder(what=""):
        calls.append(what)
        if len(calls) == 2:
            client = blob.client()
            BlobLeaseClient(client).break_lease(lease_break_period=0)
            client.upload_page(b"\x02" * 512, offset=len(before) - 8192, length=512)

    observe.install(intruder)
    try:
        with pytest.raises(WriteError, match="original bytes were restored"):
            enable(blob.url, SerialOptions())
    finally:
        observe.uninstall(intruder)
    assert blob.store() == before_store
    assert blob.content()[len(before) - 8192:len(before) - 7680] == b"\x02" * 512


def test_killed_between_pages_is_noticed_and_undone(blob):
    before_store = blob.store()
    env = dict(blob.env, BCDTOOL_FAULT_AFTER_WRITES="2", PYTHONPATH=str(INJECT))
    killed = bcdtool("serial-console", "enable", blob.url, env=env)
    assert killed.returncode == FAULT_EXIT, killed.stderr
    status = bcdtool("serial-console", "status", blob.url, env=blob.env)
    assert status.returncode == 27, status.stderr          # interrupted write, with its journal
    journal = status.stderr.split("bcdtool undo ")[1].split("`")[0]
    undo = bcdtool("undo", journal, "--target", blob.url, env=blob.env)   # lease still held: ours
    assert undo.returncode == 0, undo.stderr
    assert blob.store() == before_store
    again = bcdtool("serial-console", "enable", blob.url, env=blob.env)
    assert again.returncode == 0, again.stderr
    assert_recipe(blob.store())
    assert_no_secret(blob, killed, status, undo, again)


def test_missing_blob_and_bad_signature(blob, azurite):
    missing = azurite.sas_url("vhds", "nope.vhd")
    proc = bcdtool("serial-console", "enable", missing, env=blob.env)
    assert proc.returncode == 15, proc.stderr
    forged = blob.url.replace("sig=", "sig=AAAA")
    proc2 = bcdtool("serial-console", "status", forged, env=blob.env)
    assert proc2.returncode == 33, proc2.stderr
    assert not leaked("AAAA", proc2.stderr)


def test_batch_takes_urls_with_secrets_from_the_environment(blob, azurite, tmp_path):
    base, token = blob.url.split("?", 1)
    manifest = tmp_path / "fleet.jsonl"
    manifest.write_text(json.dumps({"target": base, "sas_env": "DISK_SAS"}) + "\n"
                        + json.dumps({"target": base.replace(".vhd", "-other.vhd"),
                                      "sas_env": "OTHER_SAS"}) + "\n")
    output = tmp_path / "out.jsonl"
    proc = bcdtool("batch", manifest, "--json", "--jobs", "1", "--output", output,
                   env=dict(blob.env, DISK_SAS=token))
    assert proc.returncode == 3, proc.stderr            # the second target has no SAS
    first, second, summary = [json.loads(x) for x in proc.stdout.splitlines()]
    assert first["status"] == "ok" and first["target"] == base and first["journal"]
    assert second["status"] == "failed" and second["exit_code"] == 24
    assert "OTHER_SAS" in second["error"]
    assert summary["summary"]["ok"] == 1
    assert_recipe(blob.store())
    assert not leaked(blob.secret, proc.stdout, proc.stderr, output.read_text())
    assert_no_secret(blob)
    again = bcdtool("batch", manifest, "--json", "--jobs", "1", "--output", output, "--continue",
                    env=dict(blob.env, DISK_SAS=token))
    assert "skipping 1 target(s)" in again.stderr


def test_batch_refuses_sas_env_on_a_url_that_has_a_query(blob, tmp_path):
    manifest = tmp_path / "fleet.jsonl"
    manifest.write_text(json.dumps({"target": blob.url, "sas_env": "DISK_SAS"}) + "\n")
    proc = bcdtool("batch", manifest, env=blob.env)
    assert proc.returncode == 24 and "sas_env" in proc.stderr
    assert not leaked(blob.secret, proc.stdout, proc.stderr)


def test_block_blobs_are_read_but_not_written(azurite, windows_raw, tmp_path):
    raw, _ = windows_raw
    vhd = images.convert(raw, "vhd-fixed", tmp_path)
    container = azurite.service().get_container_client("blocks")
    if not container.exists():
        container.create_container()
    client = container.get_blob_client("block.vhd")
    with vhd.open("rb") as handle:
        client.upload_blob(handle, overwrite=True)
    url = azurite.sas_url("blocks", "block.vhd")
    env = dict(os.environ)
    status = bcdtool("serial-console", "status", url, env=env)
    assert status.returncode == 3, status.stderr           # read over plain HTTP
    enable_ = bcdtool("serial-console", "enable", url, env=env)
    assert enable_.returncode == 17 and "only page blobs" in enable_.stderr, enable_.stderr


def test_az_urls_must_name_account_container_and_blob(tmp_path):
    proc = bcdtool("doctor", "az://account-only", env=dict(os.environ))
    assert proc.returncode == 17 and "az://ACCOUNT/CONTAINER/BLOB" in proc.stderr, proc.stderr
