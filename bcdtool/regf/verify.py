"""Verification of a written (or planned) hive: the one place hive content is verified.

Layer: regf.  `verify_commit(original, written, planned=...)` accepts `written` only when

(a) our reader opens it and the validator finds no error it did not already have;
(b) its logical content equals the original's plus the planned changes: every key, value,
    class name, security descriptor and timestamp that was not changed is identical, and the
    touched keys hold exactly what the edits say;
(c) the independent readers agree wherever they are known to read correctly: python-registry
    always, libregf (pyregf) when installed.  Their known misreadings are listed once, in
    `MISREADINGS`, and each is shown to happen by tests/regf/test_verify_readers.py.

Cheap by construction: an in-place edit changes a few cells, so (b) is proven from the cell
level up.  Every allocated cell that differs between the two images must belong to a key the
plan touched (its nk, class, value list, values, data, subkey index) or be a security record
whose descriptor is unchanged (reference counts and ring links move when keys come and go);
cells that did not change are byte-identical, so every key reached only through them is
identical by induction from the root.  The touched keys are then compared with the plan and
validated, and only they are re-read by the independent readers.  When some changed cell
belongs to no touched key (a compacted rewrite, or a bug), the proof falls back to a full
logical comparison of both trees and a full validator run, which decides on its own.

`planned=None` (a caller that has no editor record) verifies the same way but takes every
logical difference as intended: (a) and (c) over what differs, no claim about intent.
"""

from __future__ import annotations

import io
import struct
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from Registry import Registry

from bcdtool.errors import BcdToolError, NotFoundError, VerifyError
from bcdtool.log import get_logger
from bcdtool.regf import layout_packed as L
from bcdtool.regf.check import ERROR, Finding, check, check_keys
from bcdtool.regf.checksums import raw_xor32, regf_checksum
from bcdtool.regf.hive import Hive, Key
from bcdtool.regf.logs import is_dirty
from bcdtool.regf.planned import CREATE_KEY, DELETE_KEY, DELETE_VALUE, SET_VALUE, Planned
from bcdtool.wintext import upcase

try:                    # libregf's Python binding: a second independent reader, when installed
    import pyregf
except ImportError:     # pragma: no cover - depends on the machine
    pyregf = None

log = get_logger(__name__)

PAGE = 4096
#: Base-block bytes a commit must leave as they were: versions, type, format, root offset
#: (20..40), clustering, file name, GUIDs, flags, `rmtm`, reorganize stamp, reserved (44..508),
#: and everything after the checksum.
_KEPT_HEADER = ((20, 40), (44, 508), (512, 4096))


# --- known misreadings of the independent readers ---------------------------------------------
@dataclass(frozen=True)
class Misreading:
    """A class of values or names an independent reader is known to read wrongly."""

    reader: str
    code: str
    description: str


#: Every known misreading, in one place.  A value or name a reader misreads is not compared
#: with that reader (the other checks still cover it); tests show each one happening.
MISREADINGS: tuple[Misreading, ...] = (
    Misreading("python-registry", "type-masked",
               "value types are masked to 12 bits (device-property types 0xFFFF0001..0xFFFF0012 "
               "read as 0x001..0x012), and the data is then read as the masked type says"),
    Misreading("python-registry", "short-data-cell",
               "1-4 bytes of data in a data cell (no inline flag) are read from the vk instead"),
    Misreading("python-registry", "big-data-minor3",
               "in a version 1.3 hive, data over 16344 bytes starting with 'db' is read as big "
               "data (issue #68)"),
    Misreading("python-registry", "dword-offset-field",
               "REG_DWORD data is always the vk's 4-byte offset field, whatever its length "
               "(zero-length or longer REG_DWORDs read wrong)"),
    Misreading("python-registry", "qword-cell",
               "REG_QWORD data is always 8 bytes read from a data cell (inline, zero-length "
               "or other lengths read wrong or fail)"),
    Misreading("python-registry", "big-endian-cell",
               "REG_DWORD_BIG_ENDIAN data is always read from a data cell (inline data, as "
               "Windows stores it, reads wrong)"),
    Misreading("python-registry", "inline-multi-sz",
               "inline REG_MULTI_SZ data (Windows' empty 2-byte list) is read as no bytes"),
    Misreading("python-registry", "inline-4-bytes",
               "inline REG_SZ, REG_EXPAND_SZ and unknown types are read as the whole 4-byte "
               "field, whatever their length"),
    Misreading("python-registry", "filetime-inline",
               "inline REG_FILETIME (0x10) data is read from past the vk's offset field"),
    Misreading("python-registry", "name-cp1252",
               "compressed names are decoded as Windows-1252: bytes 0x80-0x9F read wrong or fail"),
    Misreading("python-registry", "name-surrogate",
               "UTF-16 names holding an unpaired surrogate fail to decode"),
    Misreading("libregf", "short-inline",
               "inline data of 1-3 bytes is returned as other bytes"),
    Misreading("libregf", "string-nul",
               "REG_SZ/REG_EXPAND_SZ data is cut after the first NUL character"),
    Misreading("libregf", "name-non-ascii",
               "names are converted to UTF-8 text: unpaired surrogates fail and compressed "
               "names outside ASCII may convert differently"),
)

