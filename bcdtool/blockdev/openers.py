"""Which function opens a disk URL, by scheme: a registry, so that no layer imports urllib3.

Remote disks need urllib3 (and the Azure SDK for page blobs), which cost more than the rest of
a local command's start-up.  `blockdev.detect` opens URLs through this registry; the CLI fills it
with `blockdev.remote.open_url`, loaded when a URL is first opened (bcdtool/cli/lazy.py); a
program using the library calls `register_remote(SCHEMES, bcdtool.blockdev.remote.open_url)`.
"""

from __future__ import annotations

from collections.abc import Callable

from bcdtool.blockdev.base import BlockDevice
from bcdtool.errors import UnsupportedError
from bcdtool.urls import redact

#: `opener(url, writable=...)` -> the device.
RemoteOpener = Callable[..., BlockDevice]
_REMOTE: dict[str, RemoteOpener] = {}


def register_remote(schemes: tuple[str, ...], opener: RemoteOpener) -> None:
    """Open URLs of `schemes` (e.g. ("http", "https", "az")) with `opener(url, writable=...)`."""
    for name in schemes:
        _REMOTE[name.lower()] = opener


def remote_openers() -> dict[str, RemoteOpener]:
    """The registered openers (a copy, for worker processes: register each in the worker)."""
    return dict(_REMOTE)


def opener_for(url: str) -> RemoteOpener:
    """The registered opener of `url`'s scheme."""
    scheme = url.split("://", 1)[0].lower()
    opener = _REMOTE.get(scheme)
    if opener is None:
        raise UnsupportedError(f"no opener for {scheme}:// disks is registered (the bcdtool "
                               "command registers them; a program using the library calls "
                               "bcdtool.blockdev.openers.register_remote)", path=redact(url))
    return opener
