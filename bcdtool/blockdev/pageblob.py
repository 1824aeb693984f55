"""Azure page blobs as writable disks: Put Page in place, under a lease, guarded by the ETag.

A VHD in a page blob is the disk Azure boots (a fixed VHD: the blob *is* the disk plus its
footer), so bcdtool edits a store inside it the way it edits a local image: the transaction
locks the device (`lock()`: a blob lease held while it writes), every Put Page carries the lease
and `If-Match` the ETag we last saw (a writer who broke our lease is noticed at the next page),
and each write is one Put Page per 512-aligned range.  Reads go through the same aligned-block
cache as plain HTTP reads.  An https URL carries its SAS.  `az://ACCOUNT/CONTAINER/BLOB` signs in
as the az CLI's environment says (`AZURE_STORAGE_CONNECTION_STRING`, else `AZURE_STORAGE_KEY`
or `AZURE_STORAGE_SAS_TOKEN` for the account named, `AZURE_STORAGE_ACCOUNT` agreeing), else
with azure-identity's DefaultAzureCredential (az login, a managed identity); the plain range GETs
of an account key's blob carry a short-lived read SAS made from the key, never the key.

Needs the optional extra `bcdtool[azure]` (azure-storage-blob, azure-identity).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import time
import uuid
from types import SimpleNamespace
from urllib.parse import urlsplit

from bcdtool.blockdev.http import (BLOCK, SAS_NEEDED, CachedRemoteDevice, RangeReader, Traffic,
                                   expired, retries, timeout)
from bcdtool.errors import (AccessDeniedError, BcdToolError, ExpiredCredentialError, ImageError,
                            InvalidArgumentError, LockedError, NetworkError, NotFoundError,
                            ReadOnlyError, UnsupportedError, WriteError)
from bcdtool.urls import query, redact, remember

#: Page blobs are written in 512-byte pages; one Put Page carries at most 4 MiB.
PAGE = 512
MAX_PUT = 4 * 1024 * 1024
#: Lease length (seconds; Azure allows 15-60) and when to renew it during a long transaction.
LEASE_SECONDS = 60
RENEW_AFTER = 30
#: The public Azure blob endpoint an az:// URL names (az://ACCOUNT/CONTAINER/BLOB).
AZ_ENDPOINT = "https://{account}.blob.core.windows.net"
#: How long the read SAS made from an account key for the range GETs is valid.
READ_SAS_SECONDS = 3600

#: What to do with a disk whose SAS only reads (managed disk / snapshot export): the real flows.
_COPY_FLOWS = """\
nothing was written.  Repair a copy and swap it in:
  # 1. snapshot the OS disk and copy the snapshot into a page blob you can write
  az snapshot create -g RG -n fix-snap --source OS_DISK
  SRC=$(az snapshot grant-access -g RG -n fix-snap --duration-in-seconds 3600 \\
        --query accessSas -o tsv)
  az storage blob copy start --account-name ACCOUNT -c vhds -b fix.vhd \\
        --destination-blob-type PageBlob --source-uri "$SRC"
  az storage blob show --account-name ACCOUNT -c vhds -n fix.vhd --query properties.copy.status
  SAS=$(az storage blob generate-sas --account-name ACCOUNT -c vhds -n fix.vhd \\
        --permissions rw --expiry 2030-01-01T00:00Z -o tsv)
  URL=https://ACCOUNT.blob.core.windows.net/vhds/fix.vhd
  # 2. repair it in place
  bcdtool serial-console enable "$URL?$SAS"
  # 3. make a managed disk of it and swap the VM's OS disk (VM deallocated)
  az disk create -g RG -n OS_DISK-fixed --source "$URL" --source-storage-account-id ACCOUNT_ID
  az vm update -g RG -n VM --os-disk OS_DISK-fixed
  # or: an upload-state disk (az disk create --upload-type Upload --upload-size-bytes N), az disk
  # grant-access --access-level Write, copy the snapshot into that SAS, run bcdtool on it,
  # az disk revoke-access, then az vm update --os-disk"""
READ_ONLY_FLOWS = ("this URL's signature lets bcdtool read the disk but not write it (the SAS of "
                   "an existing managed disk or snapshot is always read-only); " + _COPY_FLOWS)
#: What to do with a snapshot or an earlier version of a blob: Azure never writes those.
SNAPSHOT_FLOWS = ("this URL names a snapshot or an earlier version of the blob (snapshot= or "
                  "versionid= in its query), which Azure never lets anyone write; " + _COPY_FLOWS)
#: Query fields that pin a URL to a read-only point in the blob's history.
_PINNED = ("snapshot", "versionid")


