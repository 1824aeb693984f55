"""A FIFO named where bcdtool expects a file never makes it wait: every file argument of every
command, given a FIFO that no program writes to, ends at once with one line and an exit code
other than 0 and 1 (the run's timeout only turns a hang into a failure).  The one exception is
by design and documented: the batch *manifest* is read like `cat` reads (`batch <(gen)`)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.helpers.common import CORPUS
from tests.hostile.hostile_helpers import run_cli

STORE = "win10-bios-installed-sysreserved.bcd"
SET = ["/set", "{bootmgr}", "timeout", "3"]

COMMANDS = {
    "bcdedit /import": ["bcdedit", "/store", "BCD", "/import", "FIFO"],
    "bcdedit /export": ["bcdedit", "/store", "BCD", "/export", "FIFO"],
    "bcdedit /createstore": ["bcdedit", "/createstore", "FIFO"],
    "bcdedit --store": ["bcdedit", "/store", "FIFO", "/enum"],
    "enum": ["enum", "FIFO"],
    "hive ls": ["hive", "ls", "FIFO"],
    "--backup": ["bcdedit", "--backup", "FIFO", "/store", "BCD", *SET],
    "--audit-log": ["bcdedit", "--audit-log", "FIFO", "/store", "BCD", *SET],
    "undo": ["undo", "FIFO"],
    "batch --output": ["batch", "--output", "FIFO", "MANIFEST"],
    "hiberfil.sys in a folder": ["bcdedit", "--dry-run", "/store", "DIR", *SET],
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_fifo_where_a_file_is_expected_never_blocks(tmp_path, state, name):
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    shutil.copy(CORPUS / "bcd" / STORE, tmp_path / "BCD")
    os.mkfifo(tmp_path / "FIFO")
    (tmp_path / "MANIFEST").write_text(f"{tmp_path / 'BCD'}\n")
    boot = tmp_path / "DIR" / "Boot"
    boot.mkdir(parents=True)
    shutil.copy(CORPUS / "bcd" / STORE, boot / "BCD")
    os.mkfifo(tmp_path / "DIR" / "hiberfil.sys")
    args = [str(tmp_path / a) if a in ("FIFO", "BCD", "MANIFEST", "DIR") else a
            for a in COMMANDS[name]]
    done = run_cli(*args, timeout=90, env={"XDG_STATE_HOME": str(state)})
    assert "Traceback" not in done.stderr, done.stderr
    if name == "hiberfil.sys in a folder":        # not a hibernation file: nothing to refuse
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode not in (0, 1), (done.returncode, done.stderr)