_PR_GENERIC = frozenset({0, 3, 6, 8, 9, 10, *range(0x101, 0x120)})


def python_registry_value_misreading(vtype: int, size: int, inline: bool,
                                     minor: int) -> str | None:
    """The `MISREADINGS` code python-registry hits on such a value, or None if it reads it right."""
    if vtype > 0xFFF:
        return "type-masked"
    if not inline and 0 < size < 5:
        return "short-data-cell"
    if not inline and minor <= 3 and size > L.BIG_DATA_SEGMENT_SIZE:
        return "big-data-minor3"
    if vtype == 4:
        return None if inline and size == 4 else "dword-offset-field"
    if vtype == 11:
        return None if not inline and size == 8 else "qword-cell"
    if vtype == 5:
        return None if not inline and size == 4 else "big-endian-cell"
    if vtype == 7:
        return "inline-multi-sz" if inline and size else None
    if vtype == 0x10:
        return "filetime-inline" if inline and size else None
    if inline and size != 4 and vtype not in _PR_GENERIC:
        return "inline-4-bytes"
    return None


def python_registry_name_misreading(name: str, compressed: bool) -> str | None:
    """The `MISREADINGS` code python-registry hits on a stored name, or None."""
    if compressed:
        return "name-cp1252" if any(0x80 <= ord(c) <= 0x9F for c in name) else None
    return "name-surrogate" if _has_lone_surrogate(name) else None


def libregf_value_misreading(vtype: int, raw: bytes, inline: bool) -> str | None:
    """The `MISREADINGS` code libregf hits on such a value, or None if it reads it right."""
    if inline and 1 <= len(raw) <= 3:
        return "short-inline"
    if vtype in (1, 2) and _first_nul_end(raw) < len(raw):
        return "string-nul"
    return None


def libregf_name_misreading(name: str) -> str | None:
    """The `MISREADINGS` code libregf hits on a name, or None."""
    return None if name.isascii() else "name-non-ascii"


def _first_nul_end(raw: bytes) -> int:
    """End of the first UTF-16 NUL code unit in `raw` (len(raw) when there is none)."""
    for i in range(0, len(raw) - 1, 2):
        if raw[i] == 0 and raw[i + 1] == 0:
            return i + 2
    return len(raw)


def _has_lone_surrogate(name: str) -> bool:
    try:
        name.encode("utf-16-le")
    except UnicodeEncodeError:
        return True
    return False


# --- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class VerifyReport:
    """What verification looked at: the keys compared and how (fast cell proof or full walk)."""

    keys_compared: int
    method: str
    readers: tuple[str, ...]
    warnings: tuple[Finding, ...] = ()


