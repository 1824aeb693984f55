"""Which function opens what, by name: a registry, so that a command loads only the readers its
input needs.

- Disk URLs, by scheme: they need urllib3 (and the Azure SDK for page blobs), which cost more
  than the rest of a local command's start-up.  `blockdev.detect` opens URLs through
  `opener_for`; a program using the library calls
  `register_remote(SCHEMES, bcdtool.blockdev.remote.open_url)`.
- Readers of what only some inputs hold, by name: the image formats "qcow2", "vhd", "vhdx" and
  "vmdk" (`reader(container, ...)` -> the virtual disk; `blockdev.detect`), the "ntfs" file
  system (`reader(device)` -> its volume; `fs.volume`; pytsk3), and the undo journal of an
  interrupted write ("interrupted-journal", "latest-journal": `reader(store_key)` -> the
  journal or None; `locate.interrupted`, only when a pending marker or a half-written hive says
  so).  A raw disk with a FAT ESP that nobody was writing, the common case, needs none of them.

The CLI registers every one as a loader that imports its module when first called
(`bcdtool.cli.lazy.register_openers`); a program using the library calls that function too, or
registers its own (`register_reader("ntfs", bcdtool.fs.ntfs.NtfsVolume)`).  Nothing registered
for a name that is needed is refused with UnsupportedError, naming the function to call.
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


#: `reader(...)` -> a virtual disk (image formats) or a volume (file systems); see the docstring.
Reader = Callable[..., object]
_READERS: dict[str, Reader] = {}


def register_reader(name: str, reader: Reader) -> None:
    """Read what is named `name` ("qcow2", "vhdx", "ntfs", "interrupted-journal"...) with
    `reader`."""
    _READERS[name] = reader


def readers() -> dict[str, Reader]:
    """The registered readers (a copy, for worker processes: register each in the worker)."""
    return dict(_READERS)


def reader_for(name: str, *, path: str) -> Reader:
    """The reader registered for `name`; UnsupportedError (naming `path`) when there is none."""
    reader = _READERS.get(name)
    if reader is None:
        raise UnsupportedError(f"no reader for {name} is registered (the bcdtool command "
                               "registers them; a program using the library calls "
                               "bcdtool.cli.lazy.register_openers)", path=path)
    return reader
