"""The sinks of the write transaction, and the registry undo reopens them through by kind."""

from __future__ import annotations

from bcdtool.write.sinks.disk import DiskSink
from bcdtool.write.sinks.folder import FolderSink
from bcdtool.write.sinks.guestfs import GuestfsSink
from bcdtool.write.sinks.pageblob import PageBlobSink

#: Journal `sink.kind` -> the class whose `from_spec` reopens it.  A new medium registers its
#: sink here.
REGISTRY = {"folder": FolderSink, "disk": DiskSink, "guestfs": GuestfsSink,
            "pageblob": PageBlobSink}
