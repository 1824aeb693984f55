"""Disk URLs opened as block devices: http(s) range reads, or an Azure page blob.

Importing this pulls in urllib3 (and a page blob needs the Azure SDK), which costs more than the
rest of a local command's start-up; `blockdev.detect` therefore opens URLs through the registry
in `blockdev.openers`, which the CLI fills with this module's `open_url`, loaded on first use
(bcdtool/cli/lazy.py).
"""

from __future__ import annotations

from bcdtool.blockdev.base import BlockDevice
from bcdtool.blockdev.http import HttpDevice
from bcdtool.blockdev.pageblob import PageBlobDevice


def open_url(url: str, *, writable: bool = False) -> BlockDevice:
    """The disk at `url`: plain range reads over http(s), or an Azure page blob (a writable
    https SAS URL, or az://ACCOUNT/CONTAINER/BLOB through the Azure credential chain)."""
    if writable or url.lower().startswith("az://"):
        return PageBlobDevice(url, writable=writable)
    return HttpDevice(url)
