"""Version 1 undo journals (bcdtool before the one write path) converted to version 2 in memory,
so `bcdtool undo` restores them through the same sinks and checks as any journal.

Version 1 named absolute host paths (hive files, Linux guest files), device offsets of an image
(a store's extents) or files reached through libguestfs.  Each becomes the sink a version 2
journal would name, with paths relative to it: nothing in a version 1 journal can reach further
than a version 2 one.  The sink's key is derived here from the converted spec (so undo's
`spec_ok` holds by construction); what keeps a hostile journal out is the rest: entries must be
the store or its logs (or files inside the guest root), and on a disk every saved range must lie
exactly where the file's extents are now (`write/undo.py` compares them).  Version 1 journals
carry no signature: `undo` takes them only with `--trust-journal`.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from bcdtool.errors import FormatError
from bcdtool.limits import MAX_BCD_BYTES, MAX_HIVE_BYTES
from bcdtool.write.keys import disk_key, guestfs_key
from bcdtool.write.sinks.folder import same_store_or_log

#: What bounds reads of a Linux guest's files when an old journal is restored.
LINUX_CAP = MAX_BCD_BYTES


def convert(doc: dict, path: Path) -> dict:
    """The version 2 document for version 1 journal `doc` (FormatError if it cannot be one)."""
    entries = doc.get("entries")
    if not isinstance(entries, list) or not entries or \
            not all(isinstance(e, dict) and isinstance(e.get("kind"), str) for e in entries):
        raise _bad(path, "it has no entries to restore")
    kinds = {e["kind"] for e in entries}
    extra = doc.get("extra") if isinstance(doc.get("extra"), dict) else {}
    if kinds == {"extent"}:
        sink, new = _disk(doc, entries, extra, path)
    elif kinds == {"guestfs"}:
        sink, new = _guestfs(doc, entries, extra, path)
    elif kinds == {"file"} and str(doc.get("target_key", "")).startswith("file:"):
        sink, new = _hive_file(doc, entries, path)
    elif kinds == {"file"} and isinstance(extra.get("guest_paths"), dict):
        sink, new = _linux(entries, extra["guest_paths"], path)
    else:
        raise _bad(path, f"it mixes entry kinds {sorted(kinds)} no version 1 bcdtool wrote")
    return {"version": 2, "id": doc.get("id"), "target": doc.get("target"),
            "operation": doc.get("operation"), "created": doc.get("created"),
            "state": doc.get("state"), "sink": sink, "diff": doc.get("diff", []),
            "extra": dict(extra, converted_from_version=1),
            "target_key": sink["key"] if sink["kind"] != "folder" or sink["lock_file"] else "",
            "entries": new}


def _entry(item: dict, **fields) -> dict:
    """A version 2 entry from version 1 `item` with `fields` set (types checked later)."""
    base = {"kind": "file", "backup": item.get("backup"),
            "sha256_before": item.get("sha256_before"), "sha256_after": item.get("sha256_after"),
            "existed": item.get("existed", True), "link": None, "offset": 0, "length": 0,
            "size": None, "device": []}
    base.update(fields)
    return base


def _hive_file(doc: dict, entries: list[dict], path: Path) -> tuple[dict, list[dict]]:
    """A hive file: its folder is the target, the store file carries the lock."""
    store_path = doc["target_key"][len("file:"):]
    root, store = os.path.split(store_path)
    if not os.path.isabs(store_path) or not store:
        raise _bad(path, "its store is not an absolute path")
    new = []
    for item in entries:
        folder, name = os.path.split(str(item.get("path", "")))
        if folder != root or not same_store_or_log(name, store):
            raise _bad(path, f"entry {item.get('path')!r} is not the store or one of its logs")
        new.append(_entry(item, file=name))
    cap = MAX_BCD_BYTES if store.upper() == "BCD" else MAX_HIVE_BYTES
    return ({"kind": "folder", "root": root, "target": store_path, "key": "file:" + store_path,
             "cap": cap, "lock_file": store, "label_links": False}, new)


def _linux(entries: list[dict], guest_paths: dict, path: Path) -> tuple[dict, list[dict]]:
    """A Linux guest root: each host path is the root joined with its guest path."""
    roots, new = set(), []
    for item in entries:
        host, guest = str(item.get("path", "")), guest_paths.get(item.get("path"))
        if not isinstance(guest, str) or not guest.startswith("/") or not host.endswith(guest):
            raise _bad(path, f"entry {host!r} has no guest path inside the root")
        roots.add(host[:-len(guest)])
        # A file the fix created (a getty link) was recorded by what reading it gave (the unit
        # file it points to), not by the link: undo removes it without comparing.
        after = item.get("sha256_after") if item.get("existed", True) else None
        new.append(_entry(item, file=guest.lstrip("/"), sha256_after=after))
    if len(roots) != 1 or not os.path.isabs(root := roots.pop()):
        raise _bad(path, "its files do not share one guest root")
    return ({"kind": "folder", "root": root, "target": root, "key": "linux:" + root,
             "cap": LINUX_CAP, "lock_file": None, "label_links": True}, new)


def _disk(doc: dict, entries: list[dict], extra: dict, path: Path) -> tuple[dict, list[dict]]:
    """A store's extents on a disk image or device: each saved extent becomes a range of its
    file, at the file offset its order gives (version 1 saved a file's extents in order from
    its start), and keeps its device offset for undo to compare with the file's extents now."""
    images = {str(e.get("path")) for e in entries}
    devices = [e.get("device") if isinstance(e.get("device"), dict) else {} for e in entries]
    parts = {d.get("partition") for d in devices}
    location = extra.get("location") if isinstance(extra.get("location"), dict) else {}
    store = location.get("path")
    if len(images) != 1 or len(parts) != 1 or not isinstance(store, str):
        raise _bad(path, "its extents do not name one image, partition and store")
    image, partition = images.pop(), parts.pop()
    if not isinstance(partition, int) or isinstance(partition, bool):
        raise _bad(path, "its partition is not a number")
    new, position = [], {}
    for item, device in zip(entries, devices, strict=True):
        file, offset, length = device.get("file"), item.get("offset"), item.get("length")
        if not isinstance(file, str) or not isinstance(offset, int) or not isinstance(length, int):
            raise _bad(path, "an extent has no file, offset or length")
        start = position.get(file, 0)
        position[file] = start + length
        new.append(_entry(item, kind="range", file=file, offset=start, length=length,
                          device=[[offset, length]]))
    return ({"kind": "disk", "image": image, "target": image, "partition": partition,
             "store": store, "files": sorted(position), "key": disk_key(image, partition, store)},
            new)


