"""The hive validator: regf.md section 12's checklist for one hive, as a list of findings.

Errors are what Windows (or a reader we rely on) would reject, misread or self-heal; warnings are
legal but unusual states (leaks, adjacent free cells, stale counts that only waste space).  The
"largest name/data" fields of an nk are warnings when too small: Windows does not check them at
load, and XP's own tree copy (ControlSet003 of the corpus' XP SYSTEM hive) left two of them at 0.
Every finding carries the **file offset** of the structure it is about (cell offset + 4096 for
cells).  The checker never raises for problems in the hive: corrupt parts become findings and
are not followed further.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass

from bcdtool.errors import BcdToolError
from bcdtool.regf import layout_packed as L
from bcdtool.regf.cells import NK
from bcdtool.regf.checksums import raw_xor32, regf_checksum
from bcdtool.regf.hive import MAX_DEPTH, Hive, Key
from bcdtool.wintext import lf_hint, lh_hash, name_sort_key, upcase, utf16_length

ERROR = "error"
WARNING = "warning"
#: Individual findings of one repetitive kind (leaks, adjacent free cells) before summarising.
MAX_REPEATED = 50
#: Windows' key-node size limit including the cell header (regf.md 4.3).
NK_MAX_CELL = 4 + L.NK_MAX_CELL_DATA
SE_SELF_RELATIVE = 0x8000

_LARGEST_NAME = NK.index("largest_subkey_name_length")
_LARGEST_CLASS = NK.index("largest_subkey_class_name_length")
_LARGEST_VALUE_NAME = NK.index("largest_value_name_length")
_LARGEST_VALUE_DATA = NK.index("largest_value_data_size")
_CLASS_LENGTH = NK.index("class_name_length")
_CLASS_OFFSET = NK.index("class_name_offset")
_SUBLIST = NK.index("subkeys_list_offset")
_VALLIST = NK.index("key_values_list_offset")


@dataclass(frozen=True)
class Finding:
    """One validator result: `severity` error|warning, a stable `code`, text, file offset."""

    severity: str
    code: str
    message: str
    offset: int | None = None

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"severity": self.severity, "code": self.code, "message": self.message,
                "offset": self.offset}


def check(hive: Hive) -> list[Finding]:
    """Validate `hive` (its current image, i.e. after any log recovery); findings in file order."""
    checker = _Checker(hive)
    checker.run()
    return sorted(checker.findings, key=lambda f: (f.offset if f.offset is not None else -1))


def check_keys(hive: Hive, keys: list[Key]) -> list[Finding]:
    """Validate the base block and only `keys` (each with its own cells, values, subkey index
    and its children's order and hashes): what an edit can have broken.  The tiling of the bins
    is the caller's to check (`regf.verify` checks the bins that changed)."""
    checker = _Checker(hive)
    checker.check_base_block()
    for key in keys:
        checker.owner = {}      # each key on its own: touched keys may be parent and child
        checker.claim(key.offset, f"key {key.path or '(root)'!r}")
        checker.check_key(key)
    return checker.findings


def has_errors(findings: list[Finding]) -> bool:
    """True when any finding is an error."""
    return any(f.severity == ERROR for f in findings)


class _Checker:
    def __init__(self, hive: Hive) -> None:
        self.hive = hive
        self.cells = hive.cells
        self.findings: list[Finding] = []
        self.owner: dict[int, str] = {}
        self.sk_refs: Counter[int] = Counter()
        self.repeated: Counter[str] = Counter()

    # --- reporting ----------------------------------------------------------------------------
    def add(self, severity: str, code: str, message: str, cell: int | None = None,
            file_offset: int | None = None) -> None:
        if cell is not None:
            file_offset = L.BASE_BLOCK_SIZE + cell
        self.findings.append(Finding(severity, code, message, file_offset))

    def add_repeated(self, severity: str, code: str, message: str, cell: int) -> None:
        self.repeated[code] += 1
        if self.repeated[code] <= MAX_REPEATED:
            self.add(severity, code, message, cell)

    def claim(self, cell: int, what: str, need: int = 0) -> bool:
        """Record that `what` owns the allocated cell at `cell`; False (with a finding) if not."""
        size = self.cells.allocated_size(cell)
        if size is None:
            self.add(ERROR, "bad-pointer", f"{what} points to {cell:#x}, which is not the start "
                                           "of an allocated cell", cell)
            return False
        if cell in self.owner:
            self.add(ERROR, "shared-cell", f"{what} uses the cell at {cell:#x}, already owned by "
                                           f"{self.owner[cell]}", cell)
            return False
        self.owner[cell] = what
        if size - 4 < need:
            self.add(ERROR, "cell-too-small", f"{what} needs {need} bytes but its cell holds "
                                              f"{size - 4}", cell)
            return False
        return True

    # --- passes -------------------------------------------------------------------------------
    def run(self) -> None:
        self.check_base_block()
        self.check_tiling()
        self.check_keys()
        self.check_security()
        self.check_leaks()
        for code, count in self.repeated.items():
            if count > MAX_REPEATED:
                self.add(WARNING, code, f"{count - MAX_REPEATED} more findings of this kind")

    def check_base_block(self) -> None:
        data, h = self.hive.data, self.hive.header
        if h.minor_version not in (3, 4, 5, 6):
            self.add(ERROR, "version", f"minor version {h.minor_version} (Windows writes 3-6)",
                     file_offset=L.BB_MINOR_VERSION)
        for value, expected, name, offset in ((h.file_format, 1, "file format", 32),
                                              (h.clustering_factor, 1, "clustering factor", 44)):
            if value != expected:
                self.add(ERROR, "base-block", f"{name} is {value}, must be {expected}",
                         file_offset=offset)
        if h.primary_sequence_number != h.secondary_sequence_number:
            self.add(ERROR, "dirty", f"sequence numbers differ ({h.primary_sequence_number} / "
                                     f"{h.secondary_sequence_number}): the hive is dirty",
                     file_offset=L.BB_PRIMARY_SEQUENCE)
        expected = regf_checksum(data[:L.CHECKSUM_COVERED])
        if h.checksum != expected:
            self.add(ERROR, "checksum", f"base-block checksum {h.checksum:#010x}, computed "
                                        f"{expected:#010x}", file_offset=L.BB_CHECKSUM)
        elif raw_xor32(data[:L.CHECKSUM_COVERED]) in (0, 0xFFFFFFFF):
            self.add(WARNING, "checksum-raw", "raw XOR checksum is 0 or 0xFFFFFFFF: hivex and "
                                              "regipy will call the header invalid",
                     file_offset=L.BB_CHECKSUM)
        if len(data) < L.BASE_BLOCK_SIZE + h.hive_bins_data_size:
            self.add(ERROR, "truncated", f"file of {len(data)} bytes is shorter than 4096 + "
                                         f"hive bins data size {h.hive_bins_data_size:#x}",
                     file_offset=L.BB_HIVE_BINS_DATA_SIZE)
        if self.hive.root_offset != L.HBIN_HEADER_SIZE:
            self.add(WARNING, "root-position", f"root key at {self.hive.root_offset:#x}, not the "
                                               "first cell of the first bin (regipy assumes it)",
                     cell=self.hive.root_offset)

    def check_tiling(self) -> None:
        for where, message in self.cells.problems:
            self.add(ERROR, "tiling", message, cell=where)
        free = self.cells.free
        for offset, size in free.items():
            if offset + size in free:
                self.add_repeated(WARNING, "adjacent-free", f"free cells at {offset:#x} and "
                                  f"{offset + size:#x} are not coalesced", offset)
        # Entirely free bins at the end are not reported: Windows leaves them in clean hives.

    # --- keys ---------------------------------------------------------------------------------
    def check_keys(self) -> None:
        hive = self.hive
        root = hive.root
        if not root.flags & L.KEY_HIVE_ENTRY:
            self.add(ERROR, "root-flags", "root key lacks KEY_HIVE_ENTRY", root.offset)
        stack: list[Key] = [root]
        self.claim(root.offset, "the root key")
        while stack:
            key = stack.pop()
            children = self.check_key(key)
            stack.extend(reversed(children))

    def check_key(self, key: Key) -> list[Key]:
        """Check one key (its cell was claimed by the caller); return its valid children."""
        f = key._f
        where = key.path or "(root)"
        if self.cells.allocated_size(key.offset) > NK_MAX_CELL:
            self.add(ERROR, "nk-size", f"key {where!r}: nk cell of "
                     f"{self.cells.allocated_size(key.offset)} bytes exceeds Windows' limit "
                     f"{NK_MAX_CELL}", key.offset)
        if "\\" in key.name:
            self.add(ERROR, "key-name", f"key name {key.name!r} contains a backslash", key.offset)
        if key.flags & (L.KEY_VOLATILE | L.KEY_HIVE_EXIT):
            self.add(ERROR, "key-flags", f"key {where!r} has volatile/hive-exit flags on disk",
                     key.offset)
        if key.parent is not None and key.flags & L.KEY_HIVE_ENTRY:
            self.add(ERROR, "key-flags", f"key {where!r} is marked as a hive root", key.offset)
        class_length = f[_CLASS_LENGTH]
        if class_length and f[_CLASS_OFFSET] not in (L.NIL, 0):
            self.claim(f[_CLASS_OFFSET], f"class name of {where!r}", class_length)
        self.sk_refs[key.security_offset] += 1
        self.check_values(key, where)
        children = self.check_subkeys(key, where)
        largest_name = max((utf16_length(c.name) for c in children), default=0)
        largest_class = max((c._f[_CLASS_LENGTH] for c in children), default=0)
        for index, actual, label in ((_LARGEST_NAME, largest_name, "subkey name"),
                                     (_LARGEST_CLASS, largest_class, "subkey class name")):
            if f[index] < actual:
                self.add(WARNING, "largest-field", f"key {where!r}: largest {label} length "
                                                 f"{f[index]} < actual {actual}", key.offset)
        return children

    def check_subkeys(self, key: Key, where: str) -> list[Key]:
        count = key.subkey_count
        top = key._f[_SUBLIST]
        if count == 0:
            if top != L.NIL:
                self.add(WARNING, "stale-index", f"key {where!r} has no subkeys but an index "
                                                 f"offset {top:#x}", key.offset)
            return []
        if key.depth + 1 >= MAX_DEPTH:
            self.add(ERROR, "depth", f"key {where!r} is at depth {key.depth}: subkeys would "
                                     f"exceed {MAX_DEPTH} levels", key.offset)
            return []
        entries = self.index_entries(top, f"subkey index of {where!r}")
        if entries is None:
            return []
        if len(entries) != count:
            self.add(ERROR, "subkey-count", f"key {where!r} records {count} subkeys, its index "
                                            f"holds {len(entries)}", key.offset)
        children: list[Key] = []
        previous: bytes | None = None
        for offset, signature, stored in entries:
            child = self.child(key, offset, where)
            if child is None:
                continue
            if signature == b"lh" and stored != lh_hash(child.name):
                self.add(ERROR, "lh-hash", f"lh hash {stored:#010x} of {child.name!r} should be "
                                           f"{lh_hash(child.name):#010x}", child.offset)
            elif signature == b"lf" and stored != lf_hint(child.name):
                self.add(ERROR, "lf-hint", f"lf hint {stored!r} of {child.name!r} should be "
                                           f"{lf_hint(child.name)!r}", child.offset)
            sort_key = name_sort_key(child.name)
            if previous is not None and sort_key <= previous:
                code = "duplicate-key" if sort_key == previous else "sort-order"
                self.add(ERROR, code, f"subkey {child.name!r} of {where!r} is out of order or "
                                      "duplicated", child.offset)
            previous = sort_key
            children.append(child)
        if key.hive.minor_version < 5 and any(s == b"lh" for _, s, _ in entries):
            self.add(WARNING, "leaf-type", f"lh leaf under {where!r} in a minor-"
                                           f"{key.hive.minor_version} hive", top)
        return children

    def index_entries(self, top: int, what: str) -> list[tuple[int, bytes, object]] | None:
        """(child offset, leaf signature, stored hash/hint) for every entry of an index."""
        leaf_list = self.list_cell(top, what)
        if leaf_list is None:
            return None
        signature, payload, count = leaf_list
        if signature == b"ri":
            leaves = struct.unpack_from(f"<{count}I", payload, 4)
            if count == 0:
                self.add(ERROR, "empty-list", f"{what}: empty index root", top)
        elif signature in (b"li", b"lf", b"lh"):
            leaves = (top,)
        else:
            self.add(ERROR, "list-type", f"{what}: signature {signature!r}", top)
            return None
        entries: list[tuple[int, bytes, object]] = []
        for leaf in leaves:
            parsed = leaf_list if leaf == top else self.list_cell(leaf, f"leaf of {what}")
            if parsed is None:
                continue
            leaf_sig, leaf_payload, leaf_count = parsed
            if leaf_sig not in (b"li", b"lf", b"lh"):
                self.add(ERROR, "list-type", f"{what}: index root points to {leaf_sig!r}", leaf)
                continue
            if leaf_count == 0:
                self.add(ERROR, "empty-list", f"{what}: empty leaf", leaf)
            if leaf_sig == b"li":
                entries.extend((o, leaf_sig, None)
                               for o in struct.unpack_from(f"<{leaf_count}I", leaf_payload, 4))
            else:
                pairs = struct.unpack_from("<" + "I4s" * leaf_count, leaf_payload, 4)
                for i in range(0, 2 * leaf_count, 2):
                    stored = pairs[i + 1]
                    entries.append((pairs[i], leaf_sig, struct.unpack("<I", stored)[0]
                                    if leaf_sig == b"lh" else stored))
        return entries

    def list_cell(self, offset: int, what: str) -> tuple[bytes, bytes, int] | None:
        if not self.claim(offset, what, L.LIST_HEADER_SIZE):
            return None
        try:
            return self.hive._list(offset, what)
        except BcdToolError as exc:
            self.add(ERROR, "list", f"{what}: {exc.message}", offset)
            return None

    def child(self, parent: Key, offset: int, where: str) -> Key | None:
        if not self.claim(offset, f"subkey of {where!r}"):
            return None
        try:
            fields, name = self.hive._nk(offset, "subkey")
        except BcdToolError as exc:
            self.add(ERROR, "key", f"subkey of {where!r}: {exc.message}", offset)
            return None
        if fields[NK.index("parent")] != parent.offset:
            self.add(ERROR, "parent", f"key {name!r} under {where!r} names "
                                      f"{fields[NK.index('parent')]:#x} as its parent", offset)
        return Key(self.hive, offset, parent, fields, name)

    # --- values -------------------------------------------------------------------------------
    def check_values(self, key: Key, where: str) -> None:
        count = key.value_count
        f = key._f
        if count == 0:
            return
        if not self.claim(f[_VALLIST], f"value list of {where!r}", 4 * count):
            return
        offsets = self.hive._value_offsets(key)
        names: set[str] = set()
        largest_name = largest_data = 0
        for offset in offsets:
            if not self.claim(offset, f"value of {where!r}", L.VK_FIXED_SIZE):
                continue
            try:
                value = self.hive._value(offset)
            except BcdToolError as exc:
                self.add(ERROR, "value", f"value of {where!r}: {exc.message}", offset)
                continue
            folded = upcase(value.name)
            if folded in names:
                self.add(ERROR, "duplicate-value", f"value {value.name!r} of {where!r} appears "
                                                   "twice", offset)
            names.add(folded)
            largest_name = max(largest_name, utf16_length(value.name))
            largest_data = max(largest_data, value.size)
            self.check_value_data(value, where)
        for index, actual, label in ((_LARGEST_VALUE_NAME, largest_name, "value name"),
                                     (_LARGEST_VALUE_DATA, largest_data, "value data")):
            if f[index] < actual:
                self.add(WARNING, "largest-field", f"key {where!r}: largest {label} length "
                                                 f"{f[index]} < actual {actual}", key.offset)

    def check_value_data(self, value, where: str) -> None:
        size, offset = value.size, value.data_offset
        label = f"value {value.name or '(default)'!r} of {where!r}"
        if value.inline:
            if size > 4:
                self.add(ERROR, "inline-size", f"{label}: inline data of {size} bytes",
                         value.offset)
            return
        if size == 0:
            if offset != L.NIL:
                self.add(ERROR, "empty-data", f"{label}: no data but data offset {offset:#x}",
                         value.offset)
            return
        if size <= 4:
            self.add(WARNING, "not-inline", f"{label}: {size} bytes in a data cell (python-"
                                            "registry reads such data from the vk)", value.offset)
        if not self.hive.is_big_data(size):
            self.claim(offset, f"data of {label}", size)
            return
        if not self.claim(offset, f"data of {label}", 8):
            return
        start = self.cells.file_offset(offset)
        if self.hive.data[start:start + 2] != b"db":
            self.add(ERROR, "big-data", f"{label}: {size} bytes in one cell of a minor-"
                                        f"{self.hive.minor_version} hive (Windows expects a db "
                                        "record)", offset)
            return
        count, segments_offset = struct.unpack_from("<HI", self.hive.data, start + 2)
        needed = -(-size // L.BIG_DATA_SEGMENT_SIZE)
        if count != needed:
            self.add(ERROR, "big-data", f"{label}: db has {count} segments for {size} bytes "
                                        f"(needs {needed})", offset)
            return
        if not self.claim(segments_offset, f"segment list of {label}", 4 * count):
            return
        segments = struct.unpack_from(f"<{count}I", self.hive.data,
                                      self.cells.file_offset(segments_offset))
        left = size
        for segment in segments:
            part = min(left, L.BIG_DATA_SEGMENT_SIZE)
            left -= part
            if self.claim(segment, f"big-data segment of {label}", part) and \
                    self.cells.allocated_size(segment) != L.BIG_DATA_SEGMENT_CELL:
                self.add(WARNING, "segment-size", f"{label}: segment cell of "
                         f"{self.cells.allocated_size(segment)} bytes, not "
                         f"{L.BIG_DATA_SEGMENT_CELL} (hivex reads cell size - 8)", segment)

    # --- security -----------------------------------------------------------------------------
    def check_security(self) -> None:
        hive = self.hive
        records = {}
        for offset in self.sk_refs:
            if not self.claim(offset, "security (sk) record", L.SK_FIXED_SIZE):
                continue
            try:
                records[offset] = hive.security(offset)
            except BcdToolError as exc:
                self.add(ERROR, "sk", exc.message, offset)
        start = hive.root.security_offset
        if start not in records:
            return
        ring = [start]
        members = {start}
        limit = len(self.cells.allocated)
        current = records[start]
        while len(ring) <= limit:
            nxt = current.flink
            if nxt == start:
                break
            if nxt in members:
                self.add(ERROR, "sk-ring", f"sk ring loops back to {nxt:#x} without returning to "
                                           "the root's sk", current.offset)
                break
            record = records.get(nxt)
            if record is None:
                if self.claim(nxt, "sk ring", L.SK_FIXED_SIZE):
                    try:
                        record = hive.security(nxt)
                    except BcdToolError as exc:
                        self.add(ERROR, "sk-ring", f"sk ring link: {exc.message}", nxt)
                if record is None:
                    break
                records[nxt] = record
            if record.blink != current.offset:
                self.add(ERROR, "sk-ring", f"sk at {nxt:#x} has Blink {record.blink:#x}, but "
                                           f"{current.offset:#x} links to it", nxt)
            ring.append(nxt)
            members.add(nxt)
            current = record
        if records[start].blink != current.offset:
            self.add(ERROR, "sk-ring", f"root's sk Blink {records[start].blink:#x} is not the "
                                       f"last ring member {current.offset:#x}", start)
        for offset, record in records.items():
            refs = self.sk_refs.get(offset, 0)
            if offset not in members:
                self.add(ERROR, "sk-ring", f"sk at {offset:#x} is not in the root's sk ring",
                         offset)
            if record.reference_count < refs:
                self.add(ERROR, "sk-refcount", f"sk at {offset:#x}: reference count "
                         f"{record.reference_count} < {refs} keys using it", offset)
            elif record.reference_count > refs:
                self.add(WARNING, "sk-refcount", f"sk at {offset:#x}: reference count "
                         f"{record.reference_count} > {refs} keys using it", offset)
            problem = _descriptor_problem(record.descriptor)
            if problem:
                self.add(ERROR, "sk-descriptor", f"sk at {offset:#x}: {problem}", offset)

    def check_leaks(self) -> None:
        for offset in self.cells.allocated:
            if offset not in self.owner:
                self.add_repeated(WARNING, "leak", f"allocated cell at {offset:#x} is not "
                                  "reachable from the root", offset)


def _descriptor_problem(descriptor: bytes) -> str | None:
    """Why `descriptor` is not a valid self-relative SECURITY_DESCRIPTOR, or None."""
    if len(descriptor) < 20:
        return f"security descriptor of {len(descriptor)} bytes (needs at least 20)"
    revision, _, control, owner, group, sacl, dacl = struct.unpack_from("<BBHIIII", descriptor)
    if revision != 1:
        return f"security descriptor revision {revision}"
    if not control & SE_SELF_RELATIVE:
        return "security descriptor is not self-relative"
    for name, offset in (("owner", owner), ("group", group), ("SACL", sacl), ("DACL", dacl)):
        if offset and not 20 <= offset < len(descriptor):
            return f"{name} offset {offset:#x} lies outside the descriptor"
    return None
