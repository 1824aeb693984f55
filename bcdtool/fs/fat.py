"""FAT12/16/32 volumes through pyfatfs' low-level PyFat: path lookup, cluster chains as extents.

pyfatfs only ever sees a read-only, non-closing stream over our device (ReadOnlyStream): PyFat
marks a volume dirty as soon as its file object is writable.  Cluster chains are walked by our own
bounded, cycle-checked code, also for the directories pyfatfs parses.
"""

from __future__ import annotations

import struct
import warnings

from pyfatfs._exceptions import PyFATException
from pyfatfs.PyFat import PyFat

from bcdtool.blockdev.base import BlockDevice
from bcdtool.errors import BcdToolError, CorruptionError, FormatError, NotFoundError, next_step
from bcdtool.fs.base import (FileRef, ReadOnlyStream, VolumeFacts, check_declared_size,
                             merge_extents, read_extents, require_writable, split_path)
from bcdtool.fs.fat_chains import ChainWalk, FatGeometry, check_copies_agree
from bcdtool.log import get_logger
from bcdtool.wintext import names_equal

log = get_logger(__name__)

# What pyfatfs raises on malformed volumes besides its own exception class.
_PYFAT_ERRORS = (PyFATException, NotADirectoryError, struct.error, ValueError, IndexError,
                 KeyError, AssertionError, ArithmeticError, UnicodeError, TypeError)


