"""Start-up: a command that only reads loads only its own stack (issue 12).

Each case runs one real command in its own interpreter and lists, when the command is done, the
modules of `sys.modules` that only writing needs: the write transaction and its sinks, the
hive verification (python-registry), urllib3, the Linux fixer.  This checks which modules are
imported, never how long anything takes.  `--help` listing the commands imports none of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from bcdtool.cli import cli, lazy
from fixtures import images
from tests.helpers.common import CORPUS, need_tools

STORE = CORPUS / "bcd" / "win10-uefi-installed-systemd-boot.bcd"

#: What only writing (or a disk URL) needs.  Reading may use the write layer's file opener
#: (write.fileio: O_NOFOLLOW, regular files, caps), its journal reader (write.journal, with the
#: journals' signatures in write.signing: an interrupted earlier write is noticed on open) and
#: the store identities they use (write.keys).
WRITE_ONLY = ("bcdtool.write.", "bcdtool.regf.verify", "bcdtool.linux.fix", "bcdtool.ops.recipe",
              "bcdtool.locate.commit", "bcdtool.blockdev.remote", "bcdtool.blockdev.http",
              "bcdtool.blockdev.pageblob", "urllib3", "Registry")
READ_SIDE = {"bcdtool.write.fileio", "bcdtool.write.journal", "bcdtool.write.signing",
             "bcdtool.write.keys"}

#: Runs the CLI's main with argv, then prints the loaded modules that only writing needs.
RUNNER = """
import json, sys
from bcdtool.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
print(json.dumps([code, sorted(m for m in sys.modules if m.startswith(WRITE_ONLY)
                               and m not in READ_SIDE)]), file=sys.stderr)
"""


def loaded_for_writing(argv: list[str], tmp_path: Path,
                       env: dict | None = None) -> tuple[int, list[str]]:
    """(exit code, write-only modules loaded) of `bcdtool ARGV` in a fresh interpreter."""
    code = f"WRITE_ONLY = {WRITE_ONLY!r}\nREAD_SIDE = {READ_SIDE!r}\n" + RUNNER
    proc = subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"),
                               **(env or {})})
    exit_code, modules = json.loads(proc.stderr.strip().splitlines()[-1])
    return exit_code, modules


@pytest.fixture(scope="module")
def disk(tmp_path_factory) -> Path:
    """A GPT disk image with a FAT32 ESP holding a real Windows store."""
    need_tools("sfdisk", "mkfs.fat", "mcopy")
    if not STORE.exists():
        pytest.skip("../shared/corpus is absent")
    return images.build_esp_disk(tmp_path_factory.mktemp("startup") / "disk.img", STORE).path


READ_ONLY = [
    ["--help"],
    ["elements"],
    ["serial-console", "--help"],
    ["hive", "--help"],
    ["enum", "{disk}"],
    ["enum", "{store}"],
    ["serial-console", "status", "{disk}"],
    ["bcdedit", "/store", "{disk}", "/enum"],
    ["bcdedit", "/store", "{store}", "/enum", "all"],
    ["doctor", "{disk}"],
    ["hive", "ls", "{store}", "Objects"],
    ["hive", "get", "{store}", "Description", "KeyName"],
    ["hive", "export", "{disk}"],
    ["hive", "check", "{store}"],
    ["forensic", "{disk}"],
    ["linux", "check", "{root}"],
    ["windows", "info", "{disk}"],
]


@pytest.mark.parametrize("argv", READ_ONLY, ids=" ".join)
def test_read_only_commands_load_no_write_path(argv, disk, tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    args = [a.format(disk=disk, store=STORE, root=root) for a in argv]
    code, modules = loaded_for_writing(args, tmp_path)
    assert code in (0, 3), (args, code)
    assert modules == [], f"bcdtool {' '.join(argv)} imported what only writing needs: {modules}"


def test_a_write_command_does_load_the_write_path(disk, tmp_path):
    """The check can fail: a command that writes (here a dry run) imports the transaction."""
    code, modules = loaded_for_writing(["serial-console", "enable", "--dry-run", disk], tmp_path)
    assert code == 0
    assert "bcdtool.write.transaction" in modules and "bcdtool.regf.verify" in modules


def test_a_disk_url_loads_urllib3_only_then(tmp_path):
    """URLs open through the opener the CLI registers: urllib3 is imported when one is opened
    (here a refused port, which fails fast), never before."""
    code, modules = loaded_for_writing(["enum", "http://127.0.0.1:9/disk.img"], tmp_path,
                                       env={"BCDTOOL_HTTP_RETRIES": "0"})
    assert code not in (0, 1), code          # a network error, not a crash or a success
    assert "urllib3" in modules and "bcdtool.blockdev.remote" in modules


def _tables():
    yield from ((cli, name, entry) for name, entry in lazy.COMMANDS.items())
    for group, table in (("serial-console", lazy.SERIAL_CONSOLE), ("hive", lazy.HIVE),
                         ("linux", lazy.LINUX), ("windows", lazy.WINDOWS)):
        command = lazy.load(lazy.COMMANDS[group][0])
        yield from ((command, name, entry) for name, entry in table.items())


@pytest.mark.parametrize("group, name, entry", list(_tables()),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_lazy_tables_show_each_commands_own_help(group, name, entry):
    """`--help` lists commands from cli/lazy.py's tables without importing them: each line is
    the command's own short help (`linux status` is another name of `linux check`)."""
    command = lazy.load(entry[0])
    assert command.name in (name, "check")
    assert entry[1] == command.get_short_help_str(limit=10_000)
    assert set(group.list_commands(click.Context(group))) >= {name}
