"""Transaction-log recovery: Windows' own recovered hives as oracles, hostile logs, bounds."""

from __future__ import annotations

import io
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from Registry import Registry

from bcdtool.errors import BcdToolError, DirtyHiveError, FormatError, LimitError
from bcdtool.regf import logs
from bcdtool.regf.checksums import marvin32, regf_checksum
from tests.helpers.common import corpus_files, corpus_hives, need_tool


def python_registry_view(data: bytes) -> dict[str, list[tuple[str, int, bytes]]]:
    """Every key path -> sorted (value name, type, raw data), read by python-registry."""
    reg = Registry.Registry(io.BytesIO(data))
    view: dict[str, list[tuple[str, int, bytes]]] = {}
    stack = [reg.root()]
    while stack:
        key = stack.pop()
        view[key.path()] = sorted((v.name(), v.value_type(), bytes(v.raw_data()))
                                  for v in key.values())
        stack.extend(key.subkeys())
    return view


def hivex_key_count(data: bytes, tmp_path: Path) -> int:
    """Number of keys `hivexregedit --export` prints (it must read the whole hive)."""
    need_tool("hivexregedit")
    path = tmp_path / "hivex-input"
    path.write_bytes(data)
    out = subprocess.run(["hivexregedit", "--export", str(path), "\\"], capture_output=True,
                         check=True, timeout=120).stdout
    return out.count(b"\n[")


def recover_beside(path: Path) -> logs.Recovery:
    return logs.recover(path.read_bytes(), logs.read_log_files(path))


def seqs(data: bytes) -> tuple[int, int]:
    return struct.unpack_from("<II", data, 4)


# --- crafting new-format logs for the hostile cases -------------------------------------------