def verify_commit(original: bytes, written: bytes, *, planned: Planned | None = None,
                  name: str = "") -> VerifyReport:
    """Accept `written` as the commit of `planned` over `original`, or raise VerifyError.

    `original` is the hive as it was read; when the edit started from a log-recovered image,
    `planned.base` is that image and the comparison uses it.  The same call checks a dry run's
    planned image and a real write read back from the target.
    """
    base = planned.base if planned is not None else original
    try:
        return _Verifier(base, written, planned, name).run()
    except VerifyError:
        raise
    except BcdToolError as exc:
        raise VerifyError(f"our reader rejects the written hive: {exc.message}",
                          path=name or None, offset=exc.offset) from None


def verify_new_hive(image: bytes) -> VerifyReport:
    """Check a brand-new hive image (no original): header, reader, full validator, readers."""
    _check_header(image, None)
    hive = _open(image)
    findings = check(hive)
    _raise_errors([f for f in findings if f.severity == ERROR])
    keys = list(hive.walk())
    readers = _independent_readers(image, hive, keys)
    return VerifyReport(len(keys), "full", readers,
                        tuple(f for f in findings if f.severity != ERROR))


# --- the verifier -----------------------------------------------------------------------------
def _fold(parts: Iterable[str]) -> tuple[str, ...]:
    return tuple(upcase(p) for p in parts)


def _split(path: str) -> list[str]:
    return [p for p in path.split("\\") if p]


@dataclass
class _KeyState:
    """What a touched key must hold: exact name, class, descriptor, values, subkey names."""

    names: tuple[str, ...]                      # path parts, stored case
    class_raw: bytes | None
    descriptor: bytes
    values: list[tuple[str, int, bytes]]
    subkeys: dict[str, str]                     # folded name -> stored name
    old: Key | None                             # the key in the original, if it was there
    exists: bool = True


