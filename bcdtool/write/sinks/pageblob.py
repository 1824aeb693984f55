"""A store inside a disk that is an Azure page blob (a SAS URL or az://ACCOUNT/CONTAINER/BLOB),
written in place like a disk image: the DiskSink's files-through-extents, over the network.

What differs from a local image: the lock is a blob lease, taken by the writable device that
`lock()` opens once and every write of the transaction (and a restore) goes through; each Put
Page carries the lease and If-Match on the ETag; a blob whose ETag moved since the plan was read
is refused before anything is written; `reopen()` reads through a fresh connection.  The journal
keeps the URL without its secret: undo gets it again (`bcdtool undo JOURNAL --target URL`,
`bcdtool.urls.remember`), and takes over the lease a killed write left (its id is in the spec).
"""

from __future__ import annotations

import contextlib

from bcdtool.blockdev.base import BlockDevice
from bcdtool.blockdev.detect import open_image
from bcdtool.errors import ReadOnlyError, VerifyError, WriteError
from bcdtool.fs.base import FileRef
from bcdtool.urls import redact, resolve
from bcdtool.write.refuse import Facts
from bcdtool.write.sinks.disk import DiskSink, _DiskWriter, open_files


class PageBlobSink(DiskSink):
    """The files `refs` of the volume at `partition` of the page blob at `url`."""

    kind = "pageblob"

    def __init__(self, url: str, *, dev: BlockDevice, partition: int, start: int,
                 volume_size: int, volume, refs: dict[str, FileRef], key: str, store: str,
                 target: str | None = None) -> None:
        self.url = url                  # holds the SAS: used to open, never shown or stored
        self.image = redact(url)
        self.target = redact(target or url)
        self.dev, self.partition, self.start, self.volume_size = dev, partition, start, volume_size
        self.volume, self.refs, self.key, self.store = volume, refs, key, store
        self.device = False
        #: The lease held while writing (an interrupted write's, taken over by undo).
        self.lease_id: str | None = None
        self._wdev: BlockDevice | None = None
        self._stale = False             # wrote since self.dev was opened: read it again first

    def spec(self) -> dict:
        """How undo reopens this sink: the URL without its secret, and the lease id."""
        return dict(super().spec(), lease_id=self.lease_id)

    @classmethod
    def from_spec(cls, spec: dict) -> PageBlobSink:
        """The blob a journal names, opened with the secret this process was given for it."""
        sink = open_files(resolve(spec["image"]), partition=spec["partition"],
                          files=spec["files"], key=spec["key"], store=spec["store"],
                          target=spec["target"], sink_class=cls)
        lease = spec.get("lease_id")
        sink.lease_id = lease if isinstance(lease, str) else None
        return sink

    def facts(self, phases) -> Facts:
        """The volume's state, its neighbours' hibernation, and what the file system and the
        blob's format refuse for `phases` (under the lease in a write, else through a writable
        open); whether the blob may be written at all is the lease's answer (a read-only SAS
        is refused there, with the Azure flows)."""
        facts = Facts(volume=self.volume.facts(), neighbours=self._neighbours())
        facts.files = [f"cannot rewrite {ref.path} in place: {ref.refusal}"
                       for ref in self.refs.values() if ref.refusal]
        if self._wdev is not None:
            facts.errors = self.medium_errors(self._wdev, phases)
        else:
            with contextlib.closing(open_image(self.url, writable=True)) as wdev:
                refusal = _blob(wdev).refusal()         # what lock() would raise
                if isinstance(refusal, ReadOnlyError):
                    facts.errors = [ReadOnlyError(refusal.message, path=self.target)]
                else:
                    facts.errors = self.medium_errors(wdev, phases)
        return facts

    @contextlib.contextmanager
    def lock(self):
        """Open the blob writable once and hold its lease for the whole transaction."""
        wdev = open_image(self.url, writable=True)
        try:
            blob = _blob(wdev)
            seen = getattr(_blob(self.dev), "etag", "")
            if seen and blob.etag != seen:
                raise WriteError("the disk changed on the server since it was read (its ETag "
                                 "changed: another writer?); nothing was written: run the "
                                 "command again", path=self.target)
            blob.lease_id = self.lease_id
            with wdev.lock():
                self.lease_id = blob.lease_id
                self._wdev = wdev
                yield
        finally:
            self._wdev = None
            wdev.close()

    @contextlib.contextmanager
    def writer(self, expect: dict | None = None):
        """The leased device; after a failed Put Page (a restore follows) it takes the lease
        and the ETag again first.  After writing, this sink's next read opens the blob again
        through a fresh connection (blocks are cached by ETag: the ones it has are stale).
        With `expect`, each file's first bytes are compared through the lease first."""
        blob = _blob(self._held())
        if blob.failed:
            blob.reclaim()
        self._stale = True
        writer = _DiskWriter(self, self._held())
        writer.check(expect or {})
        yield writer

    def _located(self, dev: BlockDevice, file: str) -> FileRef:
        """The file where it was found: the blob's ETag, checked when the lease was taken,
        proves nothing moved it (no second walk of the volume over the network)."""
        return self._ref(file)

    def read(self, file: str) -> bytes | None:
        """The whole file, read afresh after this sink wrote."""
        self._refresh()
        return super().read(file)

    def read_range(self, file: str, offset: int, length: int) -> bytes:
        """Bytes of the file, read afresh after this sink wrote."""
        self._refresh()
        return super().read_range(file, offset, length)

    def _refresh(self) -> None:
        if not self._stale:
            return
        self._stale = False
        fresh = open_files(self.url, partition=self.partition, files=sorted(self.refs),
                           key=self.key, store=self.store, target=self.target,
                           sink_class=type(self))
        old, self.dev = self.dev, fresh.dev
        self.volume, self.refs, self.start = fresh.volume, fresh.refs, fresh.start
        old.close()

    def _held(self) -> BlockDevice:
        if self._wdev is None:
            raise WriteError("a page blob is written only under its lease (inside lock())",
                             path=self.target)
        return self._wdev

    def reopen(self) -> PageBlobSink:
        """The blob read again through a fresh connection, its files found from scratch."""
        fresh = open_files(self.url, partition=self.partition, files=sorted(self.refs),
                           key=self.key, store=self.store, target=self.target,
                           sink_class=type(self))
        for name, ref in self.refs.items():
            if fresh.refs[name].extents != ref.extents:
                fresh.close()
                raise VerifyError(f"{name} moved on the disk while it was written",
                                  path=self.target)
        return fresh


def _blob(dev: BlockDevice):
    """The device under the image-format layers (the page blob or HTTP reader itself)."""
    while isinstance(getattr(dev, "container", None), BlockDevice):
        dev = dev.container
    return dev
