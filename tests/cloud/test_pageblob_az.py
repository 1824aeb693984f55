"""`az://ACCOUNT/CONTAINER/BLOB` with a real credential, against Azurite: the az CLI's
environment (a connection string with the account key or with a SAS), end to end through the
same transaction as SAS URLs, and the answers a busy or contested blob gives (another lease,
a blob rewritten or resized between read and write, 409/412/503, throttling).  What landed is
read back with the SDK and mtools/python-registry; no key or signature appears anywhere."""

from __future__ import annotations

import json
import os
import uuid
from functools import partial

import pytest

from bcdtool.bcd import bcdedit
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import InvalidArgumentError, LockedError, WriteError
from bcdtool.locate import open_hive
from bcdtool.locate.commit import commit as commit_handle
from fixtures import images
from fixtures.azurite import ACCOUNT, ACCOUNT_KEY
from tests.cloud.cloud_helpers import RefusingProxy, leaked, tree_text
from tests.helpers.common import run_process
from tests.ops.ops_helpers import assert_recipe, store_bytes

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
bcdtool = partial(run_process, timeout=300)


def connection_string(port: int, *, sas: str = "") -> str:
    """What `az storage account show-connection-string` gives, for Azurite on `port`."""
    endpoint = f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
    if sas:
        return endpoint + f"SharedAccessSignature={sas}"
    return f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};" \
        + endpoint


@pytest.fixture
def az_blob(azurite, windows_raw, tmp_path, monkeypatch):
    """A fresh page blob with the Windows disk, named az://devstoreaccount1/vhds/NAME, and an
    environment whose AZURE_STORAGE_CONNECTION_STRING holds the account key."""
    raw, disk = windows_raw
    vhd = images.convert(raw, "vhd-fixed", tmp_path)
    name = f"{uuid.uuid4().hex[:12]}.vhd"
    azurite.upload_page_blob("vhds", name, vhd)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    env.update(AZURE_STORAGE_CONNECTION_STRING=connection_string(azurite.port),
               XDG_STATE_HOME=str(tmp_path / "state"))
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", env["AZURE_STORAGE_CONNECTION_STRING"])
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    class Blob:
        url = f"az://{ACCOUNT}/vhds/{name}"
        state = tmp_path / "state"

        @staticmethod
        def client():
            return azurite.service().get_blob_client("vhds", name)

        @staticmethod
        def content() -> bytes:
            return azurite.download("vhds", name)

        @staticmethod
        def store() -> bytes:
            image = tmp_path / "downloaded.img"
            image.write_bytes(azurite.download("vhds", name)[:-512])     # minus the VHD footer
            return store_bytes(image, disk, tmp_path)

    Blob.env = env
    Blob.name = name
    return Blob


def no_secret(blob, *procs, extra: tuple[str, ...] = ()) -> bool:
    secrets = (ACCOUNT_KEY, ACCOUNT_KEY[:20], "sig=", *extra)
    texts = [t for p in procs for t in (p.stdout, p.stderr)] + [tree_text(blob.state)]
    return not any(leaked(s, *texts) for s in secrets)


def test_az_url_with_an_account_key_end_to_end(az_blob):
    before_store, before = az_blob.store(), az_blob.content()
    status = bcdtool("serial-console", "status", az_blob.url, env=az_blob.env)
    assert status.returncode == 3, status.stderr              # not enabled yet: read fine
    first = bcdtool("serial-console", "enable", az_blob.url, "--json", env=az_blob.env)
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["write"]["verified"] and doc["journal"]
    assert_recipe(az_blob.store())                          # python-registry reads the new store
    after = az_blob.content()
    assert 0 < sum(after[i:i + 512] != before[i:i + 512] for i in range(0, len(after), 512)) <= 16
    again = bcdtool("serial-console", "enable", az_blob.url, env=az_blob.env)
    assert again.returncode == 0 and "nothing to change" in again.stdout
    undo = bcdtool("undo", doc["journal"], "--target", az_blob.url, env=az_blob.env)
    assert undo.returncode == 0, undo.stderr
    assert az_blob.store() == before_store and az_blob.content() == before
    assert no_secret(az_blob, status, first, again, undo)
    assert az_blob.url in (az_blob.state / "bcdtool" / "audit.jsonl").read_text()


