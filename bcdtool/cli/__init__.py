"""Command line: a thin click layer over the library; the one place errors become exit codes."""

from __future__ import annotations

import os
import sys

import click

from bcdtool import __version__
from bcdtool.blockdev import references
from bcdtool.cli import lazy
from bcdtool.errors import EXIT_INTERNAL, BcdToolError, from_input_failure

# Commands load lazily (cli/lazy.py) so that `bcdtool enum` does not pay for the write path or
# the Linux checks it does not use; disk URLs and libguestfs are opened by modules loaded then.
lazy.register_openers()


@click.group(cls=lazy.LazyGroup, table=lazy.COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
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
    # A Linux path may hold bytes that are not UTF-8 (Python keeps them as surrogates): print
    # them back as those bytes whatever the locale, as Python does under C/POSIX already.
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="surrogateescape")
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
            _print_traceback()
        click.echo(f"bcdtool: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(EXIT_INTERNAL)
    except Exception as exc:
        mapped = from_input_failure(exc)
        if mapped is not None:      # caused by input, not a bug: its own exit code
            if os.environ.get("BCDTOOL_DEBUG"):
                _print_traceback()
            click.echo(f"bcdtool: error: {mapped}", err=True)
            sys.exit(mapped.exit_code)
        if os.environ.get("BCDTOOL_DEBUG"):
            _print_traceback()
        else:
            click.echo(f"bcdtool: internal error: {type(exc).__name__}: {exc} "
                       "(set BCDTOOL_DEBUG=1 for a traceback)", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else 0)


def _print_traceback() -> None:
    """The current exception's traceback on stderr (BCDTOOL_DEBUG), by the interpreter's own
    printer: importing the traceback module would cost every command's start-up ~2 ms."""
    sys.excepthook(*sys.exc_info())
