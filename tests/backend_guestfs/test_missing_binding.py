"""Without python3-guestfs, --backend guestfs says how to install it: one line, exit 17.

No appliance is launched, so these run in the default suite (no guestfs marker)."""

from __future__ import annotations

import pytest
from tests.backend_guestfs.guestfs_helpers import bcdtool

from bcdtool.errors import UnsupportedError

@pytest.fixture
def no_binding(tmp_path):
    """An environment where `import guestfs` fails and Debian's folder is not consulted."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "guestfs.py").write_text("raise ImportError('simulated: no python3-guestfs')\n")
    return {"PYTHONPATH": str(shadow), "BCDTOOL_GUESTFS_SYSTEM_DIR": ""}


@pytest.mark.parametrize("argv", [
    ("bcdedit", "--store", "IMAGE", "--backend", "guestfs", "/enum"),
    ("enum", "--backend", "guestfs", "IMAGE"),
    ("linux", "check", "--backend", "guestfs", "IMAGE"),
    ("linux", "fix", "--backend", "guestfs", "IMAGE"),
])
def test_missing_binding_is_one_line_exit_17(tmp_path, no_binding, argv):
    image = tmp_path / "disk.img"
    image.write_bytes(b"\0" * 1024 * 1024)
    proc = bcdtool(*(str(image) if a == "IMAGE" else a for a in argv), env=no_binding)
    assert proc.returncode == UnsupportedError.exit_code == 17, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "apt-get install python3-guestfs" in lines[0], proc.stderr
    assert image.read_bytes() == b"\0" * 1024 * 1024
