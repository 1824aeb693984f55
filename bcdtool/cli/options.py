"""CLI layer: the options many commands share, spelled and documented once.

Use the single decorators (`partition_option`, `json_option`, ...) or the groups
(`target_options` for where the store or hive is, `write_options` for how a write is made).
Each passes the same Python parameter name everywhere: `partition`, `path`, `backend`,
`as_json`, `dry_run`, `backup_dir`, `backup`, `read_only`, `audit_log`, `allow_dirty`, `device`,
`baud`.  An option flag is declared in this file or in one command module, never twice
(tests/test_docs.py).
"""

from __future__ import annotations

from collections.abc import Callable

import click

from bcdtool.fs import policy

_Decorator = Callable[[Callable], Callable]


def _apply(func: Callable, decorators: list[_Decorator]) -> Callable:
    # click lists options in the order their decorators are written, i.e. applied last first
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def partition_option(help: str = "Partition number holding the store or hive (disks and "
                                 "images; default: found automatically).") -> _Decorator:
    """`--partition N`: which partition of a disk or image (1-based, as listed by fdisk)."""
    return click.option("--partition", type=int, default=None, metavar="N", help=help)


def path_option(help: str = "Path of the store or hive inside the target (default: found "
                            "automatically; matched case-insensitively).") -> _Decorator:
    """`--path P`: the file inside a folder, disk or image."""
    return click.option("--path", "path", default=None, metavar="P", help=help)


def other_disk_option() -> _Decorator:
    """`--other-disk IMG` (repeatable): the machine's other disks, where the store's devices
    may point (Windows on a second disk); opened read-only."""
    return click.option("--other-disk", "other_disks", multiple=True, metavar="DISK",
                        help="Another disk or image of the same machine: devices naming its "
                             "partitions (by GPT disk GUID or MBR signature) are checked there "
                             "(repeatable; read-only, only the store's disk is written).")


def backend_option(choices: tuple[str, ...] = ("native", "guestfs"), default: str = "native",
                   help: str = "guestfs: reach the file through libguestfs (LVM, other file "
                               "systems; needs python3-guestfs).") -> _Decorator:
    """`--backend`: how images are read (native readers, or libguestfs)."""
    return click.option("--backend", type=click.Choice(list(choices)), default=default,
                        show_default=True, help=help)


def json_option(help: str = "Print one JSON document on stdout (see docs/cli.md, \"JSON "
                            "output\").") -> _Decorator:
    """`--json`: the command's result as one JSON document with a "schema" key."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def dry_run_option(help: str = "Show the changes and the write plan; write nothing.") \
        -> _Decorator:
    """`--dry-run`: plan everything, write nothing (the target is opened read-only)."""
    return click.option("--dry-run", is_flag=True, help=help)


def backup_dir_option() -> _Decorator:
    """`--backup-dir DIR`: where the undo journal (and its copy of the original bytes) goes."""
    return click.option("--backup-dir", default=None, metavar="DIR",
                        help="Folder for the undo journal and backups (default: "
                             "$XDG_STATE_HOME/bcdtool/journal).")


def backup_option() -> _Decorator:
    """`--backup PATH`: also copy the original bytes of the file to PATH before writing."""
    return click.option("--backup", default=None, metavar="PATH",
                        help="Also copy the file's original bytes to PATH before writing.")


def read_only_option() -> _Decorator:
    """`--read-only`: forensic mode; nothing is opened with write access."""
    return click.option("--read-only", is_flag=True,
                        help="Forensic: open every file and device without write access "
                             "(a needed write fails with exit 16).")


def audit_log_option() -> _Decorator:
    """`--audit-log FILE`: where the one JSON line per write goes."""
    return click.option("--audit-log", default=None, metavar="FILE",
                        help="Audit log (default: $XDG_STATE_HOME/bcdtool/audit.jsonl).")


def allow_dirty_option() -> _Decorator:
    """`--allow-dirty`: read a dirty hive file without its logs as it is (reads only)."""
    return click.option("--allow-dirty", is_flag=True,
                        help="Read a dirty hive file whose transaction logs are missing as it is "
                             "(reads only; changes held only in the logs are not included).")


def baud_option(help: str = "Serial speed.", default: int | None = 115200) -> _Decorator:
    """`--baud N`: the serial speed (default 115200; None: the command decides, as its help
    says)."""
    return click.option("--baud", type=int, default=default, show_default=default is not None,
                        help=help)


def device_option() -> _Decorator:
    """`--device`: a Linux guest's serial port (ttyS0, ttyAMA0, hvc0, ...)."""
    return click.option("--device", default=None,
                        help="Serial port, e.g. ttyS0, ttyAMA0, hvc0 (default: what the guest "
                             "already uses, else ttyS0; ttyAMA0 on Arm).")


def strict_option() -> _Decorator:
    """`--strict`: refuse to write into any dirty volume (by default a dirty FAT volume is
    written when the store's clusters pass the cross-link checks, with a note naming fsck.fat).

    The flag sets bcdtool.fs.policy for the one command it is given to (no parameter reaches
    the command function); applying it twice to a command adds it once.
    """
    def apply(func: Callable) -> Callable:
        if any(p.name == "strict" for p in getattr(func, "__click_params__", [])):
            return func

        def set_policy(ctx: click.Context, _param, value: bool) -> None:
            ctx.with_resource(policy.strict_writes(value))
        return click.option("--strict", is_flag=True, expose_value=False, callback=set_policy,
                            help="Refuse to write into any dirty volume (default: a dirty FAT "
                                 "volume is written when the store's own clusters pass the "
                                 "cross-link checks, with a note).")(func)
    return apply


def target_options(func: Callable) -> Callable:
    """`--partition` and `--path`: where the store or hive is inside TARGET."""
    return _apply(func, [partition_option(), path_option()])


def write_options(func: Callable) -> Callable:
    """`--dry-run`, `--backup-dir`, `--backup`, `--read-only`, `--audit-log`, `--strict`: how a
    write is made (every command that changes something takes all of them)."""
    return _apply(func, [dry_run_option(), backup_dir_option(), backup_option(),
                         read_only_option(), audit_log_option(), strict_option()])