class _Verifier:
    def __init__(self, base: bytes, written: bytes, planned: Planned | None, name: str):
        self.base, self.written, self.planned, self.name = base, written, planned, name
        self.keys: dict[tuple[str, ...], _KeyState] = {}
        self.deleted: list[tuple[str, ...]] = []

    def fail(self, message: str) -> None:
        raise VerifyError(message, path=self.name or None)

    def run(self) -> VerifyReport:
        _check_header(self.written, self.base)
        known = self.planned.base_hive if self.planned is not None else None
        self.old = known if known is not None and known.data is self.base else \
            Hive(self.base, original=self.base, strict=False)
        # Lazy: the cell proof walks only the bins that changed (the others are the original's).
        self.new = _open(self.written, self.name, lazy=True)
        if self.planned is None:
            return self.full(None)
        for change in self.planned.changes:
            self.replay(change)
        if self.planned.compacted:
            return self.full(self.planned)
        unexplained = self.unexplained_cells()
        if unexplained:
            log.debug("%d changed cells outside the touched keys (first %#x): full comparison",
                      len(unexplained), min(unexplained))
            return self.full(self.planned)
        touched = self.compare_touched()
        self.check_security_counts(touched)
        self.validate(touched)
        readers = _independent_readers(self.written, self.new, touched)
        return VerifyReport(len(touched), "cells", readers)

    # -- the plan --------------------------------------------------------------------------
    def state(self, parts: list[str]) -> _KeyState | None:
        folded = _fold(parts)
        if folded in self.keys:
            state = self.keys[folded]
            return state if state.exists else None
        if any(folded[:len(d)] == d for d in self.deleted):
            return None
        try:
            key = self.old.key("\\".join(parts))
        except NotFoundError:
            return None
        chain = []
        walk: Key | None = key
        while walk is not None and walk.parent is not None:
            chain.append(walk.name)
            walk = walk.parent
        state = _KeyState(tuple(reversed(chain)), key.class_raw,
                          self.old.security(key.security_offset).descriptor,
                          [(v.name, v.type, v.raw) for v in key.values()],
                          {upcase(s.name): s.name for s in key.subkeys()}, key)
        self.keys[folded] = state
        return state

    def replay(self, change) -> None:
        parts = _split(change.path)
        if change.op == CREATE_KEY:
            parent = self.state([])
            for i, part in enumerate(parts):
                child = self.state(parts[:i + 1])
                if child is None:
                    child = _KeyState(parent.names + (part,), None, parent.descriptor, [], {},
                                      None)
                    self.keys[_fold(parts[:i + 1])] = child
                    parent.subkeys[upcase(part)] = part
                parent = child
            return
        state = self.state(parts)
        if state is None:
            self.fail(f"the plan changes key {change.path!r}, which does not exist")
        if change.op == DELETE_KEY:
            folded = _fold(parts)
            del self.state(parts[:-1]).subkeys[folded[-1]]
            for path, other in self.keys.items():
                if path[:len(folded)] == folded:
                    other.exists = False
            self.deleted.append(folded)
        elif change.op == SET_VALUE:
            entry = (change.name, change.type, change.raw)
            for i, (old_name, _, _) in enumerate(state.values):
                if upcase(old_name) == upcase(change.name):
                    state.values[i] = (old_name, change.type, change.raw)  # name kept as stored
                    break
            else:
                state.values.append(entry)
        elif change.op == DELETE_VALUE:
            state.values = [v for v in state.values if upcase(v[0]) != upcase(change.name)]

    # -- (b) the cell-level proof ------------------------------------------------------------
    def unexplained_cells(self) -> set[int]:
        """Allocated cells that changed between the images and belong to no touched key."""
        changed_new, changed_old = _changed_cells(self.old, self.new)
        if not changed_new and not changed_old:
            return set()
        owned_new: set[int] = set()
        owned_old: set[int] = set()
        for state in self.keys.values():
            if state.exists:
                try:
                    owned_new |= _key_cells(self.new, self._new_key(state))
                except VerifyError:
                    return changed_new | changed_old  # let the full comparison say what is wrong
            if state.old is not None:
                owned_old |= _key_cells(self.old, state.old)
        for root in self.deleted:
            state = self.keys.get(root)
            if state is not None and state.old is not None:
                for key in self.old.walk(state.old):
                    owned_old |= _key_cells(self.old, key)
                    owned_old.add(key.security_offset)
        loose = {c for c in changed_new - owned_new if not self.same_sk(c)}
        loose |= {c for c in changed_old - owned_old if not self.same_sk(c)}
        return loose

    def same_sk(self, cell: int) -> bool:
        """True for an sk record present in both images with the same descriptor."""
        try:
            old, new = self.old.security(cell), self.new.security(cell)
        except BcdToolError:
            return False
        return old.descriptor == new.descriptor

    def _new_key(self, state: _KeyState) -> Key:
        try:
            return self.new.key("\\".join(state.names))
        except NotFoundError:
            self.fail(f"the written hive lacks key {chr(92).join(state.names)!r}")
        raise AssertionError("unreachable")

    def compare_touched(self) -> list[Key]:
        """Compare each touched key with the plan; the touched keys of the written hive."""
        touched = []
        for state in self.keys.values():
            label = "\\".join(state.names) or "(root)"
            if not state.exists:
                continue
            key = self._new_key(state)
            self.compare_key(key, state, label)
            touched.append(key)
        for folded in self.deleted:
            state = self.keys.get(folded)
            if state is not None and state.exists:
                continue
            try:
                self.new.key("\\".join(self.keys[folded].names) if folded in self.keys
                             else "\\".join(folded))
            except NotFoundError:
                continue
            self.fail(f"key {chr(92).join(folded)!r} was to be deleted but is still there")
        return touched

    def compare_key(self, key: Key, state: _KeyState, label: str) -> None:
        if key.parent is not None and key.name != state.names[-1]:
            self.fail(f"key {label!r} is named {key.name!r} in the written hive")
        if key.class_raw != state.class_raw:
            self.fail(f"the class name of key {label!r} changed")
        if self.new.security(key.security_offset).descriptor != state.descriptor:
            self.fail(f"the security descriptor of key {label!r} changed")
        values = [(v.name, v.type, v.raw) for v in key.values()]
        if values != state.values:
            self.fail(f"the values of key {label!r} are not the planned ones")
        subkeys = key.subkeys()
        if sorted(upcase(s.name) for s in subkeys) != sorted(state.subkeys) or \
                any(state.subkeys[upcase(s.name)] != s.name for s in subkeys):
            self.fail(f"the subkeys of key {label!r} are not the planned ones")
        if state.old is not None:
            before = {upcase(s.name): s.offset for s in state.old.subkeys()}
            for sub in subkeys:
                folded = _fold(state.names + (sub.name,))
                if folded not in self.keys and before.get(upcase(sub.name)) != sub.offset:
                    self.fail(f"subkey {sub.name!r} of {label!r} moved although it was not "
                              "changed")
            if key.flags != state.old.flags:
                self.fail(f"the flags of key {label!r} changed")

    def check_security_counts(self, touched: list[Key]) -> None:
        """sk reference counts moved exactly by the keys that came and went; the ring holds."""
        delta: Counter[int] = Counter()
        for key in touched:
            delta[key.security_offset] += 1
        for state in self.keys.values():
            if state.old is not None:
                delta[state.old.security_offset] -= 1
        for root in self.deleted:
            state = self.keys.get(root)
            if state is not None and state.old is not None:
                for key in self.old.walk(state.old):
                    if _fold(_names(key)) not in self.keys:
                        delta[key.security_offset] -= 1
        ring = _sk_ring(self.new)
        for cell, change in delta.items():
            before = self.old.security(cell).reference_count if _is_sk(self.old, cell) else 0
            expected = before + change
            if expected == 0:
                if cell in ring:
                    self.fail(f"security record at {cell:#x} lost its last key but is still "
                              "linked")
                continue
            if cell not in ring:
                self.fail(f"security record at {cell:#x} is not in the security ring")
            if ring[cell].reference_count != expected:
                self.fail(f"security record at {cell:#x} counts {ring[cell].reference_count} "
                          f"keys, {expected} expected")

    # -- (a) the validator ---------------------------------------------------------------------
    def validate(self, touched: list[Key]) -> None:
        before = {(f.code, f.message) for f in check_keys(
            self.old, [s.old for s in self.keys.values() if s.old is not None])
            if f.severity == ERROR}
        _raise_errors([f for f in check_keys(self.new, touched)
                       if f.severity == ERROR and (f.code, f.message) not in before],
                      self.name)

    # -- the full comparison ---------------------------------------------------------------
    def full(self, planned: Planned | None) -> VerifyReport:
        """Compare both trees key by key, run the whole validator; decide without the cell proof."""
        old_tree = _tree(self.old)
        new_tree = _tree(self.new)
        differing = []
        for folded in old_tree.keys() | new_tree.keys():
            state = self.expected(folded) if planned is not None else None
            new = new_tree.get(folded)
            if planned is None:
                if new is not None and old_tree.get(folded, (None,))[0] != new[0]:
                    differing.append(new[1])
                continue
            if state is None:
                if new is None:
                    if folded in old_tree and not self.gone(folded):
                        self.fail(f"key {chr(92).join(folded)!r} is missing from the written hive")
                    continue
                if folded not in old_tree or self.gone(folded):
                    self.fail(f"the written hive has an unplanned key {new[1].path!r}")
                if old_tree[folded][0] != new[0]:
                    self.fail(f"key {new[1].path!r} changed although the plan does not touch it")
                continue
            if new is None:
                self.fail(f"the written hive lacks key {chr(92).join(state.names)!r}")
            self.compare_key_full(new[1], state)
            differing.append(new[1])
        before = {(f.code, f.message) for f in check(self.old) if f.severity == ERROR}
        findings = check(self.new)
        _raise_errors([f for f in findings if f.severity == ERROR and
                       (f.code, f.message) not in before], self.name)
        readers = _independent_readers(self.written, self.new, differing)
        return VerifyReport(len(new_tree), "full", readers)

    def expected(self, folded: tuple[str, ...]) -> _KeyState | None:
        state = self.keys.get(folded)
        return state if state is not None and state.exists else None

    def gone(self, folded: tuple[str, ...]) -> bool:
        return any(folded[:len(d)] == d for d in self.deleted)

    def compare_key_full(self, key: Key, state: _KeyState) -> None:
        label = key.path or "(root)"
        if key.parent is not None and key.name != state.names[-1]:
            self.fail(f"key {label!r} is named {key.name!r} in the written hive")
        if key.class_raw != state.class_raw or \
                self.new.security(key.security_offset).descriptor != state.descriptor:
            self.fail(f"the class or security descriptor of key {label!r} changed")
        if [(v.name, v.type, v.raw) for v in key.values()] != state.values:
            self.fail(f"the values of key {label!r} are not the planned ones")
        names = {upcase(s.name): s.name for s in key.subkeys()}
        if names != state.subkeys:
            self.fail(f"the subkeys of key {label!r} are not the planned ones")


