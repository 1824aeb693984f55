"""A dry run that says yes means the write is accepted: `hive set --dry-run` and the real
`hive set` agree on every corpus hive (same exit code), and what is written reads back."""

from __future__ import annotations

import shutil

import pytest

from tests.helpers.common import corpus_hives, run_cli as run

from bcdtool.regf.hive import Hive

HIVES = corpus_hives()


@pytest.mark.parametrize("path", HIVES, ids=[p.name for p in HIVES])
def test_dry_run_and_real_run_agree(path, tmp_path, capsys):
    for sibling in path.parent.glob(path.name + "*"):
        shutil.copy(sibling, tmp_path / sibling.name)
    target = tmp_path / path.name
    for file in tmp_path.iterdir():
        file.chmod(0o644)
    args = ["hive", "set", target, "BcdToolVerify\\Sub", "Probe", "--type", "REG_DWORD",
            "--data", "7"]
    dry = run(capsys, *args, "--dry-run")
    before = target.read_bytes()
    real = run(capsys, *args)
    assert dry[0] == real[0], (dry, real)
    if real[0] == 0:
        assert Hive.open(target).key("BcdToolVerify\\Sub").value("Probe").data == 7
    else:
        assert target.read_bytes() == before        # refused the same way, nothing written
        assert "dirty" in real[2]                   # only the dirty hive without logs refuses
