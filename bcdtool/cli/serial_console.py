"""`bcdtool serial-console status` and the group's shared options; `enable` (which writes) is in
cli/serial_console_enable.py, loaded only when run (cli/lazy.py)."""

from __future__ import annotations

import click

from bcdtool.bcd.objects import alias_of
from bcdtool.cli import lazy
from bcdtool.cli.options import (backend_option, baud_option, json_option, partition_option,
                                 path_option)
from bcdtool.cli.output import data, emit, info
from bcdtool.errors import EXIT_PROBLEMS
from bcdtool.ops.serial_checks import SerialOptions, status as read_status
from bcdtool.urls import redact


def recipe_options(func):
    """The options saying what the recipe makes true (and where the store is)."""
    options = [
        click.option("--port", type=int, default=1, show_default=True, help="EMS port (COMn)."),
        baud_option(help="EMS speed."),
        click.option("--timeout", type=int, default=5, show_default=True,
                     help="Seconds the boot menu waits."),
        click.option("--no-boot-menu", is_flag=True,
                     help="Leave displaybootmenu and timeout of {bootmgr} alone."),
        click.option("--no-bootems", is_flag=True, help="Leave EMS of {bootmgr} alone."),
        click.option("--keep-debug", is_flag=True, help="Leave kernel debugging as it is."),
        click.option("--loaders", type=click.Choice(["default", "all"]), default="default",
                     show_default=True, help="Which Windows loaders get EMS."),
        partition_option(),
        path_option(),
        json_option(),
        backend_option(),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def serial_options(port, baud, timeout, no_boot_menu, no_bootems, keep_debug,
                   loaders) -> SerialOptions:
    """The recipe's options from the command line's."""
    return SerialOptions(port=port, baud=baud, timeout=timeout, boot_menu=not no_boot_menu,
                         bootems=not no_bootems, keep_debug=keep_debug, loaders=loaders)


@click.group("serial-console", cls=lazy.LazyGroup, table=lazy.SERIAL_CONSOLE)
def serial_console() -> None:
    """Turn on and inspect the Windows serial console (EMS/SAC) of a store, disk or image."""


@click.command()
@click.argument("target")
@recipe_options
@click.pass_context
def status(ctx, target, port, baud, timeout, no_boot_menu, no_bootems, keep_debug, loaders,
           partition, path, as_json, backend) -> None:
    """Each setting: expected, the object's own value, the effective value (exit 3 if any is
    wrong)."""
    opts = serial_options(port, baud, timeout, no_boot_menu, no_bootems, keep_debug, loaders)
    doc = read_status(target, opts, partition=partition, path=path, backend=backend)
    if as_json:
        emit("serial-console status", doc, as_json=True)
    else:
        info(f"store: {doc['description']}")
        for row in doc["settings"]:
            mark = "ok " if row["ok"] else "BAD"
            via = "" if row["source"] in (None, row["object"]) else \
                f" (from {alias_of(row['source']) or row['source']})"
            data(f"  [{mark}] {row['label']:10} {row['element']:16} expected "
                 f"{_show(row['expected'])}, set {_show(row['actual'])}, effective "
                 f"{_show(row['effective'])}{via}")
        data("result: " + ("ok" if doc["ok"] else "the serial console is not fully set up"
                           " (fix: bcdtool serial-console enable " + redact(target) + ")"))
    if not doc["ok"]:
        ctx.exit(EXIT_PROBLEMS)


def _show(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)