def _names(key: Key) -> list[str]:
    parts = []
    while key.parent is not None:
        parts.append(key.name)
        key = key.parent
    return parts[::-1]


def _tree(hive: Hive) -> dict[tuple[str, ...], tuple[tuple, Key]]:
    """Folded path -> (logical content, key) for every key of `hive`."""
    tree = {}
    paths = {hive.root.offset: ()}
    for key in hive.walk():
        folded = paths[key.offset]
        subkeys = key.subkeys()
        for sub in subkeys:
            paths[sub.offset] = folded + (upcase(sub.name),)
        content = (key.name if key.parent is not None else None, key.flags, key.filetime,
                   key.class_raw, hive.security(key.security_offset).descriptor,
                   tuple((v.name, v.type, v.raw) for v in key.values()),
                   tuple(s.name for s in subkeys))
        tree[folded] = (content, key)
    return tree


# --- cells ------------------------------------------------------------------------------------
def _changed_cells(old: Hive, new: Hive) -> tuple[set[int], set[int]]:
    """Allocated cells of each image that are not byte-identical, at the same place, in the
    other.  Only bins holding a changed page are walked; their tiling must be sound."""
    a, b = old.data, new.data
    end = L.BASE_BLOCK_SIZE + max(old.header.hive_bins_data_size, new.header.hive_bins_data_size)
    if new.cells.header_problems:
        where, message = new.cells.header_problems[0]
        raise VerifyError(f"the written hive's bins are broken at {where:#x}: {message}")
    pages = _changed_pages(memoryview(a), memoryview(b), end)
    changed_new = _cells_in(new, pages, old)
    changed_old = _cells_in(old, pages, new)
    return changed_new, changed_old


