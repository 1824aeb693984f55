"""Azure blobs bcdtool must not write, or must not write this way, against Azurite: snapshots,
SAS tokens missing a permission, blobs that are not page blobs, odd sizes, and a blob that
changes between the read and the write.  What is in the blob afterwards is read with the
account key through the Azure SDK, never through bcdtool."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from functools import partial
from urllib.parse import quote

import pytest
from azure.storage.blob import BlobSasPermissions, generate_blob_sas

from fixtures import images
from fixtures.azurite import ACCOUNT, ACCOUNT_KEY
from tests.cloud.cloud_helpers import leaked, tree_text
from tests.helpers.common import run_process

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
bcdtool = partial(run_process, timeout=300)


def sas(azurite, container: str, name: str, permissions: str, **extra) -> str:
    token = generate_blob_sas(ACCOUNT, container, name, account_key=ACCOUNT_KEY,
                              permission=BlobSasPermissions.from_string(permissions),
                              expiry=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2),
                              **extra)
    return token


@pytest.fixture
def page_blob(azurite, windows_raw, tmp_path):
    """A fresh page blob with the Windows disk as a fixed VHD: (name, client)."""
    raw, _ = windows_raw
    vhd = images.convert(raw, "vhd-fixed", tmp_path)
    name = f"{uuid.uuid4().hex[:12]}.vhd"
    azurite.upload_page_blob("vhds", name, vhd)
    return name, azurite.service().get_blob_client("vhds", name)


def test_a_snapshot_url_is_read_but_never_written(azurite, page_blob, tmp_path):
    name, client = page_blob
    snap = client.create_snapshot()["snapshot"]
    token = sas(azurite, "vhds", name, "rw", snapshot=snap)
    url = f"{azurite.endpoint}/vhds/{name}?snapshot={quote(snap)}&{token}"
    before = azurite.service().get_blob_client("vhds", name, snapshot=snap) \
        .download_blob().readall()
    live = client.download_blob().readall()
    status = bcdtool("serial-console", "status", url, state=tmp_path / "state")
    enable = bcdtool("serial-console", "enable", url, state=tmp_path / "state")
    dry = bcdtool("serial-console", "enable", url, "--dry-run", state=tmp_path / "state")
    bcdedit = bcdtool("bcdedit", "/store", url, "/timeout", "3", state=tmp_path / "state")
    assert status.returncode == 3, status.stderr
    assert enable.returncode == dry.returncode == bcdedit.returncode == 16, \
        (enable.stderr, dry.stderr, bcdedit.stderr)
    assert "names a snapshot" in dry.stderr and "names a snapshot" in bcdedit.stderr
    assert "names a snapshot" in enable.stderr and "az storage blob copy start" in enable.stderr
    assert "Traceback" not in enable.stderr
    assert f"/vhds/{name}?snapshot={quote(snap)}" in enable.stderr     # which disk, named
    after = azurite.service().get_blob_client("vhds", name, snapshot=snap) \
        .download_blob().readall()
    assert after == before and client.download_blob().readall() == live
    secret = token.split("sig=")[1]
    assert not leaked(secret, status.stdout, status.stderr, enable.stderr,
                      tree_text(tmp_path / "state"))


def test_a_sas_without_read_permission_names_the_permissions_needed(azurite, page_blob,
                                                                     tmp_path):
    name, client = page_blob
    before = client.download_blob().readall()
    url = f"{azurite.endpoint}/vhds/{name}?{sas(azurite, 'vhds', name, 'w')}"
    proc = bcdtool("serial-console", "enable", url, state=tmp_path / "state")
    assert proc.returncode == 33, proc.stderr
    assert "sp=rw" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert client.download_blob().readall() == before


def test_a_sas_without_write_permission_writes_nothing(azurite, page_blob, tmp_path):
    name, client = page_blob
    before = client.download_blob().readall()
    for permissions in ("r", "rl", "rd"):
        url = f"{azurite.endpoint}/vhds/{name}?{sas(azurite, 'vhds', name, permissions)}"
        proc = bcdtool("bcdedit", "/store", url, "/timeout", "7", state=tmp_path / "state")
        assert proc.returncode == 16, (permissions, proc.stderr)
        assert "az snapshot create" in proc.stderr
    assert client.download_blob().readall() == before


def test_append_blobs_are_refused_for_writes(azurite, windows_raw, tmp_path):
    raw, _ = windows_raw
    vhd = images.convert(raw, "vhd-fixed", tmp_path)
    client = azurite.service().get_blob_client("vhds", f"{uuid.uuid4().hex[:8]}-append.vhd")
    client.create_append_blob()
    with vhd.open("rb") as handle:
        while chunk := handle.read(4 << 20):
            client.append_block(chunk)
    url = f"{azurite.endpoint}/vhds/{client.blob_name}?" \
          f"{sas(azurite, 'vhds', client.blob_name, 'rw')}"
    status = bcdtool("serial-console", "status", url, state=tmp_path / "state")
    enable = bcdtool("serial-console", "enable", url, state=tmp_path / "state")
    assert status.returncode == 3, status.stderr
    assert enable.returncode == 17 and "AppendBlob" in enable.stderr, enable.stderr
    assert client.download_blob().readall() == vhd.read_bytes()


def test_a_block_blob_whose_size_is_not_a_multiple_of_512(azurite, windows_raw, tmp_path):
    raw, _ = windows_raw
    data = raw.read_bytes() + b"\xee" * 100
    client = azurite.service().get_blob_client("vhds", f"{uuid.uuid4().hex[:8]}-odd.img")
    client.upload_blob(data)
    url = f"{azurite.endpoint}/vhds/{client.blob_name}?" \
          f"{sas(azurite, 'vhds', client.blob_name, 'rw')}"
    local = bcdtool("enum", raw, "--json")
    remote = bcdtool("enum", url, "--json", state=tmp_path / "state")
    enable = bcdtool("serial-console", "enable", url, state=tmp_path / "state")
    assert remote.returncode == local.returncode == 0, remote.stderr
    assert enable.returncode == 17 and "only page blobs" in enable.stderr, enable.stderr
    assert client.download_blob().readall() == data


def test_undo_refuses_a_blob_someone_wrote_after_us(azurite, page_blob, tmp_path):
    """After our write, another writer changes one of the pages we wrote: undo must not put
    our journal's original pages over theirs (it cannot know which bytes are right)."""
    name, client = page_blob
    url = f"{azurite.endpoint}/vhds/{name}?{sas(azurite, 'vhds', name, 'rw')}"
    state = tmp_path / "state"
    before = client.download_blob().readall()
    first = bcdtool("serial-console", "enable", url, "--json", state=state)
    assert first.returncode == 0, first.stderr
    after = client.download_blob().readall()
    changed = [i for i in range(0, len(after), 512) if after[i:i + 512] != before[i:i + 512]]
    theirs = bytes(b ^ 0xFF for b in after[changed[0]:changed[0] + 512])
    client.upload_page(theirs, offset=changed[0], length=512)
    undo = bcdtool("undo", json.loads(first.stdout)["journal"], "--target", url, state=state)
    assert undo.returncode not in (0, 1), undo.stderr
    assert len(undo.stderr.strip().splitlines()) == 1 and "Traceback" not in undo.stderr
    now = client.download_blob().readall()
    assert now[changed[0]:changed[0] + 512] == theirs
    assert now == after[:changed[0]] + theirs + after[changed[0] + 512:]
