"""Attach a guest disk the way a rescue machine does: mount its root partition (loop device)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
from pathlib import Path


def copy_sparse(src: Path, dst: Path) -> None:
    """A private copy of the cached disk (holes stay holes) for the test to change."""
    subprocess.run(["cp", "--sparse=always", str(src), str(dst)], check=True)
    os.chmod(dst, 0o644)


@contextlib.contextmanager
def mounted(disk: Path, offset: int, mountpoint: Path):
    """Mount the ext4 partition at byte `offset` of `disk` on `mountpoint`, always unmounted after.

    `mount -o loop,offset=` makes an autoclear loop device, so unmounting also frees it.
    """
    mountpoint.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "ext4", "-o", f"loop,offset={offset}", str(disk),
                    str(mountpoint)], check=True, capture_output=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["sync"], check=False)
        done = subprocess.run(["umount", str(mountpoint)], capture_output=True)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], check=True)


def tree_digest(root: Path, folders: tuple[str, ...] = ("etc", "boot")) -> dict[str, str]:
    """Path -> hash of content (or symlink target, or "dir") for everything under `folders`."""
    digest = {}
    for folder in folders:
        for top, dirs, files in os.walk(root / folder):
            for name in dirs + files:
                path = Path(top, name)
                rel = str(path.relative_to(root))
                if path.is_symlink():
                    digest[rel] = "-> " + os.readlink(path)
                elif path.is_dir():
                    digest[rel] = "dir"
                else:
                    digest[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest
