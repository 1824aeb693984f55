"""Start-up: a command that only reads loads only its own stack (issue 12).

Each case runs one real command in its own interpreter and lists, when the command is done, the
modules of `sys.modules`: none that only writing needs (the write transaction and its sinks, the
hive verification (python-registry), urllib3, the Linux fixer), and on a raw disk with a FAT
ESP none of the readers that only other inputs need (NTFS with pytsk3, qcow2, VHD, VHDX, VMDK),
which are loaded, and work, when an input holds one.  This checks which modules are imported,
never how long anything takes.  `--help` listing the commands imports none of them.
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
from bcdtool.errors import InterruptedWriteError
from bcdtool.locate import open_hive
from bcdtool.write import journal as journals
from fixtures import images
from tests.helpers.common import CORPUS, need_tools

STORE = CORPUS / "bcd" / "win10-uefi-installed-systemd-boot.bcd"

#: What only writing (or a disk URL) needs.  Reading may use the write layer's file opener
#: (write.fileio: O_NOFOLLOW, regular files, caps), its pending markers (write.pending: an
#: interrupted earlier write is noticed on open) and the store identities they use
#: (write.keys); the journal reader (write.journal, write.signing) only when a marker is there.
WRITE_ONLY = ("bcdtool.write.", "bcdtool.regf.verify", "bcdtool.linux.fix", "bcdtool.ops.recipe",
              "bcdtool.locate.commit", "bcdtool.blockdev.remote", "bcdtool.blockdev.http",
              "bcdtool.blockdev.pageblob", "urllib3", "Registry")
READ_SIDE = {"bcdtool.write.fileio", "bcdtool.write.pending", "bcdtool.write.keys"}

#: What reads only some inputs (blockdev.openers' readers, registered by cli/lazy.py): the NTFS
#: file system (pytsk3) and the image formats.
READERS = {"ntfs": ("bcdtool.fs.ntfs", "bcdtool.fs.ntfs_mft", "pytsk3"),
           "qcow2": ("bcdtool.blockdev.qcow2",), "vhd-dynamic": ("bcdtool.blockdev.vhd",),
           "vhdx": ("bcdtool.blockdev.vhdx",), "vmdk": ("bcdtool.blockdev.vmdk",)}

#: The construct declarations of the layouts every command reads: only their generated packed
#: siblings are imported when bcdtool runs (tests/test_packed.py keeps those current).
DECLARATIONS = ("bcdtool.regf.layout", "bcdtool.bcd.device_layout",
                "bcdtool.blockdev.partitions_layout", "bcdtool.fs.bootsector_layout")

#: Runs the CLI's main with argv, then prints its exit code and every loaded module.
RUNNER = """
import json, sys
from bcdtool.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
print(json.dumps([code, sorted(sys.modules)]), file=sys.stderr)
"""


def loaded(argv: list[str], tmp_path: Path, env: dict | None = None) -> tuple[int, set[str]]:
    """(exit code, modules loaded) of `bcdtool ARGV` in a fresh interpreter."""
    proc = subprocess.run([sys.executable, "-c", RUNNER, *map(str, argv)], capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"),
                               **(env or {})})
    exit_code, modules = json.loads(proc.stderr.strip().splitlines()[-1])
    return exit_code, set(modules)


def loaded_for_writing(argv: list[str], tmp_path: Path,
                       env: dict | None = None) -> tuple[int, list[str]]:
    """(exit code, write-only modules loaded) of `bcdtool ARGV` in a fresh interpreter."""
    code, modules = loaded(argv, tmp_path, env)
    return code, sorted(m for m in modules if m.startswith(WRITE_ONLY) and m not in READ_SIDE)


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


@pytest.mark.parametrize("command", [["serial-console", "status"], ["enum"]], ids=" ".join)
def test_a_raw_disk_with_a_fat_esp_loads_no_other_reader(command, disk, tmp_path):
    code, modules = loaded([*command, disk], tmp_path)
    assert code in (0, 3)
    assert "bcdtool.fs.fat" in modules and "bcdtool.locate.disk" in modules  # it did read
    unneeded = sorted(modules & {m for names in READERS.values() for m in names})
    assert unneeded == [], f"bcdtool {' '.join(command)} on a raw FAT disk loaded {unneeded}"
    # the layouts it reads are the generated `struct` forms (bcdtool/packed.py), not construct
    assert not {m for m in modules if m == "construct" or m.startswith("construct.")}
    assert not modules & set(DECLARATIONS), modules & set(DECLARATIONS)


@pytest.fixture(scope="module")
def ntfs_disk(tmp_path_factory) -> Path:
    """An MBR disk whose store lies on an NTFS System Reserved partition."""
    need_tools("sfdisk", "mkntfs", "ntfscp")
    if not STORE.exists():
        pytest.skip("../shared/corpus is absent")
    return images.build_mbr_disk(tmp_path_factory.mktemp("ntfs") / "disk.img", STORE).path


@pytest.mark.parametrize("kind", sorted(READERS))
def test_each_reader_is_loaded_when_an_input_needs_it(kind, disk, request, tmp_path):
    """The lazily registered readers work from a fresh interpreter: an NTFS store, and the ESP
    disk converted to each image format, are read like the raw disk."""
    if kind == "ntfs":
        target = request.getfixturevalue("ntfs_disk")
    else:
        need_tools("qemu-img")
        target = images.convert(disk, kind, tmp_path)
    code, modules = loaded(["enum", "--json", target], tmp_path)
    assert code == 0, (kind, code)
    assert set(READERS[kind]) <= modules


def test_an_interrupted_write_loads_the_journal_reader(disk, tmp_path, monkeypatch):
    """A pending marker left by a write whose process died: a fresh `serial-console status`
    loads the journal reader and refuses with the undo command, as it always did."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    with open_hive(disk, read_only=True) as handle:
        key = handle.store.key
    writer = ("import sys\n"
              "from bcdtool.write import journal\n"
              "j = journal.Journal.start(sys.argv[1], 'serial-console enable', sink={}, "
              "target_key=sys.argv[2])\n"
              "j.mark('writing')\n"
              "print(j.path)\n")
    done = subprocess.run([sys.executable, "-c", writer, str(disk), key], capture_output=True,
                          text=True, timeout=120, check=True)
    code, modules = loaded(["serial-console", "status", disk], tmp_path)
    assert code == InterruptedWriteError.exit_code
    assert {"bcdtool.write.journal", "bcdtool.write.signing"} <= modules
    journals.load(done.stdout.strip()).mark("done")      # the marker is dropped
    code, modules = loaded(["serial-console", "status", disk], tmp_path)
    assert code == 3 and "bcdtool.write.journal" not in modules


def test_a_program_using_the_library_registers_the_readers(disk, tmp_path):
    """Without the CLI nothing registers the readers: opening a qcow2 image says which function
    to call, and after `bcdtool.cli.lazy.register_openers()` it opens."""
    need_tools("qemu-img")
    image = images.convert(disk, "qcow2", tmp_path)
    program = (
        "import sys\n"
        "from bcdtool.blockdev.detect import open_image\n"
        "from bcdtool.errors import UnsupportedError\n"
        "try:\n"
        "    open_image(sys.argv[1])\n"
        "except UnsupportedError as exc:\n"
        "    print('refused:', exc)\n"
        "from bcdtool.cli.lazy import register_openers\n"
        "register_openers()\n"
        "print('opened', open_image(sys.argv[1]).size)\n")
    proc = subprocess.run([sys.executable, "-c", program, str(image)], capture_output=True,
                          text=True, timeout=120, check=True)
    first, second = proc.stdout.splitlines()
    assert first.startswith("refused: ") and "bcdtool.cli.lazy.register_openers" in first
    assert second == f"opened {disk.stat().st_size}"


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
