"""The identity of a store (or guest root) in journals and interrupted-write markers.

Readers compute it too, to notice on open that an earlier write never finished, so it lives
apart from the sinks that write.
"""

from __future__ import annotations

import os

from bcdtool.urls import is_url, redact


def disk_key(image: str, partition: int, store: str) -> str:
    """A store on a disk (image, device; a remote disk by its URL without the secret)."""
    where = redact(image) if is_url(image) else os.path.realpath(image)
    return f"disk:{where}#{partition}:{store.lower()}"


def guestfs_key(image: str, mount: str, store: str | None) -> str:
    """A store (or guest root) reached through libguestfs."""
    return f"guestfs:{os.path.realpath(image)}:{mount}:{store or ''}"
