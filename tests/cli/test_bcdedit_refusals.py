"""bcdedit refusals as a user meets them on the command line: one line on stderr naming the way
on, the exit code of its class (bcdtool/errors.py), no traceback, and the store unchanged.
(The library-level behaviour of these lines is in tests/bcd/test_bcdedit_pasted.py.)"""

from __future__ import annotations

import pytest

from tests.helpers.common import BCD_CORPUS, run_process, sha

#: Refusals as a user meets them: (line, exit code, words of the one-line message).
REFUSALS = [
    ("/set", 24, "/set needs an identifier"),
    ("/set {default} nx Maybe", 24, "OptIn, OptOut"),
    ("/set {default} nosuch 1", 22, "not recognized"),
    ("/set {nosuch} nx OptIn", 21, "identifier is not valid"),
    ("/set {00000000-0000-0000-0000-000000000009} nx OptIn", 15, "cannot find"),
    ("/deletevalue {default}", 24, "Syntax: bcdedit /deletevalue"),
    ("/deletevalue {default} quietboot", 15, "Element not found"),
    ("/displayorder {memdiag} /addfirst /addlast", 24, "/addfirst, /addlast or /remove"),
    ("/timeout abc", 24, "integer data 'abc'"),
    ("/create /d x /application", 24, "/application needs a type"),
    ("/create {bootmgr} /d x /application osloader", 24, "well-known identifier"),
    ("/delete {bootmgr}", 20, "specify /f"),
    ("/enum bogus", 21, "DEVICE"),
    ("/ems {default} maybe", 24, "ON or OFF"),
    ("/dbgsettings net", 24, "HOSTIP:"),
    ("/set {default} device bogus=1", 24, "bcdedit /? FORMATS"),
    ("/set {default} device file=x", 24, "[boot]\\path"),
    ("/set {c77a2612-6d5b-11eb-9ff2-e9f459e1e131} ramdisksdidevice locate", 24,
     "locate=custom:XXXXXXXX"),
    ("/set {default} device \\Device\\HarddiskVolume1", 17, "partition=#N"),
    ("/set {default} device partition=C:", 17, "whole disk or image"),
    ("/sysstore x", 37, "live Windows"),
    ("/bogus", 24, "Unknown command"),
]


@pytest.mark.parametrize("line, code, words", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_are_one_line_with_their_exit_code(tmp_path, line, code, words):
    store = tmp_path / "BCD"
    store.write_bytes((BCD_CORPUS / "win10-bios-installed-sysreserved.bcd").read_bytes())
    digest = sha(store)
    run = run_process("bcdedit", "--store", store, *line.split(), state=tmp_path / "state")
    assert run.returncode == code, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and words in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and sha(store) == digest
