"""Files an image names from inside itself (qcow2 backing files, VMDK extents): where they may lie.

A hostile image can name any path: `/dev/sda`, `../../etc/shadow`, a symlink next to it that
leads elsewhere, a FIFO that blocks the first read forever.  A referenced file is therefore used
only when its real path lies inside the real folder of the image that names it, or when the
user named that very file (`bcdtool --backing-file PATH`, kept in a ReferencePolicy); it is then
opened without following a symlink and must be a regular file (a block device only if the user
named it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from bcdtool.blockdev.raw import RawDevice
from bcdtool.errors import UnsupportedError

#: The option that lets a user name a referenced file outside the image's folder.
OPTION = "--backing-file"


class ReferencePolicy(NamedTuple):
    """Files the user allowed an image to reference wherever they lie (real paths)."""

    files: frozenset[str] = frozenset()

    @classmethod
    def of(cls, paths: Iterable[str | os.PathLike]) -> ReferencePolicy:
        """The policy allowing exactly `paths` (resolved to their real paths now)."""
        return cls(frozenset(os.path.realpath(os.fspath(p)) for p in paths))


_policy = ReferencePolicy()


def current() -> ReferencePolicy:
    """The policy in force for this process (the CLI sets it from `--backing-file`)."""
    return _policy


@contextlib.contextmanager
def allowed(paths: Iterable[str | os.PathLike]) -> Iterator[ReferencePolicy]:
    """Allow `paths` as referenced files while the block runs (the CLI wraps each command)."""
    global _policy
    previous, _policy = _policy, ReferencePolicy.of(paths)
    try:
        yield _policy
    finally:
        _policy = previous


def resolve(image: str, name: str, *, what: str, policy: ReferencePolicy | None = None) -> str:
    """The real path of the file `name` that `image` references; refused outside its folder.

    `name` is taken relative to the folder of `image` (as qemu and VMware do); absolute names,
    `..` and symlinks are allowed only while the real path stays inside that folder, or when the
    user named the file itself.
    """
    policy = policy or _policy
    if not name or "\0" in name:
        raise UnsupportedError(f"{what} has an empty or invalid name", path=image)
    folder = os.path.realpath(os.path.dirname(os.path.abspath(image)))
    target = os.path.realpath(os.path.join(folder, name))
    if target in policy.files or os.path.commonpath([folder, target]) == folder:
        return target
    raise UnsupportedError(
        f"{what} {name!r} resolves to {target}, outside the image's folder {folder}; if you trust "
        f"that file, name it with `bcdtool {OPTION} {target} ...`, or copy it next to the image",
        path=image)


def open_reference(target: str, *, writable: bool = False,
                   policy: ReferencePolicy | None = None) -> RawDevice:
    """Open a resolved reference: no symlink, a regular file (a block device only if named)."""
    policy = policy or _policy
    return RawDevice(target, writable=writable, allow_block=target in policy.files,
                     follow_symlinks=False)
