"""bcdtool/log.py: loggers that load `logging` only once something can listen, and then give
it every record as `logging.getLogger(name)` would."""

from __future__ import annotations

import logging
import subprocess
import sys

from bcdtool.log import get_logger

#: A fresh interpreter: log at each level without logging loaded, then report what was loaded.
WITHOUT_LOGGING = """
import sys
from bcdtool.log import get_logger
log = get_logger("bcdtool.somewhere")
log.debug("debug %d", 1)
log.info("info %d", 2)
log.warning("warning %d of %s", 3, "x")
print("logging" in sys.modules)
"""


def test_without_logging_loaded_only_warnings_reach_stderr_as_its_last_resort_would():
    proc = subprocess.run([sys.executable, "-c", WITHOUT_LOGGING], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "False\n"
    assert proc.stderr == "warning 3 of x\n"
    # ... which is what logging itself prints when nobody configured it
    plain = subprocess.run([sys.executable, "-c", "import logging; "
                            "logging.getLogger('a.b').warning('warning %d of %s', 3, 'x')"],
                           capture_output=True, text=True, timeout=60)
    assert plain.stderr == proc.stderr


def _emit_from_here(log) -> None:
    log.info("seen %s", "here")


def test_once_logging_is_loaded_records_go_through_it_naming_the_caller(caplog):
    caplog.set_level(logging.DEBUG, logger="bcdtool.test")
    _emit_from_here(get_logger("bcdtool.test"))
    (record,) = [r for r in caplog.records if r.name == "bcdtool.test"]
    assert record.getMessage() == "seen here" and record.levelno == logging.INFO
    assert record.funcName == "_emit_from_here" and record.pathname == __file__
