"""A mounted volume or a copy of one, as a folder: case-insensitive lookup inside the root.

The "device" of a file found here is the file itself: its one extent is (0, size) of that file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from bcdtool.errors import FormatError, GuestError, NotFoundError, UnsupportedError
from bcdtool.fs.base import HIBERNATION_SIGNATURES, FileRef, VolumeFacts, split_path
from bcdtool.wintext import names_equal

#: Registry hives are limited to 2 GiB of bins; anything much bigger is not a file we handle.
MAX_FILE_SIZE = 2 * 1024 ** 3 + 4096
#: Bounds the number of entries inspected per folder (hostile folders can be huge).
MAX_ENTRIES = 100_000


class DirectoryVolume:
    """Files under `root`, looked up the way Windows would (case-insensitively)."""

    def __init__(self, root: str | os.PathLike) -> None:
        path = Path(root)
        if not path.is_dir():
            raise NotFoundError("not a folder", path=str(root))
        self.root = path.resolve()

    def find(self, path: str) -> FileRef:
        """Locate a file; symlinks may be followed only while they stay inside the root."""
        parts = split_path(path)
        if not parts or ".." in parts:
            raise NotFoundError("not a file path inside the folder", path=path)
        here = self.root
        try:
            for i, name in enumerate(parts):
                here = self._inside(self._child(here, name), "/".join(parts[:i + 1]))
                if i < len(parts) - 1 and not here.is_dir():
                    raise NotFoundError("not a folder", path=str(here))
            info = here.stat()
        except OSError as exc:  # permissions, symlink loops
            raise NotFoundError(f"cannot access: {exc.strerror}", path=str(here)) from None
        if not stat.S_ISREG(info.st_mode):
            raise NotFoundError("not a regular file", path=str(here))
        if info.st_size > MAX_FILE_SIZE:
            raise UnsupportedError(f"file of {info.st_size} bytes is too large", path=str(here))
        shown = here.relative_to(self.root).as_posix()
        return FileRef(shown, info.st_size, ((0, info.st_size),) if info.st_size else ())

    @staticmethod
    def _child(folder: Path, name: str) -> Path:
        exact = folder / name
        if os.path.lexists(exact):
            return exact
        try:
            with os.scandir(folder) as entries:
                for n, entry in enumerate(entries):
                    if n >= MAX_ENTRIES:
                        raise FormatError(f"folder has more than {MAX_ENTRIES} entries",
                                          path=str(folder))
                    if names_equal(entry.name, name):
                        return Path(entry.path)
        except OSError as exc:
            raise NotFoundError(f"cannot list folder: {exc.strerror}", path=str(folder)) from None
        raise NotFoundError("no such file", path=str(exact))

    def _inside(self, candidate: Path, shown: str) -> Path:
        real = Path(os.path.realpath(candidate))
        if real != self.root and self.root not in real.parents:
            raise GuestError("a symlink leads outside the folder; refusing to follow it",
                             path=shown)
        return real

    def path_of(self, ref: FileRef) -> Path:
        """The path of a found file: its folder re-checked to lie inside the root, its own name
        not resolved (find() stored the resolved path, so a symlink there now is a swap)."""
        rel = Path(ref.path)
        return self._inside(self.root / rel.parent, ref.path) / rel.name

    def read(self, ref: FileRef) -> bytes:
        """The file's bytes, opened without following a symlink in its last component."""
        try:
            fd = os.open(self.path_of(ref), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # replaced by a symlink since it was found
                raise GuestError("the file is now a symlink; refusing to follow it",
                                 path=ref.path) from None
            raise NotFoundError(f"cannot open: {exc.strerror}", path=ref.path) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_SIZE:
                raise NotFoundError("not a regular file of a supported size", path=ref.path)
            chunks, left = [], info.st_size
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def facts(self) -> VolumeFacts:
        """Hibernation if the folder is a Windows volume root; the dirty flag is unknowable here."""
        hibernated = False
        try:
            hiber = self.find("hiberfil.sys")
            # Non-blocking, then fstat: a FIFO swapped in after find() is not waited on.
            fd = os.open(self.path_of(hiber), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    hibernated = os.pread(fd, 4, 0) in HIBERNATION_SIGNATURES
            finally:
                os.close(fd)
        except (NotFoundError, OSError):
            pass
        return VolumeFacts(fs="directory", hibernated=hibernated, dirty=None,
                           notes=("a folder does not show its volume's dirty flag",))
