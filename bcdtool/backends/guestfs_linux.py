"""A Linux guest inside a disk image through libguestfs: the GuestFS the resolver reads, the
fix plan written back, and the undo of such writes (any root libguestfs can mount: LVM, xfs, ...)."""

from __future__ import annotations

import os
import stat

from bcdtool import journal as journals
from bcdtool.backends.guestfs import GuestfsDisk
from bcdtool.errors import BcdToolError, GuestError, VerifyError, WriteError
from bcdtool.linux.paths import GuestRoot, Parts, join, kind_of_mode

ENTRY_KIND = "guestfs"


class GuestfsTree:
    """The GuestFS protocol over the mounted guest (paths given are already symlink-free)."""

    def __init__(self, disk: GuestfsDisk) -> None:
        self.disk = disk

    def kind(self, parts: Parts) -> str | None:
        st = self.disk.lstat(join(parts))
        if st is None:
            return None
        return kind_of_mode(st["st_mode"])

    def readlink(self, parts: Parts) -> str:
        try:
            return self.disk.g.readlink(join(parts))
        except RuntimeError as exc:
            raise GuestError(f"cannot read guest symlink: {exc}", path=join(parts)) from None

    def read(self, parts: Parts, limit: int) -> bytes:
        st = self.disk.lstat(join(parts))
        if st is not None and st["st_size"] > limit:
            raise GuestError(f"guest file is larger than {limit} bytes", path=join(parts))
        return self.disk.read(join(parts))

    def close(self) -> None:
        """Flush the image and shut the appliance down."""
        self.disk.close()

    def listdir(self, parts: Parts) -> list[str]:
        try:
            return self.disk.g.ls(join(parts))
        except RuntimeError as exc:
            raise GuestError(f"cannot list guest folder: {exc}", path=join(parts)) from None


def open_guest_guestfs(image: str, *, writable: bool = False) -> GuestRoot:
    """The guest root libguestfs' inspection finds in `image`, mounted (read-only unless writable)."""
    disk = GuestfsDisk(image, writable=writable)
    try:
        root = disk.mount_os()
    except BaseException:
        disk.close()
        raise
    return GuestRoot(fs=GuestfsTree(disk), description=f"{image} ({root}, libguestfs)")


def apply_plan(guest, plan, *, backup_dir: str | None = None,
               operation: str = "linux fix") -> journals.Journal:
    """Back up and write every change of a `linux fix` plan through libguestfs; the journal."""
    root: GuestRoot = guest.root
    disk: GuestfsDisk = root.fs.disk
    targets = []
    for change in plan.changes:
        link = change.link_target is not None
        path = join(root.resolve(change.path, follow_last=not link))
        st = disk.lstat(path)
        if link and st is not None:
            raise WriteError("the symlink to create already exists; nothing written", path=path)
        if not link:
            current = disk.read(path) if st is not None else None
            if current != change.before:
                raise WriteError("the file changed since it was read; nothing written", path=path)
        targets.append((change, path, st is not None))
    journal = journals.Journal.start(os.path.abspath(disk.image), operation, backup_dir=backup_dir,
                                     diff=[{"path": c.path, "diff": c.diff()} for c in plan.changes])
    journal.extra.update(backend=ENTRY_KIND, mount="os")
    journal.mark("writing")
    try:
        for change, path, existed in targets:
            if change.link_target is not None:
                journal.backup_data(ENTRY_KIND, disk.image, b"", after=change.link_target.encode(),
                                    existed=False, device={"file": path, "link": True})
                disk.symlink(change.link_target, path)
            else:
                journal.backup_data(ENTRY_KIND, disk.image, change.before or b"",
                                    after=change.after, existed=existed, device={"file": path})
                disk.write(path, change.after)
    except BcdToolError as exc:
        try:
            restore(journal, disk, force=True)
        except BcdToolError as again:
            raise WriteError(f"{exc.message}; restoring the files written so far failed too "
                             f"({again.message}): run `bcdtool undo {journal.path}`",
                             path=exc.path) from None
        raise WriteError(f"{exc.message}; every file written so far was restored",
                         path=exc.path) from None
    journal.mark("done")
    return journal


def _current(disk: GuestfsDisk, path: str) -> bytes | None:
    """What a journal entry's path holds now: file bytes, a symlink's target, or None if absent."""
    st = disk.lstat(path)
    if st is None:
        return None
    if stat.S_ISLNK(st["st_mode"]):
        return disk.g.readlink(path).encode()
    return disk.read(path)


def restore(journal: journals.Journal, disk: GuestfsDisk, *, force: bool) -> list[str]:
    """Put back every entry of a guestfs journal on the mounted `disk`; the sha256 of each file."""
    if not force and journal.state != "writing":
        for entry in journal.entries:
            now = _current(disk, entry.device["file"])
            sha = journals.sha256(now) if now is not None else (
                journals.sha256(b"") if not entry.existed else None)
            if sha not in (entry.sha256_after, entry.sha256_before) or (
                    now is None and entry.existed):
                raise BcdToolError(f"{entry.device['file']} changed after bcdtool wrote it; undoing "
                                   "would discard those changes (use --force to restore anyway)",
                                   path=str(journal.path))
    shas = []
    for entry in reversed(journal.entries):
        original = journal.backup_bytes(entry)
        path = entry.device["file"]
        if not entry.existed:
            disk.remove(path)
            shas.append("")
            continue
        disk.write(path, original)
        if journals.sha256(disk.read(path)) != entry.sha256_before:
            raise VerifyError("restored file does not read back as the original", path=path)
        shas.append(entry.sha256_before)
    journal.mark("restored")
    return shas


def undo(journal_path) -> tuple[journals.Journal, GuestfsDisk]:
    """Load a journal written through libguestfs and open its image writable, mounted as written."""
    journal = journals.load(journal_path)
    disk = GuestfsDisk(journal.target, writable=True)
    try:
        if journal.extra.get("mount") == "os":
            disk.mount_os()
        else:
            disk.mount(journal.entries[0].device["filesystem"])
    except BaseException:
        disk.close()
        raise
    return journal, disk


def undo_journal(journal_path, *, force: bool = False) -> tuple[journals.Journal, str | None]:
    """Restore a guestfs journal from scratch; (journal, sha256 of the single restored file or None)."""
    journal, disk = undo(journal_path)
    try:
        shas = restore(journal, disk, force=force)
    finally:
        disk.close()
    return journal, (shas[0] if len(shas) == 1 else None)