def _guestfs(doc: dict, entries: list[dict], extra: dict, path: Path) -> tuple[dict, list[dict]]:
    """Files reached through libguestfs: a hive (one file system) or a Linux guest ("os")."""
    images = {str(e.get("path")) for e in entries}
    devices = [e.get("device") if isinstance(e.get("device"), dict) else {} for e in entries]
    if len(images) != 1 or not all(isinstance(d.get("file"), str) for d in devices):
        raise _bad(path, "its entries do not name one image and their files")
    image = images.pop()
    if extra.get("mount") == "os":
        mount, store, cap = "os", None, LINUX_CAP
    else:
        mounts = {d.get("filesystem") for d in devices}
        mount = mounts.pop() if len(mounts) == 1 else None
        if not isinstance(mount, str) or len(entries) != 1:
            raise _bad(path, "its hive entry names no file system")
        store = devices[0]["file"].lstrip("/")
        cap = MAX_BCD_BYTES if posixpath.basename(store).upper() == "BCD" else MAX_HIVE_BYTES
    new = [_entry(item, file=device["file"].lstrip("/"))
           for item, device in zip(entries, devices, strict=True)]
    return ({"kind": "guestfs", "image": image, "target": image, "mount": mount,
             "key": guestfs_key(image, mount, store), "cap": cap, "store": store}, new)


def _bad(path: Path, why: str) -> FormatError:
    return FormatError(f"cannot read this version 1 undo journal: {why}; restore the store from "
                       "another backup (or with the bcdtool version that wrote the journal)",
                       path=str(path))