class _LazyFat:
    """The first FAT, decoded entry by entry on demand, reading only the sectors touched.

    pyfatfs would read every FAT copy and decode every entry at open: megabytes on a large ESP.
    """

    def __init__(self, dev: BlockDevice, offset: int, size: int, bits: int) -> None:
        self._dev, self._offset, self._size, self._bits = dev, offset, size, bits
        self._len = size * 8 // bits
        self._sectors: dict[int, bytes] = {}

    def __len__(self) -> int:
        return self._len

    def _bytes(self, pos: int, length: int) -> bytes:
        out = b""
        while length > 0:
            index, within = divmod(pos, 512)
            if index not in self._sectors:
                start = index * 512
                self._sectors[index] = self._dev.read_at(self._offset + start,
                                                         min(512, self._size - start))
            piece = self._sectors[index][within:within + length]
            if not piece:
                raise CorruptionError("FAT entry lies beyond the FAT", offset=self._offset + pos)
            out += piece
            pos += len(piece)
            length -= len(piece)
        return out

    def __getitem__(self, cluster: int) -> int:
        if not 0 <= cluster < self._len:
            raise CorruptionError(f"cluster {cluster:#x} has no FAT entry")
        if self._bits == 12:
            raw = int.from_bytes(self._bytes(cluster * 3 // 2, 2), "little")
            return raw >> 4 if cluster & 1 else raw & 0xFFF
        raw = int.from_bytes(self._bytes(cluster * self._bits // 8, self._bits // 8), "little")
        return raw & 0x0FFFFFFF if self._bits == 32 else raw


class _BoundedPyFat(PyFat):
    """PyFat with a lazily read FAT and bounded, cycle-checked cluster chains (also for the
    directories it parses)."""

    def __init__(self, dev: BlockDevice) -> None:
        super().__init__(lazy_load=True)
        self._dev = dev

    def _parse_fat(self) -> None:  # replaces pyfatfs' read-everything parser
        bps = self.bpb_header["BPB_BytsPerSec"]
        first = self.bpb_header["BPB_RsvdSecCnt"] * bps
        size = self._fat_size * bps
        if self.bpb_header["BPB_NumFATs"] < 1 or first + size > self._dev.size:
            raise FormatError("the FAT lies outside the volume", path=self._dev.name)
        self.bytes_per_cluster = bps * self.bpb_header["BPB_SecPerClus"]
        self.fat = _LazyFat(self._dev, first, size, self.fat_type)

    def get_cluster_chain(self, first_cluster):  # noqa: D102 - pyfatfs API
        yield from cluster_chain(self, first_cluster)


def cluster_count(pf: PyFat) -> int:
    """Data clusters the BPB describes (fatgen103: data sectors // sectors per cluster)."""
    total = pf._get_total_sectors()  # noqa: SLF001 - pyfatfs exposes no public accessor
    spc = pf.bpb_header["BPB_SecPerClus"]
    return max(0, (total - pf.first_data_sector) // spc)


def cluster_chain(pf: PyFat, first: int) -> list[int]:
    """The clusters of a chain starting at `first`, bounded by the volume's cluster count."""
    values = PyFat.FAT_CLUSTER_VALUES[pf.fat_type]
    last_valid = min(cluster_count(pf) + 1, len(pf.fat) - 1)
    chain: list[int] = []
    seen: set[int] = set()
    cluster = first
    while True:
        if not 2 <= cluster <= last_valid:
            raise CorruptionError(f"cluster chain points to cluster {cluster:#x}, outside the "
                                  f"volume's clusters 2..{last_valid:#x}")
        if cluster in seen:
            raise CorruptionError(f"cluster chain loops back to cluster {cluster:#x}")
        seen.add(cluster)
        chain.append(cluster)
        nxt = pf.fat[cluster]
        if values["END_OF_CLUSTER_MIN"] <= nxt <= values["END_OF_CLUSTER_MAX"] or (
                pf.fat_type == PyFat.FAT_TYPE_FAT12 and nxt == PyFat.FAT12_SPECIAL_EOC):
            return chain
        if nxt == values["BAD_CLUSTER"]:
            raise CorruptionError(f"cluster chain runs into bad cluster {cluster:#x}")
        if nxt == values["FREE_CLUSTER"]:
            raise CorruptionError(f"cluster chain runs into free cluster after {cluster:#x}")
        cluster = nxt


#: What a Linux rescue user can do about a damaged FAT volume (appended to such errors).
FSCK_STEP = "check the volume with `fsck.fat -n` (read-only; `fsck.fat -a` on a copy repairs it)"
_fsck_step = next_step(FSCK_STEP, CorruptionError, FormatError)


class FatVolume:
    """A FAT volume on `dev` (usually a partition view); finds files and their extents."""

    @_fsck_step
    def __init__(self, dev: BlockDevice) -> None:
        self.dev = dev
        self._notes: list[str] = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self._pf = self._guard(lambda: self._open(dev), "not a valid FAT volume")
        self._notes += [str(w.message) for w in caught]
        total = self._pf._get_total_sectors()  # noqa: SLF001
        claimed = total * self._pf.bpb_header["BPB_BytsPerSec"]
        if claimed > dev.size:
            raise CorruptionError(f"the FAT volume claims {claimed} bytes but its partition holds "
                                  f"{dev.size}", path=dev.name)

    @staticmethod
    def _open(dev: BlockDevice) -> PyFat:
        pf = _BoundedPyFat(dev)
        pf.set_fp(ReadOnlyStream(dev))
        return pf

    def _guard(self, action, what: str):
        try:
            return action()
        except BcdToolError:
            raise
        except _PYFAT_ERRORS as exc:
            raise FormatError(f"{what}: {exc}", path=self.dev.name) from None

    # -- facts --------------------------------------------------------------------------------
    @property
    def fat_type(self) -> str:
        """'fat12', 'fat16' or 'fat32'."""
        return f"fat{self._pf.fat_type}"

    @property
    def cluster_size(self) -> int:
        """Bytes per cluster."""
        return self._pf.bytes_per_cluster

    def facts(self) -> VolumeFacts:
        """Dirty flags (FAT[1] clean-shutdown bit, boot-sector NT flag), label and warnings."""
        label = self._pf.bpb_header["BS_VolLab"]
        if isinstance(label, bytes):
            label = label.decode("ascii", "replace")
        return VolumeFacts(fs=self.fat_type, label=label.strip() or None,
                           dirty=bool(self._pf._is_dirty()),  # noqa: SLF001
                           notes=tuple(self._notes))

    # -- files --------------------------------------------------------------------------------
    @_fsck_step
    def find(self, path: str, *, max_size: int | None = None) -> FileRef:
        """Locate a file by path (case-insensitive, long or short names) and map its clusters.

        A declared size over `max_size` (default: limits.MAX_HIVE_BYTES) or over the volume is
        refused before the chain is walked.
        """
        shown, entry = self._entry(path)
        check_declared_size(shown, entry.filesize, self.dev.size, max_size, "fsck.fat -n")
        return self._ref(shown, entry)

    def _entry(self, path: str):
        """(path as stored, pyfatfs entry) of the file at `path`."""
        parts = split_path(path)
        if not parts:
            raise NotFoundError("no file name given", path=path)
        entry = self._pf.root_dir
        found: list[str] = []
        for i, name in enumerate(parts):
            with warnings.catch_warnings(record=True) as caught:  # e.g. broken long names
                warnings.simplefilter("always")
                entry = self._guard(lambda e=entry, n=name: self._child(e, n),
                                    "unreadable directory")
            for w in caught:
                log.info("%s: %s", "/".join(parts[:i + 1]), w.message)
            if entry is None:
                raise NotFoundError("no such file on the FAT volume", path="/".join(parts[:i + 1]))
            found.append(_display_name(entry))
            if i < len(parts) - 1 and not entry.is_directory():
                raise NotFoundError("not a folder", path="/".join(found))
        if entry.is_directory():
            raise NotFoundError("is a folder, not a file", path="/".join(found))
        return "/".join(found), entry

    @staticmethod
    def _child(entry, name: str):
        dirs, files, _ = entry.get_entries()
        for child in dirs + files:
            if any(names_equal(n, name) for n in _names(child)):
                return child
        return None

    def _ref(self, path: str, entry) -> FileRef:
        size = entry.filesize
        if size == 0:
            return FileRef(path, 0, ())
        bpc = self._pf.bytes_per_cluster
        needed = -(-size // bpc)
        chain = cluster_chain(self._pf, entry.get_cluster())
        if len(chain) < needed:
            raise CorruptionError(f"file of {size} bytes has only {len(chain)} clusters of {bpc}",
                                  path=path)
        if len(chain) > needed:
            log.info("%s: cluster chain longer than the file needs (%d > %d)",
                     path, len(chain), needed)
        extents = []
        for n, cluster in enumerate(chain[:needed]):
            offset = self._pf.get_data_cluster_address(cluster)
            if offset + bpc > self.dev.size:
                raise CorruptionError(f"cluster {cluster:#x} lies beyond the end of the volume",
                                      path=path)
            extents.append((offset, min(bpc, size - n * bpc)))
        return FileRef(path, size, merge_extents(extents))

    @_fsck_step
    def read(self, ref: FileRef) -> bytes:
        """The file's bytes, through its extents."""
        return read_extents(self.dev, ref)

    @_fsck_step
    def check_extents_exclusive(self, ref: FileRef) -> None:
        """Raise CorruptionError unless the clusters of `ref` are its own: every FAT copy agrees
        on its chain, and no other file's or folder's chain (walked from the root, bounded and
        cycle-checked) uses one of them.  The disk sink calls this before its first write."""
        if not ref.extents:
            return
        shown, entry = self._guard(lambda: self._entry(ref.path), "unreadable directory")
        if self._ref(shown, entry).extents != ref.extents:
            raise CorruptionError("refusing to write: the file's clusters changed since it was "
                                  "found; run the command again", path=ref.path)
        chain = cluster_chain(self._pf, entry.get_cluster())
        geo = FatGeometry.of(self._pf, cluster_count(self._pf), len(self._pf.fat))
        check_copies_agree(self.dev, geo, chain, shown)
        ChainWalk(self.dev, geo, self._pf.fat.__getitem__, shown, chain).run()

    def check_files_exclusive(self, refs: list[FileRef]) -> None:
        """`check_extents_exclusive` of each of `refs` (the files a write changes)."""
        for ref in refs:
            self.check_extents_exclusive(ref)

    def require_writable(self, ref: FileRef) -> None:
        """Raise unless `ref` may be rewritten in place now (volume clean, device writable)."""
        require_writable(self.dev, self.facts(), ref)


def _names(entry) -> list[str]:
    names = [entry.get_short_name()]
    if entry.lfn_entry is not None:
        names.insert(0, entry.get_long_name())
    return names


def _display_name(entry) -> str:
    return _names(entry)[0]
