"""The one place bcdtool imports by name at run time, so that a command loads only its own stack.

A read-only command (`enum`, `serial-console status`, `hive ls`, `--help`...) must not pay for
the write path, the hive verification or urllib3: start-up is most of such a command's cost.
Everything else imports at module level; here are the tables of what is loaded late, and why:

- `COMMANDS` and the subcommand tables (`SERIAL_CONSOLE`, ...): each command's
  "module:attribute" and the one-line help `--help` shows, so listing commands imports none
  (tests/cli/test_startup.py keeps the lines equal to the commands' own help);
- `BCDEDIT_RUN`: how a bcdedit command line that changes the store is run (the write path);
- `REMOTE_OPENER`: how a disk URL is opened (urllib3, and the Azure SDK for page blobs),
  registered with `blockdev.openers` and imported when a URL is first opened;
- `READERS`: the image formats (qcow2, VHD, VHDX, VMDK), the NTFS file system (pytsk3) and the
  undo-journal reader, registered with `blockdev.openers` and imported when an input holds one
  (a journal: when a pending marker says a write of the store was interrupted);
- `GUESTFS_HIVE`: how `--backend guestfs` opens a hive (its store reads and writes through the
  write layer's guestfs sink), registered in `backends.HIVE_OPENERS`, imported when chosen.
"""

from __future__ import annotations

import gc
import importlib

import click

from bcdtool import backends
from bcdtool.blockdev import openers
from bcdtool.urls import SCHEMES

#: A command: "module:attribute" of its click object, and its one-line help.
Entry = tuple[str, str]

COMMANDS: dict[str, Entry] = {
    "batch": ("bcdtool.cli.batch:batch",
              "Run operations on every target of MANIFEST (one TARGET or one JSON object "
              "{\"target\": ..., \"ops\": [...]} per line) in parallel processes."),
    "bcdedit": ("bcdtool.cli.bcd:bcdedit", "Run a bcdedit command line offline, e.g."),
    "doctor": ("bcdtool.cli.doctor:doctor",
               "One finding per known failure mode — BCD devices, files and references that do "
               "not fit this disk, and the serial-console settings — each with evidence and the "
               "exact fix command; exit 0 when all is well, 3 when something is a problem."),
    "elements": ("bcdtool.cli.elements:elements",
                 "List every BCD element bcdtool knows: code, scope, format, bcdedit and "
                 "symbolic names, and the names of enumeration values."),
    "enum": ("bcdtool.cli.bcd_enum:enum",
             "List the BCD store of TARGET like `bcdedit /enum`, with aliases and GUIDs "
             "together."),
    "forensic": ("bcdtool.cli.forensic:forensic",
                 "Inspect a BCD store for tampering without writing anything: one finding per "
                 "suspicious setting (severity, MITRE ATT&CK technique, evidence with key "
                 "last-write times)."),
    "hive": ("bcdtool.cli.hive:hive",
             "Read, check, export and edit registry hives (a BCD store is one)."),
    "linux": ("bcdtool.cli.linux:linux",
              "Check and fix the serial console of a Linux guest (mounted root or disk image)."),
    "new-store": ("bcdtool.cli.new_store:new_store",
                  "Create FILE: {bootmgr}, a Windows loader and its resume object with partition "
                  "devices, {memdiag} and the settings objects ({globalsettings}, "
                  "{emssettings}, ...)."),
    "repair": ("bcdtool.cli.repair:repair", "Repairs of a Windows disk that does not boot."),
    "serial-console": ("bcdtool.cli.serial_console:serial_console",
                       "Turn on and inspect the Windows serial console (EMS/SAC) of a store, "
                       "disk or image."),
    "undo": ("bcdtool.cli.undo:undo",
             "Restore the original bytes saved in undo JOURNAL (its journal.json or folder) and "
             "verify them."),
    "windows": ("bcdtool.cli.windows:windows",
                "Offline facts and repairs of the installed Windows (SYSTEM and SOFTWARE "
                "hives)."),
}

SERIAL_CONSOLE: dict[str, Entry] = {
    "enable": ("bcdtool.cli.serial_console_enable:enable",
               "Set EMS on the loader(s), {emssettings} port and speed, bootems, the boot menu "
               "and timeout, and kernel debugging off; idempotent, journaled, verified."),
    "status": ("bcdtool.cli.serial_console:status",
               "Each setting: expected, the object's own value, the effective value (exit 3 if "
               "any is wrong)."),
}