def _changed_pages(a: memoryview, b: memoryview, end: int) -> list[int]:
    """Offsets of the 4 KiB pages (from the first bin up to `end`) that differ."""
    pages = []
    for chunk in range(L.BASE_BLOCK_SIZE, end, 64 * PAGE):     # big steps first: most are equal
        stop = min(chunk + 64 * PAGE, end)
        if a[chunk:stop] != b[chunk:stop]:
            pages.extend(p for p in range(chunk, stop, PAGE) if a[p:p + PAGE] != b[p:p + PAGE])
    return pages


def _cells_in(hive: Hive, pages: list[int], other: Hive) -> set[int]:
    """Allocated cells of `hive` in bins touching `pages` that `other` lacks or holds otherwise."""
    cells, other_cells = hive.cells, other.cells
    bins = cells.bins
    other_bins = set(other_cells.bins)
    wanted = {index for index, b in enumerate(bins) if b not in other_bins}
    for page in pages:
        index = cells.bin_index(page - L.BASE_BLOCK_SIZE)
        if index is not None:
            wanted.add(index)
    data, other_data = hive.data, other.data
    found = set()
    for index in wanted:
        allocated, _, problems = cells.bin_cells(index)
        if problems:
            where, message = problems[0]
            raise VerifyError(f"the cells of the bin at {bins[index][0]:#x} are broken at "
                              f"{where:#x}: {message}")
        for cell, length in allocated.items():
            pos = L.BASE_BLOCK_SIZE + cell
            if other_cells.allocated_size(cell) != length or \
                    data[pos:pos + length] != other_data[pos:pos + length]:
                found.add(cell)
    return found


