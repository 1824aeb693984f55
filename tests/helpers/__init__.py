"""Helpers shared by the whole test suite, imported as a package: `from tests.helpers.common
import sha, need_tool, run_cli`.  Helpers used by one folder stay beside its tests and are
imported the same way (`from tests.locate.locate_helpers import ...`)."""