HIVE: dict[str, Entry] = {
    "check": ("bcdtool.cli.hive:check",
              "Validate a hive against the format's rules; exit 3 when errors are found."),
    "export": ("bcdtool.cli.hive:export",
               "Print KEYPATH's subtree (default: the whole hive) as a regedit .reg file."),
    "get": ("bcdtool.cli.hive:get",
            "Print the type and data of value NAME of KEYPATH (no NAME: the default value)."),
    "ls": ("bcdtool.cli.hive:ls", "List the subkeys and values of KEYPATH (default: the root)."),
    "new": ("bcdtool.cli.hive_edit:new",
            "Create FILE as a new, empty hive (refuses to overwrite an existing file)."),
    "rm": ("bcdtool.cli.hive_edit:rm",
           "Delete value NAME of KEYPATH, or (no NAME) the key KEYPATH with its whole subtree."),
    "set": ("bcdtool.cli.hive_edit:set_",
            "Set value NAME of KEYPATH (\"\" = default value), creating missing keys."),
}

LINUX: dict[str, Entry] = {
    "check": ("bcdtool.cli.linux:check",
              "Report serial-console problems (exit 3 when there is one)."),
    "fix": ("bcdtool.cli.linux_fix:fix",
            "Turn the serial console on, keeping every other setting; journaled for `bcdtool "
            "undo`."),
    # the same command as check (the name `serial-console status` taught users)
    "status": ("bcdtool.cli.linux:check",
               "Report serial-console problems (exit 3 when there is one)."),
}

WINDOWS: dict[str, Entry] = {
    "crashdump": ("bcdtool.cli.windows_repair:crashdump", "Crash dump on NMI (CrashControl)."),
    "info": ("bcdtool.cli.windows:info",
             "Edition, control set, crash-dump settings, SAC services, volumes (BitLocker, "
             "hibernation)."),
    "sac": ("bcdtool.cli.windows_repair:sac", "The Special Administration Console services."),
}

#: How `bcdtool bcdedit` runs a command line that changes the store (the recipe runner and the
#: write path); one that only reads runs through ops/bcdedit_read.py.
BCDEDIT_RUN = "bcdtool.ops.bcdedit:run"

#: How a disk URL is opened (blockdev.remote pulls in urllib3).
REMOTE_OPENER = "bcdtool.blockdev.remote:open_url"
#: What reads the image formats and file systems only some disks hold (blockdev.openers).
READERS = {
    "qcow2": "bcdtool.blockdev.qcow2:Qcow2Device",
    "vhd": "bcdtool.blockdev.vhd:open_vhd",
    "vhdx": "bcdtool.blockdev.vhdx:VhdxDevice",
    "vmdk": "bcdtool.blockdev.vmdk:open_vmdk",
    "ntfs": "bcdtool.fs.ntfs:NtfsVolume",
    # the journal of a write a pending marker says was interrupted (locate.interrupted)
    "interrupted-journal": "bcdtool.write.journal:interrupted",
    "latest-journal": "bcdtool.write.journal:latest",
}
#: How `--backend guestfs` opens a hive.
GUESTFS_HIVE = "bcdtool.locate.guestfs:open_hive_guestfs"


def load(ref: str):
    """The object named by "module:attribute", importing its module now."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


class LazyGroup(click.Group):
    """A click group whose subcommands (`table`: name -> Entry) are imported on first use."""

    def __init__(self, *args, table: dict[str, Entry], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.table = table

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.table) | set(super().list_commands(ctx)))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.table:
            command = load(self.table[name][0])
            start_collecting()
            return command
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of `--help`, from the table: no command module is imported."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in self.table:
                text = click.utils.make_default_short_help(self.table[name][1], limit)
            else:
                text = super().get_command(ctx, name).get_short_help_str(limit)
            rows.append((name, text))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def start_collecting() -> None:
    """Start the garbage collector if the bcdtool process held it back while its modules loaded
    (bcdtool/__main__.py), freezing what exists now: modules, classes and functions that live
    until exit, which no collection need walk again.  A program that runs the CLI in its own
    process, with its collector on, is left as it is."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def open_remote(url: str, *, writable: bool = False):
    """Open disk URL `url` through `REMOTE_OPENER` (module-level, so batch workers can be given
    it: it pickles by name)."""
    return load(REMOTE_OPENER)(url, writable=writable)


def open_guestfs_hive(spec: str, **kwargs):
    """Open a hive through libguestfs with `GUESTFS_HIVE` (`locate.open_hive`'s arguments)."""
    return load(GUESTFS_HIVE)(spec, **kwargs)


class Loader:
    """Calls the object named by `ref` ("module:attribute"), importing its module on the first
    call; picklable (by its name), so batch workers can be given it."""

    def __init__(self, ref: str) -> None:
        self.ref = ref

    def __call__(self, *args, **kwargs):
        return load(self.ref)(*args, **kwargs)


def register_openers() -> None:
    """Let `blockdev.detect` open http(s):// and az:// targets (loading urllib3 when it does) and
    every image format and file system in `READERS` (loading each when an input holds it), and
    `locate.open_hive` use `--backend guestfs` (loading its store when it does).  A program
    using the library calls this too."""
    openers.register_remote(SCHEMES, open_remote)
    for name, ref in READERS.items():
        openers.register_reader(name, Loader(ref))
    backends.HIVE_OPENERS["guestfs"] = open_guestfs_hive
