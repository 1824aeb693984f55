"""regf.history and regf.carve below BCD: log entries of real dirty hives, replayed copies equal
to what Windows recovered, and carving that only reads."""

from __future__ import annotations

from Registry import RegistryParse

from bcdtool.regf import carve, history, logs
from bcdtool.regf.hive import Hive
from bcdtool.regf.layout import BASE_BLOCK_SIZE


def _logs(corpus, name: str) -> list[tuple[str, bytes]]:
    out = []
    for suffix in (".LOG1", ".LOG2"):
        path = corpus / "hives" / (name + suffix)
        if path.exists():
            out.append((path.name, path.read_bytes()))
    return out


def test_entries_of_a_dirty_hive_match_python_registry(corpus):
    primary = (corpus / "hives" / "yarp-NewDirtyHive").read_bytes()
    logs = _logs(corpus, "yarp-NewDirtyHive")
    files = history.read_logs(primary, logs)
    ours = [(lf.name, e.sequence, e.status, e.pages) for lf in files for e in lf.entries]
    theirs = []
    for name, data in logs:
        for entry in RegistryParse.REGFBlock(data, 0, False).log_entries():
            refs = tuple((r.offset(), r.size()) for r in entry.dirty_pages_references())
            theirs.append((name, entry.sequence(), refs))
    assert [(n, s, p) for n, s, _, p in ours] == theirs
    assert {status for _, _, status, _ in ours} == {"pending"}


def test_last_snapshot_of_a_dirty_hive_is_what_windows_recovered(corpus):
    primary = (corpus / "hives" / "yarp-NewDirtyHive").read_bytes()
    reference = (corpus / "hives" / "yarp-NewDirtyHive-recovered-by-win10").read_bytes()
    snaps = list(history.snapshots(primary, _logs(corpus, "yarp-NewDirtyHive")))
    assert [s.entry.sequence for s in snaps] == [2, 3, 4, 5]
    last = snaps[-1].image
    assert last[BASE_BLOCK_SIZE:] == reference[BASE_BLOCK_SIZE:len(last)]
    assert Hive(last, original=last).key("Key3") is not None


def test_old_format_log_is_one_entry(corpus):
    primary = (corpus / "hives" / "yarp-OldDirtyHive").read_bytes()
    files = history.read_logs(primary, _logs(corpus, "yarp-OldDirtyHive"))
    entries = [e for lf in files for e in lf.entries]
    assert [(e.format, e.sequence, e.status) for e in entries] == [("old", 5, "pending")]
    assert all(length == 512 for _, length in entries[0].pages)
    (snap,) = history.snapshots(primary, _logs(corpus, "yarp-OldDirtyHive"))
    # the same bins as the recovery tested against Windows 7's own (tests/regf/test_logs.py)
    recovered = logs.recover(primary, _logs(corpus, "yarp-OldDirtyHive")).data
    assert snap.image[BASE_BLOCK_SIZE:] == recovered[BASE_BLOCK_SIZE:]


def test_touched_keys_of_an_entry(corpus):
    primary = (corpus / "hives" / "yarp-NewDirtyHive").read_bytes()
    snaps = list(history.snapshots(primary, _logs(corpus, "yarp-NewDirtyHive")))
    hive = history.open_snapshot(snaps[-1], "yarp")
    keys = history.touched(history.cell_owners(hive), snaps[-1].entry.pages)
    assert keys and all(isinstance(k, str) for k in keys)


def test_carving_a_real_hive_reads_only(corpus):
    data = (corpus / "hives" / "SAM").read_bytes()
    hive = Hive.from_bytes(data)
    found = carve.carve(hive)
    assert hive.data == data
    for key in found.keys:
        assert key.name and key.timestamp is not None
    live = {k.offset for k in hive.walk()}
    assert not live & {k.offset for k in found.keys}