def _key_cells(hive: Hive, key: Key) -> set[int]:
    """The cells a key owns: nk, class, value list, values and their data, subkey index."""
    cells = {key.offset}
    f = key.fields
    if f["class_name_length"] and f["class_name_offset"] not in (L.NIL, 0):
        cells.add(f["class_name_offset"])
    if key.value_count:
        cells.add(f["key_values_list_offset"])
        for value in key.values():
            cells.add(value.offset)
            cells |= _data_cells(hive, value)
    if key.subkey_count:
        top = f["subkeys_list_offset"]
        cells.add(top)
        cells.update(leaf for leaf, _, _, _ in hive._leaves(key))
    return cells


def _data_cells(hive: Hive, value) -> set[int]:
    if value.inline or value.size == 0:
        return set()
    offset = value.data_offset
    if hive.is_big_data(value.size) and hive.cells.read(offset, "value data", 2) == b"db":
        payload = hive.cells.payload(offset, "big data", 8)
        count, segments = struct.unpack_from("<HI", payload, 2)
        listed = hive.cells.payload(segments, "big data segment list", 4 * count)
        return {offset, segments, *struct.unpack_from(f"<{count}I", listed, 0)}
    return {offset}


def _is_sk(hive: Hive, cell: int) -> bool:
    try:
        hive.security(cell)
    except BcdToolError:
        return False
    return True


def _sk_ring(hive: Hive) -> dict:
    """Every sk of the ring that starts at the root's sk, checked link by link."""
    start = hive.root.security_offset
    ring = {start: hive.security(start)}
    current = ring[start]
    while current.flink != start:
        if current.flink in ring or len(ring) > len(hive.data) // 8:
            raise VerifyError(f"the security ring loops at {current.flink:#x}")
        following = hive.security(current.flink)
        if following.blink != current.offset:
            raise VerifyError(f"security record at {following.offset:#x} links back to "
                              f"{following.blink:#x}, not {current.offset:#x}")
        ring[following.offset] = following
        current = following
    if ring[start].blink != current.offset:
        raise VerifyError("the security ring does not close on the root key's record")
    return ring


# --- header -----------------------------------------------------------------------------------
def _check_header(image: bytes, base: bytes | None) -> None:
    if len(image) < L.BASE_BLOCK_SIZE or image[:4] != b"regf":
        raise VerifyError("the written data is not a registry hive")
    if is_dirty(image):
        raise VerifyError("the written hive is dirty (sequence numbers differ or the checksum "
                          "is wrong)")
    raw = raw_xor32(image[:L.CHECKSUM_COVERED])
    if raw in (0, 0xFFFFFFFF) or regf_checksum(image[:L.CHECKSUM_COVERED]) != \
            struct.unpack_from("<I", image, L.BB_CHECKSUM)[0]:
        raise VerifyError("the base-block checksum is one hivex or Windows would reject")
    if struct.unpack_from("<I", image, L.BB_FILE_TYPE)[0] != 0:
        raise VerifyError("the written hive is not marked as a primary file")
    if base is None or len(base) < L.BASE_BLOCK_SIZE:
        return
    for start, end in _KEPT_HEADER:
        if image[start:end] != base[start:end]:
            raise VerifyError(f"base-block bytes {start:#x}..{end:#x} changed (they must stay as "
                              "they were)")


def _open(image: bytes, name: str = "", *, lazy: bool = False) -> Hive:
    try:
        return Hive.from_bytes(image, name=name, lazy=lazy)
    except BcdToolError as exc:
        raise VerifyError(f"our reader rejects the written hive: {exc.message}",
                          path=name or None, offset=exc.offset) from None


def _raise_errors(errors: list[Finding], name: str = "") -> None:
    if errors:
        first = errors[0]
        where = f" at {first.offset:#x}" if first.offset is not None else ""
        raise VerifyError(f"the validator reports {len(errors)} new error(s), first: "
                          f"{first.code}{where}: {first.message}", path=name or None)


