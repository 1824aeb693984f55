"""Per-module loggers that load `logging` only once something can listen to them.

Layer: bottom (imports nothing of bcdtool).  Modules log as the style asks, one logger per
module: `log = get_logger(__name__)`, then `log.info(...)`.  Importing `logging` costs about
3 ms, a few per cent of a read-only command (issue 12's start-up goal), and until something
has imported it nobody can have configured it: a record below WARNING would be dropped by the
root logger's default level, and one at WARNING or above would reach logging's last-resort
handler, which writes the bare message to stderr.  So while `logging` is not loaded these
loggers do exactly that themselves; once it is (a program configured logging, pytest's
`caplog`, a library that uses it), every record goes through `logging` as usual.
"""

from __future__ import annotations

import sys

DEBUG, INFO, WARNING = 10, 20, 30  # logging's own level numbers


class Logger:
    """A named logger with the three levels bcdtool uses."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def debug(self, msg: str, *args) -> None:
        """Log `msg % args` at DEBUG."""
        self._log(DEBUG, msg, args)

    def info(self, msg: str, *args) -> None:
        """Log `msg % args` at INFO."""
        self._log(INFO, msg, args)

    def warning(self, msg: str, *args) -> None:
        """Log `msg % args` at WARNING."""
        self._log(WARNING, msg, args)

    def _log(self, level: int, msg: str, args: tuple) -> None:
        logging = sys.modules.get("logging")
        if logging is not None:
            # stacklevel: the record names the module that called debug/info/warning
            logging.getLogger(self.name).log(level, msg, *args, stacklevel=3)
        elif level >= WARNING:
            sys.stderr.write((msg % args if args else msg) + "\n")


def get_logger(name: str) -> Logger:
    """The logger for module `name` (pass `__name__`)."""
    return Logger(name)
