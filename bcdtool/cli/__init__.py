"""Command line: a thin click layer over the library; the one place errors become exit codes."""

from __future__ import annotations

import importlib
import os
import sys
import traceback

import click

from bcdtool import __version__
from bcdtool.blockdev import references
from bcdtool.errors import EXIT_INTERNAL, BcdToolError, from_input_failure

# Command name -> "module:attribute".  Commands load lazily so that `bcdtool enum` does not pay
# for importing the Linux checks or the disk-image layer it does not use.
COMMANDS: dict[str, str] = {
    "batch": "bcdtool.cli.batch:batch",
    "bcdedit": "bcdtool.cli.bcd:bcdedit",
    "doctor": "bcdtool.cli.doctor:doctor",
    "elements": "bcdtool.cli.elements:elements",
    "enum": "bcdtool.cli.bcd:enum",
    "forensic": "bcdtool.cli.forensic:forensic",
    "hive": "bcdtool.cli.hive:hive",
    "linux": "bcdtool.cli.linux:linux",
    "new-store": "bcdtool.cli.new_store:new_store",
    "repair": "bcdtool.cli.repair:repair",
    "serial-console": "bcdtool.cli.serial_console:serial_console",
    "undo": "bcdtool.cli.undo:undo",
    "windows": "bcdtool.cli.windows:windows",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(super().list_commands(ctx)))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, _, attr = COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bcdtool")
@click.option(references.OPTION, "backing_files", multiple=True, metavar="PATH",
              type=click.Path(exists=True, dir_okay=False),
              help="Allow an image to use PATH as a qcow2 backing file or VMDK extent although "
                   "it lies outside the image's folder (repeatable: name each file of the chain).")
@click.pass_context
def cli(ctx: click.Context, backing_files: tuple[str, ...]) -> None:
    """Edit Windows BCD stores and serial-console settings offline, from Linux.

    Set BCDTOOL_DEBUG=1 to see a traceback for any error.
    """
    ctx.with_resource(references.allowed(backing_files))


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map BcdToolError to its exit code with one line on stderr."""
    try:
        # Without standalone mode click returns ctx.exit()'s code instead of raising it.
        code = cli.main(args=argv, prog_name="bcdtool", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("bcdtool: aborted", err=True)
        sys.exit(EXIT_INTERNAL)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BcdToolError as exc:
        if os.environ.get("BCDTOOL_DEBUG"):
            traceback.print_exc()
        click.echo(f"bcdtool: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(EXIT_INTERNAL)
    except Exception as exc:
        mapped = from_input_failure(exc)
        if mapped is not None:      # caused by input, not a bug: its own exit code
            if os.environ.get("BCDTOOL_DEBUG"):
                traceback.print_exc()
            click.echo(f"bcdtool: error: {mapped}", err=True)
            sys.exit(mapped.exit_code)
        if os.environ.get("BCDTOOL_DEBUG"):
            traceback.print_exc()
        else:
            click.echo(f"bcdtool: internal error: {type(exc).__name__}: {exc} "
                       "(set BCDTOOL_DEBUG=1 for a traceback)", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else 0)