def make_entry(sequence: int, hive_size: int, pages: list[tuple[int, bytes]], *,
               flags: int = 0, size: int | None = None) -> bytes:
    """A HvLE entry with correct Marvin32 hashes (unless the caller breaks them afterwards)."""
    body = b"".join(struct.pack("<II", off, len(page)) for off, page in pages)
    body += b"".join(page for _, page in pages)
    total = size if size is not None else -(-(40 + len(body)) // 512) * 512
    entry = bytearray(total)
    entry[40:40 + len(body)] = body
    struct.pack_into("<4sIIIII", entry, 0, b"HvLE", total, flags, sequence, hive_size, len(pages))
    struct.pack_into("<Q", entry, 24, marvin32(bytes(entry[40:])))
    struct.pack_into("<Q", entry, 32, marvin32(bytes(entry[:32])))
    return bytes(entry)


def make_log(base_from: bytes, sequence: int, entries: list[bytes]) -> bytes:
    """A new-format log: the hive's first 512 bytes as file type 6 with `sequence`, then entries."""
    base = bytearray(base_from[:512])
    struct.pack_into("<III", base, 4, sequence, sequence, 0)
    struct.pack_into("<Q", base, 12, struct.unpack_from("<Q", base_from, 12)[0])
    struct.pack_into("<I", base, 28, 6)
    struct.pack_into("<I", base, 508, regf_checksum(bytes(base[:508])))
    return bytes(base) + b"".join(entries)


# --- detection --------------------------------------------------------------------------------

def test_is_dirty_on_corpus(corpus):
    dirty = {p.name for p in corpus_hives() if seqs(p.read_bytes()[:12])[0] !=
             seqs(p.read_bytes()[:12])[1]}
    assert {"yarp-NewDirtyHive", "yarp-OldDirtyHive", "NTUSER-dirty.DAT",
            "UsrClass-dirty.dat", "SECURITY-dirty-nolog"} <= dirty
    for path in corpus_hives():
        assert logs.is_dirty(path.read_bytes()) == (path.name in dirty), path.name


def test_is_dirty_bad_checksum_and_not_a_hive(corpus):
    data = bytearray((corpus / "bcd" / "empty-createstore.bcd").read_bytes())
    assert not logs.is_dirty(data)
    data[508] ^= 1
    assert logs.is_dirty(data)
    with pytest.raises(FormatError):
        logs.is_dirty(b"hbin" + bytes(600))
    with pytest.raises(FormatError):
        logs.is_dirty(b"regf")


def test_find_log_files_case_insensitive_and_ordered(tmp_path):
    (tmp_path / "BCD").write_bytes(b"x")
    for name in ("bcd.log2", "BCD.Log", "bcd.LOG1", "other.LOG", "BCD.LOG3", "BCD.LOGX"):
        (tmp_path / name).write_bytes(b"y")
    assert [p.name for p in logs.find_log_files(tmp_path / "BCD")] == \
        ["BCD.Log", "bcd.LOG1", "bcd.log2"]
    assert logs.find_log_files(tmp_path / "missing" / "BCD") == []


def test_read_log_files_refuses_oversized(tmp_path):
    (tmp_path / "H").write_bytes(b"x")
    (tmp_path / "H.LOG1").write_bytes(bytes(2048))
    assert logs.read_log_files(tmp_path / "H") == [("H.LOG1", bytes(2048))]
    with pytest.raises(LimitError, match="over bcdtool.s cap"):
        logs.read_log_files(tmp_path / "H", max_size=1024)


# --- Windows' recovered copies as oracles ---------------------------------------------------

def test_new_format_recovery_equals_windows10_byte_for_byte(corpus):
    hives = corpus / "hives"
    rec = recover_beside(hives / "yarp-NewDirtyHive")
    windows = (hives / "yarp-NewDirtyHive-recovered-by-win10").read_bytes()
    assert [(a.log, a.sequence) for a in rec.applied] == [
        ("yarp-NewDirtyHive.LOG1", 2), ("yarp-NewDirtyHive.LOG2", 3),
        ("yarp-NewDirtyHive.LOG2", 4), ("yarp-NewDirtyHive.LOG2", 5)]
    assert rec.used_logs == ("yarp-NewDirtyHive.LOG1", "yarp-NewDirtyHive.LOG2")
    assert seqs(rec.data) == (6, 6) == seqs(windows)
    assert rec.data == windows  # base block included: Windows 10 wrote exactly this
    assert not logs.is_dirty(rec.data)
    view = python_registry_view(rec.data)
    assert view == python_registry_view(windows)
    assert view != python_registry_view((hives / "yarp-NewDirtyHive").read_bytes())


def test_old_format_recovery_equals_windows7(corpus):
    hives = corpus / "hives"
    original = (hives / "yarp-OldDirtyHive").read_bytes()
    rec = recover_beside(hives / "yarp-OldDirtyHive")
    windows = (hives / "yarp-OldDirtyHive-recovered-by-win7").read_bytes()
    assert rec.used_logs == ("yarp-OldDirtyHive.LOG1",)
    assert rec.applied[0].pages == 64 and rec.applied[0].sequence == 5
    assert not logs.is_dirty(rec.data)
    assert seqs(rec.data) == (6, 6)  # one write after recovery; Windows 7's copy shows a second
    assert python_registry_view(rec.data) == python_registry_view(windows)
    assert python_registry_view(rec.data) != python_registry_view(original)
    assert len(rec.data) == len(windows)
    diffs = [i for i in range(4096, len(windows)) if rec.data[i] != windows[i]]
    # Windows 7 flushed the hive once more after recovery (sequence 7, new timestamp): it copied
    # that timestamp into the first hbin, and normalised one key's largest-value-name length.
    first_hbin_stamp = set(range(4096 + 20, 4096 + 28))
    nk_largest_value_name = set(range(4096 + 0x6AD88 + 4 + 0x3C, 4096 + 0x6AD88 + 4 + 0x40))
    assert diffs and set(diffs) <= first_hbin_stamp | nk_largest_value_name
    assert windows[4096 + 20:4096 + 28] == windows[12:20]
    base_diffs = {i for i in range(4096) if rec.data[i] != windows[i]}
    file_name = set(range(48, 112))
    assert base_diffs <= {4, 8, 12, 13, 14, 15, 16, 17, 18, 19, 508, 509, 510, 511} | file_name


def test_our_reader_agrees_on_recovered_hives(corpus):
    hive_mod = pytest.importorskip("bcdtool.regf.hive")
    hives = corpus / "hives"
    for name in ("yarp-NewDirtyHive", "yarp-OldDirtyHive"):
        rec = recover_beside(hives / name)
        ours = hive_mod.Hive.from_bytes(rec.data)
        keys = 0
        view = python_registry_view(rec.data)
        for key in ours.walk():
            keys += 1
            pr_path = view_path(view, key.path)
            assert sorted((v.name or "(default)", v.type, bytes(v.raw))
                          for v in key.values()) == view[pr_path]
        assert keys == len(view)


def view_path(view: dict, path: str) -> str:
    """python-registry's path of a key: the root's name first, then the key path."""
    root = next(iter(sorted(view, key=len)))
    return root if not path else f"{root}\\{path}"


@pytest.mark.slow
@pytest.mark.parametrize("name,log_used,first,last", [
    ("NTUSER-dirty.DAT", ("NTUSER-dirty.DAT.LOG1",), 566, 588),
    ("UsrClass-dirty.dat", ("UsrClass-dirty.dat.LOG1", "UsrClass-dirty.dat.LOG2"), 287, 300),
])
def test_real_user_hives_recover_and_read_fully(corpus, tmp_path, name, log_used, first, last):
    path = corpus / "hives" / name
    rec = recover_beside(path)
    assert rec.used_logs == log_used
    assert [a.sequence for a in rec.applied] == list(range(first, last + 1))
    assert seqs(rec.data) == (last + 1, last + 1)
    assert not logs.is_dirty(rec.data)
    view = python_registry_view(rec.data)
    assert len(view) > len(python_registry_view(path.read_bytes()))
    assert hivex_key_count(rec.data, tmp_path) == len(view)


def test_dirty_without_log_is_refused(corpus):
    data = (corpus / "hives" / "SECURITY-dirty-nolog").read_bytes()
    with pytest.raises(DirtyHiveError, match="no usable transaction log"):
        logs.recover(data, logs.read_log_files(corpus / "hives" / "SECURITY-dirty-nolog"))


def test_only_stale_logs_are_refused(corpus):
    hives = corpus / "hives"
    data = (hives / "NTUSER-dirty.DAT").read_bytes()
    stale = [("NTUSER-dirty.DAT.LOG2", (hives / "NTUSER-dirty.DAT.LOG2").read_bytes())]
    with pytest.raises(DirtyHiveError, match="older than the primary"):
        logs.recover(data, stale)


def test_clean_stores_ignore_stale_logs(corpus):
    with_logs = [p for p in corpus_files("bcd") if ".LOG" not in p.name.upper()
                 and logs.find_log_files(p)]
    assert len(with_logs) >= 5
    for path in with_logs:
        data = path.read_bytes()
        rec = logs.recover(data, logs.read_log_files(path))
        assert rec.data == data and rec.applied == () and rec.used_logs == (), path.name


def test_old_log_needs_matching_timestamp(corpus):
    hives = corpus / "hives"
    primary = bytearray((hives / "yarp-OldDirtyHive").read_bytes())
    primary[12] ^= 1
    struct.pack_into("<I", primary, 508, regf_checksum(bytes(primary[:508])))
    log1 = (hives / "yarp-OldDirtyHive.LOG1").read_bytes()
    with pytest.raises(DirtyHiveError):
        logs.recover(bytes(primary), [("yarp-OldDirtyHive.LOG1", log1)])


def test_old_log_truncated_or_without_dirt_is_refused(corpus):
    hives = corpus / "hives"
    primary = (hives / "yarp-OldDirtyHive").read_bytes()
    log1 = (hives / "yarp-OldDirtyHive.LOG1").read_bytes()
    for bad in (log1[:-512], log1[:512] + b"DIRX" + log1[516:], log1[:100]):
        with pytest.raises(DirtyHiveError):
            logs.recover(primary, [("L", bad), ("L2", b"")])


def test_invalid_primary_base_block_uses_latest_log_only(corpus):
    hives = corpus / "hives"
    primary = bytearray((hives / "yarp-NewDirtyHive").read_bytes())
    primary[508] ^= 0xFF  # checksum wrong: the base block cannot be trusted
    rec = logs.recover(bytes(primary), logs.read_log_files(hives / "yarp-NewDirtyHive"))
    assert rec.used_logs == ("yarp-NewDirtyHive.LOG2",)
    assert [a.sequence for a in rec.applied] == [3, 4, 5]
    assert seqs(rec.data) == (6, 6) and not logs.is_dirty(rec.data)
    assert struct.unpack_from("<I", rec.data, 28)[0] == 0
    python_registry_view(rec.data)


# --- hostile logs: the valid prefix as Windows would, or DirtyHiveError -------------------------

def new_dirty(corpus) -> tuple[bytes, bytes, bytes]:
    hives = corpus / "hives"
    return ((hives / "yarp-NewDirtyHive").read_bytes(),
            (hives / "yarp-NewDirtyHive.LOG1").read_bytes(),
            (hives / "yarp-NewDirtyHive.LOG2").read_bytes())


def entry_offsets(log: bytes) -> list[int]:
    pos, out = 512, []
    while log[pos:pos + 4] == b"HvLE":
        out.append(pos)
        pos += struct.unpack_from("<I", log, pos + 4)[0]
    return out


def after_entries(log: bytes, *entries: bytes) -> bytes:
    """`log` cut after its valid entries, with `entries` appended there."""
    last = entry_offsets(log)[-1]
    return log[:last + struct.unpack_from("<I", log, last + 4)[0]] + b"".join(entries)


def test_bad_hash_stops_at_the_valid_prefix(corpus):
    primary, log1, log2 = new_dirty(corpus)
    third = entry_offsets(log2)[1]
    broken = bytearray(log2)
    broken[third + 100] ^= 0x40  # inside entry 4's pages: hash-1 fails
    rec = logs.recover(primary, [("L1", log1), ("L2", bytes(broken))])
    assert [a.sequence for a in rec.applied] == [2, 3]
    assert seqs(rec.data) == (4, 4)
    assert any("hash" in n for n in rec.notices)
    python_registry_view(rec.data)


def test_sequence_gap_stops_the_chain(corpus):
    primary, log1, log2 = new_dirty(corpus)
    # LOG2 starting at 4 instead of 3: it cannot continue LOG1's entry 2.
    offsets = entry_offsets(log2)
    entries = [log2[o:o + struct.unpack_from("<I", log2, o + 4)[0]] for o in offsets]
    renumbered = []
    for new_seq, entry in zip((4, 5, 6), entries, strict=True):
        raw = bytearray(entry)
        struct.pack_into("<I", raw, 12, new_seq)
        struct.pack_into("<Q", raw, 32, marvin32(bytes(raw[:32])))
        renumbered.append(bytes(raw))
    log2_gap = make_log(log2, 4, renumbered)
    rec = logs.recover(primary, [("L1", log1), ("L2", log2_gap)])
    assert [a.sequence for a in rec.applied] == [2]
    # A gap inside one log ends its valid prefix.
    inner_gap = make_log(log2, 3, [entries[0], renumbered[2]])
    rec = logs.recover(primary, [("L1", log1), ("L2", inner_gap)])
    assert [a.sequence for a in rec.applied] == [2, 3]


def test_absurd_sizes_are_not_applied(corpus):
    primary, log1, _ = new_dirty(corpus)
    page = bytes(4096)
    hostile = [
        make_entry(3, 0x7FFFF000, [(0, page)]),             # hive size far beyond any data
        make_entry(3, 0x5000, [(0x5000, page)]),            # page beyond the hive size
        make_entry(3, 0x5000, [(100, page)]),               # unaligned page offset
        make_entry(3, 0x5003, [(0, page)]),                 # hive size not a multiple of 4096
    ]
    for entry in hostile:
        rec = logs.recover(primary, [("L1", log1), ("L2", make_log(primary, 3, [entry]))])
        assert [a.sequence for a in rec.applied] == [2]
    # Entry sizes that overrun the file, or a page count that overruns the entry.
    good = bytearray(make_entry(3, 0x5000, [(0, page)]))
    for field_offset, value in ((4, 0xFFFFFE00), (4, 0x100), (20, 0x7FFFFFFF)):
        raw = bytearray(good)
        struct.pack_into("<I", raw, field_offset, value)
        struct.pack_into("<Q", raw, 32, marvin32(bytes(raw[:32])))
        rec = logs.recover(primary, [("L1", log1), ("L2", make_log(primary, 3, [bytes(raw)]))])
        assert [a.sequence for a in rec.applied] == [2]


def test_entry_grows_the_hive_and_invalid_bins_become_dummies(corpus):
    primary, log1, log2 = new_dirty(corpus)
    rec = logs.recover(primary, [("L1", log1), ("L2", log2)])
    # New bins at the end of the 256 KiB file (bins offset 0x3F000) and beyond it.
    grown = len(primary) - 4096
    new_bin = bytearray(4096)
    struct.pack_into("<4sII", new_bin, 0, b"hbin", grown, 4096)
    struct.pack_into("<i", new_bin, 32, 4096 - 32)
    garbage_bin = b"junk" + bytes(508)  # header page of a second new bin, invalid
    extra = make_entry(6, grown + 8192, [(grown, bytes(new_bin)), (grown + 4096, garbage_bin)])
    log2_more = after_entries(log2, extra)
    rec2 = logs.recover(primary, [("L1", log1), ("L2", log2_more)])
    assert [a.sequence for a in rec2.applied] == [2, 3, 4, 5, 6]
    assert len(rec2.data) == 4096 + grown + 8192 > len(primary)
    assert struct.unpack_from("<I", rec2.data, 40)[0] == grown + 8192
    assert rec2.data[4096 + grown:4096 + grown + 4096] == bytes(new_bin)
    dummy = rec2.data[4096 + grown + 4096:4096 + grown + 8192]
    assert dummy[:12] == struct.pack("<4sII", b"hbin", grown + 4096, 4096)
    assert struct.unpack_from("<i", dummy, 32)[0] == 4096 - 32
    # Slack between the old Length and the new bin held no bins either: dummies fill it.
    assert any("replaced by an empty one" in n for n in rec2.notices)
    assert python_registry_view(rec2.data) == python_registry_view(rec.data)


def test_ktm_flag_follows_the_last_entry(corpus):
    primary, log1, log2 = new_dirty(corpus)
    flagged = make_entry(6, 0x5000, [(0, primary[4096:4096 + 512])], flags=1)
    rec = logs.recover(primary, [("L1", log1), ("L2", after_entries(log2, flagged))])
    assert struct.unpack_from("<I", rec.data, 144)[0] & 1 == 1
    assert any("KTM" in n for n in rec.notices)
    assert regf_checksum(rec.data[:508]) == struct.unpack_from("<I", rec.data, 508)[0]


def test_truncations_and_bit_flips_only_raise_dirty_hive_error(corpus):
    primary, log1, log2 = new_dirty(corpus)
    outcomes = set()
    end = len(after_entries(log2))
    for cut in range(0, end + 1024, 1024):
        for first in (log1, log1[:cut]):
            outcomes.add(_outcome(primary, [("L1", first), ("L2", log2[:cut])]))
    outcomes |= _flip_logs(primary, log1, log2, runs=30, seed=1234)
    assert "refused" in outcomes and any(o.startswith("applied") for o in outcomes)


@pytest.mark.slow
def test_many_bit_flips_only_raise_dirty_hive_error(corpus):
    outcomes = _flip_logs(*new_dirty(corpus), runs=600, seed=4321, span=65536)
    for outcome in outcomes - {"refused"}:
        applied = [int(n) for n in outcome.split()[1].split(",")]
        assert applied == list(range(applied[0], applied[0] + len(applied)))
        assert 2 <= applied[0] and applied[-1] <= 5
    assert len(outcomes) >= 3


def _flip_logs(primary: bytes, log1: bytes, log2: bytes, *, runs: int, seed: int,
               span: int = 6144) -> set[str]:
    rng = random.Random(seed)
    outcomes = set()
    for _ in range(runs):
        a, b = bytearray(log1), bytearray(log2)
        target = rng.choice((a, b))
        for _ in range(rng.randint(1, 4)):
            target[rng.randrange(min(len(target), span))] ^= 1 << rng.randrange(8)
        outcomes.add(_outcome(primary, [("L1", bytes(a)), ("L2", bytes(b))]))
    return outcomes


def test_hostile_old_logs_only_raise_dirty_hive_error(corpus):
    hives = corpus / "hives"
    primary = (hives / "yarp-OldDirtyHive").read_bytes()
    log1 = (hives / "yarp-OldDirtyHive.LOG1").read_bytes()
    rng = random.Random(99)
    for cut in range(0, len(log1) + 1, 512):
        _outcome(primary, [("L1", log1[:cut])])
    for _ in range(60):
        bad = bytearray(log1)
        bad[rng.randrange(1200)] ^= 1 << rng.randrange(8)
        _outcome(primary, [("L1", bytes(bad))])


def _outcome(primary: bytes, log_list: list[tuple[str, bytes]]) -> str:
    try:
        rec = logs.recover(primary, log_list)
    except DirtyHiveError:
        return "refused"
    except BcdToolError as exc:  # pragma: no cover - the assertion below reports it
        pytest.fail(f"unexpected {type(exc).__name__}: {exc}")
    assert not logs.is_dirty(rec.data)
    return "applied " + ",".join(str(a.sequence) for a in rec.applied)


def test_recover_of_a_clean_hive_is_the_identity(corpus):
    data = (corpus / "hives" / "SAM").read_bytes()
    assert logs.recover(data, []).data == data
    with pytest.raises(FormatError):
        logs.recover(b"nope" + bytes(4096), [])


def test_recovery_is_in_memory_only(corpus, tmp_path):
    for name in ("yarp-NewDirtyHive", "yarp-NewDirtyHive.LOG1", "yarp-NewDirtyHive.LOG2"):
        shutil.copy(corpus / "hives" / name, tmp_path / name)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    recover_beside(tmp_path / "yarp-NewDirtyHive")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_old_log_with_invalid_primary_base_block_matches_the_first_hbin_stamp(corpus):
    hives = corpus / "hives"
    primary = bytearray((hives / "yarp-OldDirtyHive").read_bytes())
    log1 = (hives / "yarp-OldDirtyHive.LOG1").read_bytes()
    primary[508] ^= 1  # the primary base block is now invalid
    with pytest.raises(DirtyHiveError):  # its first hbin carries an older stamp than the log
        logs.recover(bytes(primary), [("L1", log1)])
    primary[4096 + 20:4096 + 28] = log1[12:20]
    rec = logs.recover(bytes(primary), [("L1", log1)])
    assert rec.used_logs == ("L1",) and not logs.is_dirty(rec.data)
    windows = (hives / "yarp-OldDirtyHive-recovered-by-win7").read_bytes()
    assert python_registry_view(rec.data) == python_registry_view(windows)


def test_two_old_logs_for_the_same_write_must_agree(corpus):
    hives = corpus / "hives"
    primary = (hives / "yarp-OldDirtyHive").read_bytes()
    log1 = (hives / "yarp-OldDirtyHive.LOG1").read_bytes()
    same = logs.recover(primary, [("L1", log1), ("L2", log1)])
    assert same.used_logs == ("L1",)
    other = bytearray(log1)
    other[-1] ^= 1
    with pytest.raises(DirtyHiveError, match="same write"):
        logs.recover(primary, [("L1", log1), ("L2", bytes(other))])


def test_truncated_primaries_only_raise_our_errors(corpus):
    primary, log1, log2 = new_dirty(corpus)
    for cut in list(range(512, 8192, 512)) + [12288, 20480, 21000]:
        try:
            rec = logs.recover(primary[:cut], [("L1", log1), ("L2", log2)])
        except (DirtyHiveError, FormatError):
            continue
        assert not logs.is_dirty(rec.data)
        assert len(rec.data) >= 4096 + struct.unpack_from("<I", rec.data, 40)[0]


def test_recovered_hives_pass_our_validator(corpus):
    check = pytest.importorskip("bcdtool.regf.check")
    hive_mod = pytest.importorskip("bcdtool.regf.hive")
    for name in ("yarp-NewDirtyHive", "yarp-OldDirtyHive", "NTUSER-dirty.DAT",
                 "UsrClass-dirty.dat"):
        rec = recover_beside(corpus / "hives" / name)
        findings = check.check(hive_mod.Hive.from_bytes(rec.data))
        assert not [f for f in findings if f.severity == "error"], name


def test_old_log_claiming_a_huge_hive_is_not_applied(corpus):
    hives = corpus / "hives"
    primary = (hives / "yarp-OldDirtyHive").read_bytes()
    log1 = bytearray((hives / "yarp-OldDirtyHive.LOG1").read_bytes())
    struct.pack_into("<I", log1, 40, 0x7FFFF000)  # Length: nearly 2 GiB of hive bins
    struct.pack_into("<I", log1, 508, regf_checksum(bytes(log1[:508])))
    log1 += bytes(0x7FFFF000 // 4096)  # a bitmap long enough for it
    with pytest.raises(DirtyHiveError):
        logs.recover(primary, [("L1", bytes(log1))])
