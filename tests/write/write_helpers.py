"""Helpers of the write-path tests: corpus stores copied with their logs, one-value edits, and
independent readers of the result (python-registry, hivexsh)."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

from Registry import Registry

from bcdtool.regf.editor import HiveEditor
from bcdtool.regf.hive import Hive
from tests.helpers.common import need_tool

REG_SZ = 1


def seqs(data: bytes) -> tuple[int, int]:
    """The base block's two sequence numbers."""
    return struct.unpack_from("<II", data, 4)


def sz(text: str) -> bytes:
    """REG_SZ data of `text`."""
    return (text + "\0").encode("utf-16-le")


def copy_with_logs(corpus: Path, sub: str, name: str, folder: Path) -> Path:
    """Copy corpus file `sub/name` and its logs into `folder`; the copy's path."""
    for path in (corpus / sub).glob(name + "*"):
        shutil.copy(path, folder / path.name)
    return folder / name


def edited(hive: Hive, key: str, name: str, text: str) -> bytes:
    """The image of `hive` with REG_SZ value `key\\name` set to `text`."""
    editor = HiveEditor(hive)
    editor.set_value(key, name, REG_SZ, sz(text))
    return editor.to_bytes()


def python_registry_value(data: bytes, key: str, name: str) -> bytes:
    """A value's raw data as python-registry reads it."""
    reg = Registry.Registry(io.BytesIO(data))
    return bytes(reg.open(key).value(name).raw_data())


def hivexsh_lsval(path: Path, key: str) -> str:
    """hivexsh's listing of a key's values."""
    need_tool("hivexsh")
    script = "".join(f"cd {part}\n" for part in key.split("\\")) + "lsval\n"
    return subprocess.run(["hivexsh", str(path)], input=script, capture_output=True, text=True,
                          check=True, timeout=120).stdout
