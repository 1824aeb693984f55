"""`bcdtool linux check` and the group's shared options: the serial console of a Linux guest
(mounted root or disk image); `fix` (which writes) is in cli/linux_fix.py, loaded only when run."""

from __future__ import annotations

import click

from bcdtool.cli import lazy
from bcdtool.cli.options import backend_option, device_option, json_option, partition_option
from bcdtool.cli.output import emit
from bcdtool.errors import EXIT_PROBLEMS
from bcdtool.linux.cmdline import validate_device
from bcdtool.linux.root import open_guest
from bcdtool.linux.rules import evaluate
from bcdtool.linux.sources import default_device, read_guest


@click.group(cls=lazy.LazyGroup, table=lazy.LINUX)
def linux() -> None:
    """Check and fix the serial console of a Linux guest (mounted root or disk image)."""


linux_backend_option = backend_option(
    ("auto", "native", "guestfs"), "auto",
    help="How to read images (native ext2/3/4 via pytsk3, or libguestfs).")


@click.command()
@click.argument("target")
@json_option(help="One JSON document: ok, distro, findings.")
@device_option()
@partition_option(help="Partition number inside an image.")
@linux_backend_option
@click.pass_context
def check(ctx, target, as_json, device, partition, backend) -> None:
    """Report serial-console problems (exit 3 when there is one)."""
    if device is not None:
        validate_device(device)     # exit 24 before anything is opened
    root = open_guest(target, backend=backend, partition=partition)
    if hasattr(root.fs, "close"):
        ctx.call_on_close(root.fs.close)
    guest = read_guest(root, device)
    report = evaluate(guest, device or default_device(guest))
    emit("linux check", report.to_json(), as_json=as_json, lines=[report.render_text()])
    if not report.ok:
        ctx.exit(EXIT_PROBLEMS)