#: The Azure SDK (the optional extra bcdtool[azure]), imported on first use: it costs ~200 ms
#: (azure-identity another ~270 ms), which no command that does not touch a blob should pay.
_SDK = SimpleNamespace(loaded=False)


def _sdk() -> SimpleNamespace:
    """The Azure SDK's names bcdtool uses; UnsupportedError naming the extra when it is absent."""
    if not _SDK.loaded:
        try:
            from azure.core import MatchConditions
            from azure.core import exceptions
            from azure.storage.blob import BlobClient, BlobSasPermissions, generate_blob_sas
        except ImportError:
            raise UnsupportedError("Azure page blobs (writes, az:// URLs) need the Azure SDK: "
                                   "pip install 'bcdtool[azure]' (azure-storage-blob, "
                                   "azure-identity)") from None
        _SDK.__dict__.update(loaded=True, BlobClient=BlobClient, errors=exceptions,
                             if_not_modified=MatchConditions.IfNotModified,
                             generate_blob_sas=generate_blob_sas,
                             read_permission=BlobSasPermissions(read=True))
    return _SDK


def _credential():
    """azure-identity's DefaultAzureCredential (az login, managed identity, AZURE_* variables)."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise UnsupportedError("az:// URLs sign in with azure-identity's DefaultAzureCredential: "
                               "pip install 'bcdtool[azure]', or pass an https URL with a "
                               "SAS") from None
    return DefaultAzureCredential()


class PageBlobDevice(CachedRemoteDevice):
    """An Azure page blob (SAS URL or az:// name) read in cached blocks, written page by page."""

    def __init__(self, url: str, *, writable: bool = False, block: int = BLOCK) -> None:
        self.url = url
        shown = redact(url)
        self.name = shown
        self._lease = None
        self._leased_at = 0.0
        #: A Put Page failed (lease lost, ETag moved, network): `reclaim()` before writing again.
        self.failed = False
        #: Lease to propose (an interrupted write's, recorded in its journal) or the one held.
        self.lease_id: str | None = None
        self._client = _client(url, shown)
        try:
            props = self._call(self._client.get_blob_properties,
                               what="read the blob's properties")
        except ImageError as exc:       # an answer, but not Azure Blob Storage's
            raise UnsupportedError(f"{exc.message}: only Azure page blobs are written in place; "
                                   "for a disk elsewhere, download it, run bcdtool on the file "
                                   "and upload it", path=shown) from None
        self.traffic = Traffic(requests=1)
        self.etag = props.etag
        # Reads are plain range GETs (the SDK's download would first list every page range of
        # the blob); an az:// blob's GETs carry its SAS, one made from its key, or the
        # credential's bearer token.
        if url.lower().startswith("az://"):
            read_url, headers = self._call(_read_access, self._client, what="sign in")
        else:
            read_url, headers = url, {}
        self._reader = RangeReader(read_url, headers=headers, traffic=self.traffic)
        self._reader.name = shown
        super().__init__(props.size, name=shown, writable=writable, block=block)
        kind = str(getattr(props.blob_type, "value", props.blob_type) or "object (no blob type)")
        if kind != "PageBlob":
            self.refuse_all_writes(
                f"this is an Azure {kind}; only page blobs can be written in "
                "place: copy it into one (az storage blob copy start --destination-blob-type "
                "PageBlob ...) or into an upload-state managed disk")
        fields = {k.lower(): v for k, v in query(url).items()}
        if writable and any(fields.get(k) for k in _PINNED):
            self.refuse_all_writes(SNAPSHOT_FLOWS)
        elif writable and "sp" in fields and "w" not in fields["sp"]:
            self.refuse_all_writes(READ_ONLY_FLOWS)

    def refusal(self) -> BcdToolError | None:
        """The error any write raises, or None: a read-only SAS or a snapshot is read-only (16,
        with the Azure flows), a blob that is not a page blob unsupported (17)."""
        if not self.write_refusal:
            return None
        kind = ReadOnlyError if self.write_refusal in (READ_ONLY_FLOWS, SNAPSHOT_FLOWS) \
            else UnsupportedError
        return kind(self.write_refusal, path=self.name)

    # -- reads -----------------------------------------------------------------------------------
    def _fetch(self, offset: int, length: int) -> bytes:
        # If-Match: a blob that changed since we looked (another writer) answers 412.
        return self._reader.get(offset, length, if_match=self.etag)[0]

    # -- the lock and the writes -----------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self):
        """Hold a blob lease while the transaction writes: no other writer (a VM using the disk,
        another bcdtool) can write meanwhile, and we learn at once if one already holds it."""
        refusal = self.refusal()
        if refusal is not None:
            raise refusal
        self.traffic.requests += 1
        self._lease = self._call(self._client.acquire_lease, lease_duration=LEASE_SECONDS,
                                 lease_id=self.lease_id or str(uuid.uuid4()),
                                 what="lease the blob", writing=True)
        self.lease_id = self._lease.id
        self._leased_at = time.monotonic()
        try:
            yield self
        finally:
            lease, self._lease = self._lease, None
            self.traffic.requests += 1
            with contextlib.suppress(Exception):   # an unreleased lease expires by itself
                lease.release()

    def _write(self, offset: int, data: bytes) -> None:
        if self._lease is None:
            raise WriteError("page-blob writes need the blob's lease (lock()) first",
                             path=self.name, offset=offset)
        start = offset - offset % PAGE
        end = -(-(offset + len(data)) // PAGE) * PAGE
        if (start, end) != (offset, offset + len(data)):    # widen to whole pages
            page = bytearray(self._read(start, end - start))
            page[offset - start:offset - start + len(data)] = data
            data, offset = bytes(page), start
        for pos in range(0, len(data), MAX_PUT):
            self._put(offset + pos, data[pos:pos + MAX_PUT])

    def _put(self, offset: int, chunk: bytes) -> None:
        if time.monotonic() - self._leased_at > RENEW_AFTER:
            self.traffic.requests += 1
            self._call(self._lease.renew, what="renew the blob's lease", writing=True)
            self._leased_at = time.monotonic()
        self.traffic.requests += 1
        self.traffic.bytes_up += len(chunk)
        self.failed = True
        done = self._call(self._client.upload_page, chunk, offset=offset, length=len(chunk),
                          lease=self._lease, etag=self.etag, match_condition=_sdk().if_not_modified,
                          what="write a page", writing=True)
        self.failed = False
        self.etag = done.get("etag", self.etag)
        self._share = False

    def reclaim(self) -> None:
        """After a failed Put Page, before putting the original pages back: learn the blob's
        ETag again and take the lease again with our id (still ours: renewed; broken by someone:
        ours again; held by another: LeaseAlreadyPresent, and the caller names the journal)."""
        props = self._call(self._client.get_blob_properties, what="read the blob's properties")
        self.traffic.requests += 1
        self.etag = props.etag
        if self._lease is not None:
            self.traffic.requests += 1
            self._lease = self._call(self._client.acquire_lease, lease_duration=LEASE_SECONDS,
                                     lease_id=self.lease_id, what="lease the blob again",
                                     writing=True)
            self._leased_at = time.monotonic()
        self.failed = False

    # -- errors ----------------------------------------------------------------------------------
    def _call(self, func, *args, what: str, writing: bool = False, **kwargs):
        """Run one SDK call; turn Azure's errors into bcdtool's (never quoting the SAS)."""
        errors = _sdk().errors
        try:
            return func(*args, **kwargs)
        except errors.ClientAuthenticationError as exc:
            if getattr(exc, "status_code", None) is None:   # no credential: nothing was sent
                raise AccessDeniedError(f"could not {what}: no Azure credential ({exc.message}); "
                                        "sign in (az login, a managed identity, AZURE_* "
                                        "variables) or pass an https URL with a SAS",
                                        path=self.name) from None
            raise self._error(exc, what, writing) from None
        except errors.ResourceNotFoundError:
            raise NotFoundError("no blob at this URL (HTTP 404): check the account, container "
                                "and blob names", path=self.name) from None
        except errors.HttpResponseError as exc:
            raise self._error(exc, what, writing) from None
        except (errors.ServiceRequestError, errors.ServiceResponseError) as exc:
            raise NetworkError(f"could not {what}: {exc}", path=self.name) from None

    def close(self) -> None:
        reader = getattr(self, "_reader", None)
        if reader is not None:
            reader.close()
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()
        super().close()

    def _error(self, exc, what: str, writing: bool):
        status = getattr(exc, "status_code", None)
        code = getattr(exc, "error_code", "") or ""
        code = str(getattr(code, "value", code))        # StorageErrorCode.X -> its wire name
        if status == 409 and code.startswith("LeaseAlreadyPresent"):
            return LockedError(
                "the blob is leased by someone else (a VM using the disk, a copy, or another "
                "bcdtool): stop the VM or wait; if no one is using it, break the lease with `az "
                "storage blob lease break`; nothing was written", path=self.name)
        if status == 412 or code in ("LeaseLost", "LeaseIdMismatchWithBlobOperation",
                                     "LeaseIdMissing", "ConditionNotMet"):
            return WriteError(f"the blob changed under us while trying to {what} ({code or 412}: "
                              "another writer, or our lease was broken): stop whatever else "
                              "writes the disk (a running VM, a copy), then run the command "
                              "again", path=self.name)
        if status in (401, 403):
            expiry = query(self.url).get("se", "")
            if code == "AuthenticationFailed" and expiry and expired(expiry):
                return ExpiredCredentialError(f"the SAS expired (se={expiry}): make a new one "
                                              "(az storage blob generate-sas ...)", path=self.name)
            if writing:
                return ReadOnlyError(READ_ONLY_FLOWS, path=self.name)
            return AccessDeniedError(f"the server refused access (HTTP {status}: "
                                     f"{code or 'denied'}) while trying to {what}: {SAS_NEEDED}",
                                     path=self.name)
        if status in (429, 500, 503) or code in ("ServerBusy", "OperationTimedOut"):
            return NetworkError(f"could not {what}: the storage service stayed busy through "
                                f"every retry (HTTP {status}: {code or exc.reason}); try again "
                                "in a few minutes, or raise BCDTOOL_HTTP_RETRIES",
                                path=self.name)
        return ImageError(f"could not {what} (HTTP {status}: {code or exc.reason})",
                          path=self.name)


def _client(url: str, shown: str):
    """A BlobClient for a SAS URL, or for az://ACCOUNT/CONTAINER/BLOB with the Azure credential
    chain; refusals name what to install."""
    blob_client = _sdk().BlobClient
    options = dict(retry_total=retries(), connection_timeout=timeout(), read_timeout=timeout(),
                   max_single_get_size=32 * 1024 * 1024)
    if not url.lower().startswith("az://"):
        try:
            return blob_client.from_blob_url(url, **options)
        except ValueError:
            raise UnsupportedError("not an Azure blob URL (https://ACCOUNT.blob.core.windows.net/"
                                   "CONTAINER/BLOB?SAS): only Azure page blobs are written in "
                                   "place; for a disk elsewhere, download it, run bcdtool on the "
                                   "file and upload it", path=shown) from None
    parts = urlsplit(url)
    container, _, blob = parts.path.lstrip("/").partition("/")
    if not parts.hostname or not container or not blob:
        raise UnsupportedError("an az:// URL names az://ACCOUNT/CONTAINER/BLOB", path=shown)
    account = parts.hostname
    connection = os.environ.get("AZURE_STORAGE_CONNECTION_STRING", "").strip()
    if connection:
        try:
            client = blob_client.from_connection_string(connection, container, blob, **options)
        except ValueError:
            raise InvalidArgumentError("AZURE_STORAGE_CONNECTION_STRING does not parse (az "
                                       "storage account show-connection-string gives one)",
                                       path=shown) from None
        _same_account("AZURE_STORAGE_CONNECTION_STRING", client.account_name, account, shown)
        return client
    key = os.environ.get("AZURE_STORAGE_KEY", "").strip()
    sas = os.environ.get("AZURE_STORAGE_SAS_TOKEN", "").strip().lstrip("?")
    endpoint = AZ_ENDPOINT.format(account=account)
    if key or sas:
        _same_account("AZURE_STORAGE_ACCOUNT", os.environ.get("AZURE_STORAGE_ACCOUNT") or account,
                      account, shown)
        credential = {"account_name": account, "account_key": key} if key else sas
        if sas:
            remember(f"{endpoint}/{container}/{blob}?{sas}")    # its secret, for scrubbing
        return blob_client(endpoint, container, blob, credential=credential, **options)
    return blob_client(endpoint, container, blob, credential=_credential(), **options)


def _same_account(variable: str, named: str | None, account: str, shown: str) -> None:
    """Refuse a credential for another storage account than the az:// URL's."""
    if (named or "").lower() != account.lower():
        raise InvalidArgumentError(f"{variable} is for the storage account {named!r}, but the "
                                   f"URL names {account!r}: use that account's credential, or "
                                   f"the URL az://{named}/CONTAINER/BLOB", path=shown)


def _read_access(client) -> tuple[str, dict]:
    """(URL, headers) for plain range GETs of an az:// blob: the client's URL with its SAS, a
    read SAS made from its account key (valid READ_SAS_SECONDS), or the credential's bearer
    token; every secret is remembered, so no output shows it."""
    credential = getattr(client, "credential", None)
    key = getattr(credential, "account_key", None)
    if key:
        expiry = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=READ_SAS_SECONDS)
        token = _sdk().generate_blob_sas(client.account_name, client.container_name,
                                         client.blob_name, account_key=key,
                                         permission=_sdk().read_permission, expiry=expiry)
        url = f"{client.url}?{token}"
    else:
        url = client.url
    if "?" in url:
        remember(url)
        return url, {}
    if credential is None or not hasattr(credential, "get_token"):
        return url, {}
    return url, {"Authorization": "Bearer "
                 + credential.get_token("https://storage.azure.com/.default").token}