# --- (c) independent readers --------------------------------------------------------------------
def _index_path(key: Key) -> list[int]:
    """Positions of each key from the root down to `key` in its parent's subkey list."""
    path = []
    while key.parent is not None:
        path.append([s.offset for s in key.parent.subkeys()].index(key.offset))
        key = key.parent
    return path[::-1]


def _independent_readers(image: bytes, hive: Hive, keys: list[Key]) -> tuple[str, ...]:
    """Compare `keys` as python-registry (and libregf) read them; VerifyError on a difference."""
    readers = ["python-registry"]
    paths = [(key, _index_path(key)) for key in keys]
    try:
        reg = Registry.Registry(io.BytesIO(image))
        for key, path in paths:
            other = reg.root()
            for index in path:
                other = other.subkeys()[index]
            _compare_python_registry(hive, key, other)
    except VerifyError:
        raise
    except Exception as exc:  # any failure of the independent reader is a verification failure
        raise VerifyError(f"python-registry cannot read the written hive: "
                          f"{type(exc).__name__}: {exc}") from None
    if pyregf is not None:
        readers.append("libregf")
        try:
            regf = pyregf.file()
            regf.open_file_object(io.BytesIO(image))
            for key, path in paths:
                other = regf.get_root_key()
                for index in path:
                    other = other.get_sub_key(index)
                _compare_libregf(key, other)
        except VerifyError:
            raise
        except Exception as exc:
            raise VerifyError(f"libregf cannot read the written hive: {type(exc).__name__}: "
                              f"{exc}") from None
    return tuple(readers)


def _differs(reader: str, key: Key, what: str) -> VerifyError:
    return VerifyError(f"{reader} reads {what} of key {key.path or '(root)'!r} differently")


def _compare_python_registry(hive: Hive, key: Key, other) -> None:
    subkeys = key.subkeys()
    theirs = other.subkeys()
    if len(theirs) != len(subkeys):
        raise _differs("python-registry", key, "the number of subkeys")
    for mine, their in zip(subkeys, theirs, strict=True):
        if python_registry_name_misreading(mine.name, bool(mine.flags & L.KEY_COMP_NAME)) is None \
                and their.name() != mine.name:
            raise _differs("python-registry", key, f"subkey name {mine.name!r}")
    values = key.values()
    their_values = other.values()
    if len(their_values) != len(values):
        raise _differs("python-registry", key, "the number of values")
    for mine, their in zip(values, their_values, strict=True):
        if python_registry_name_misreading(mine.name, bool(mine.flags & L.VALUE_COMP_NAME)) \
                is None and (their.name() if mine.name else "") != mine.name:
            raise _differs("python-registry", key, f"value name {mine.name!r}")
        if python_registry_value_misreading(mine.type, mine.size, mine.inline,
                                            hive.minor_version) is not None:
            continue
        if their.value_type() != mine.type or bytes(their.raw_data()) != mine.raw:
            raise _differs("python-registry", key, f"value {mine.name or '(default)'!r}")


def _compare_libregf(key: Key, other) -> None:
    subkeys = key.subkeys()
    if other.number_of_sub_keys != len(subkeys):
        raise _differs("libregf", key, "the number of subkeys")
    for index, mine in enumerate(subkeys):
        if libregf_name_misreading(mine.name) is None and \
                other.get_sub_key(index).name != mine.name:
            raise _differs("libregf", key, f"subkey name {mine.name!r}")
    values = key.values()
    if other.number_of_values != len(values):
        raise _differs("libregf", key, "the number of values")
    for index, mine in enumerate(values):
        their = other.get_value(index)
        if libregf_name_misreading(mine.name) is None and (their.name or "") != mine.name:
            raise _differs("libregf", key, f"value name {mine.name!r}")
        if their.type != mine.type:
            raise _differs("libregf", key, f"the type of value {mine.name or '(default)'!r}")
        if libregf_value_misreading(mine.type, mine.raw, mine.inline) is None and \
                (their.data or b"") != mine.raw:
            raise _differs("libregf", key, f"value {mine.name or '(default)'!r}")