def test_az_url_with_a_sas_connection_string_reads_and_refuses_writes_without_w(azurite,
                                                                                 az_blob):
    token = azurite.sas_url("vhds", az_blob.name, write=False).split("?", 1)[1]
    env = dict(az_blob.env, AZURE_STORAGE_CONNECTION_STRING=connection_string(
        azurite.port, sas=token))
    before = az_blob.content()
    status = bcdtool("serial-console", "status", az_blob.url, env=env)
    assert status.returncode == 3, status.stderr
    enable = bcdtool("serial-console", "enable", az_blob.url, env=env)
    assert enable.returncode == 16, enable.stderr             # read-only: the Azure flows
    assert az_blob.content() == before
    assert no_secret(az_blob, status, enable, extra=(token.split("sig=")[1][:16],))


@pytest.mark.parametrize("variable, value", [
    ("AZURE_STORAGE_CONNECTION_STRING",
     "DefaultEndpointsProtocol=https;AccountName=otheraccount;AccountKey=a2V5;"),
    ("AZURE_STORAGE_ACCOUNT", "otheraccount"),
])
def test_a_credential_for_another_account_is_refused_before_any_request(variable, value,
                                                                         monkeypatch, tmp_path):
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    env.update({variable: value, "AZURE_STORAGE_KEY": "a2V5", "XDG_STATE_HOME": str(tmp_path)})
    proc = bcdtool("doctor", f"az://{ACCOUNT}/vhds/x.vhd", env=env)
    assert proc.returncode == InvalidArgumentError.exit_code, proc.stderr
    assert "otheraccount" in proc.stderr and ACCOUNT in proc.stderr
    assert "a2V5" not in proc.stderr


def test_another_lease_is_refused_with_the_next_step(az_blob):
    before = az_blob.content()
    lease = az_blob.client().acquire_lease(lease_duration=-1)
    try:
        proc = bcdtool("serial-console", "enable", az_blob.url, env=az_blob.env)
    finally:
        lease.release()
    assert proc.returncode == LockedError.exit_code, proc.stderr
    assert "leased by someone else" in proc.stderr and "lease break" in proc.stderr
    assert az_blob.content() == before and no_secret(az_blob, proc)


@pytest.mark.parametrize("change", ["rewritten", "resized"])
def test_a_blob_changed_between_read_and_write_is_not_written(az_blob, change):
    before = az_blob.content()
    with open_hive(az_blob.url) as handle:
        store = BcdStore(handle.hive)
        bcdedit.execute(bcdedit.parse_args(["/timeout", "9"]), store)
        image = store.to_bytes(same_size=True)
        if change == "rewritten":
            az_blob.client().upload_page(b"\x01" * 512, offset=len(before) - 4096, length=512)
        else:
            az_blob.client().resize_blob(len(before) + 1024 * 1024)
        with pytest.raises(WriteError, match="changed on the server"):
            commit_handle(handle, image, operation="test")
    after = az_blob.content()
    assert after[:len(before) - 4096] == before[:len(before) - 4096]


def _puts(method: str, path: str) -> bool:
    return method == "PUT" and "comp=page" in path


@pytest.mark.parametrize("status, code, times, exit_code", [
    (503, "ServerBusy", 1, 0),                 # throttled once: the SDK's retry carries on
    (503, "ServerBusy", 50, WriteError.exit_code),  # always busy: refused, original restored
    (412, "ConditionNotMet", 1, WriteError.exit_code),
    (409, "LeaseIdMismatchWithBlobOperation", 1, WriteError.exit_code),
])
def test_refused_page_writes_leave_the_original(azurite, az_blob, status, code, times,
                                                exit_code):
    before_store, before = az_blob.store(), az_blob.content()
    with RefusingProxy(azurite.port, _puts, status, times=times, code=code,
                       headers={"Retry-After": "0"}) as proxy:
        env = dict(az_blob.env, AZURE_STORAGE_CONNECTION_STRING=connection_string(proxy.port),
                   BCDTOOL_HTTP_RETRIES="2")
        proc = bcdtool("serial-console", "enable", az_blob.url, env=env)
    assert proxy.refused >= 1
    assert proc.returncode == exit_code, proc.stderr
    assert "Traceback" not in proc.stderr and no_secret(az_blob, proc)
    if exit_code == 0:
        assert_recipe(az_blob.store())
    elif status == 503:
        assert "try again in a few minutes" in proc.stderr and "ServerBusy" in proc.stderr
    if exit_code:
        assert az_blob.store() == before_store and az_blob.content() == before
        assert "original bytes read back unchanged" in proc.stderr, proc.stderr
        assert "try again" in proc.stderr or "run the command again" in proc.stderr
