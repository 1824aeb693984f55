"""Who uses which cluster of a FAT volume: every chain, walked from the root directory.

Before bcdtool writes into a file's clusters it proves that they are the file's alone: no other
file's or folder's chain reaches them (a damaged or hostile volume can cross-link chains, and
writing the store would then overwrite, say, EFI/Boot/bootx64.efi) and every FAT copy agrees on
the file's chain.  The walk is bounded: each cluster is visited once (a chain reaching a visited
cluster is a cross-link, and its rest was already walked), folders nest at most MAX_DEPTH deep.
Chains of other files that end badly (free, bad or out-of-range clusters) are not ours to judge
and end the walk of that chain only.
"""

from __future__ import annotations


from typing import NamedTuple

from pyfatfs.PyFat import PyFat

from bcdtool.blockdev.base import BlockDevice
from bcdtool.errors import CorruptionError

#: Deepest folder nesting walked (Windows paths stop far earlier).
MAX_DEPTH = 64
_ENTRY = 32
_ATTR_VOLUME_ID, _ATTR_DIRECTORY, _ATTR_LFN = 0x08, 0x10, 0x0F
_DELETED, _END = 0xE5, 0x00
#: FAT32 BPB_ExtFlags bit 7: only the active FAT is used (no mirroring).
_NO_MIRRORING = 0x80
_NEXT_STEP = ("run `fsck.fat -n` on the partition to see the damage (read-only), then repair a "
              "copy of the image with `fsck.fat -a` before writing")


class FatGeometry(NamedTuple):
    """Where a FAT volume keeps its FATs, root folder and clusters (from pyfatfs' BPB)."""

    bytes_per_sector: int
    fat_offset: int
    fat_bytes: int
    fats: int
    fat_bits: int
    root_offset: int          # FAT12/16: the fixed root folder; FAT32: unused
    root_bytes: int
    root_cluster: int         # FAT32 root folder chain; 0 on FAT12/16
    cluster_bytes: int
    data_offset: int
    last_cluster: int
    mirroring: bool

    @classmethod
    def of(cls, pf: PyFat, cluster_count: int, fat_entries: int) -> FatGeometry:
        """The geometry of an opened pyfatfs volume."""
        bpb = pf.bpb_header
        bps = bpb["BPB_BytsPerSec"]
        fat32 = pf.fat_type == PyFat.FAT_TYPE_FAT32
        return cls(bps, bpb["BPB_RsvdSecCnt"] * bps, pf._fat_size * bps,  # noqa: SLF001
                   bpb["BPB_NumFATs"], pf.fat_type, pf.root_dir_sector * bps,
                   pf.root_dir_sectors * bps, bpb["BPB_RootClus"] if fat32 else 0,
                   pf.bytes_per_cluster, pf.first_data_sector * bps,
                   min(cluster_count + 1, fat_entries - 1),
                   not (fat32 and bpb["BPB_ExtFlags"] & _NO_MIRRORING))


def fat_entry(dev: BlockDevice, geo: FatGeometry, copy: int, cluster: int) -> int:
    """Entry `cluster` of FAT copy `copy` (0-based), read straight from the device."""
    base = geo.fat_offset + copy * geo.fat_bytes
    if geo.fat_bits == 12:
        raw = int.from_bytes(dev.read_at(base + cluster * 3 // 2, 2), "little")
        return raw >> 4 if cluster & 1 else raw & 0xFFF
    raw = int.from_bytes(dev.read_at(base + cluster * geo.fat_bits // 8, geo.fat_bits // 8),
                         "little")
    return raw & 0x0FFFFFFF if geo.fat_bits == 32 else raw


def check_copies_agree(dev: BlockDevice, geo: FatGeometry, chain: list[int], path: str) -> None:
    """Every FAT copy holds the same entries for the clusters of `chain`."""
    for cluster in chain:
        first = fat_entry(dev, geo, 0, cluster)
        for copy in range(1, geo.fats):
            other = fat_entry(dev, geo, copy, cluster)
            if other != first:
                mirror = "" if geo.mirroring else " (FAT mirroring is off on this volume)"
                raise CorruptionError(
                    f"refusing to write: FAT copies disagree on cluster {cluster:#x} of the file "
                    f"(FAT 1: {first:#x}, FAT {copy + 1}: {other:#x}){mirror}; {_NEXT_STEP}",
                    path=path)


class ChainWalk:
    """One walk of every chain reachable from the root folder, checking that `owned` (the
    clusters of the file at `path`, whose chain starts at `first`) is used by that file only."""

    def __init__(self, dev: BlockDevice, geo: FatGeometry, next_cluster, path: str,
                 chain: list[int]) -> None:
        self.dev, self.geo, self.next, self.path = dev, geo, next_cluster, path
        self.first = chain[0]
        self.owned = set(chain)
        self.seen: set[int] = set(chain)
        self.claims: list[str] = []   # entries whose chain starts at the file's first cluster

    def run(self) -> None:
        """Raise CorruptionError if another entry or chain uses one of the file's clusters."""
        if self.geo.root_cluster:
            root = self._chain(self.geo.root_cluster, "the root folder")
            folders = [("", root, 0)]
        else:
            folders = [("", None, 0)]
        while folders:
            where, chain, depth = folders.pop()
            for name, attr, first in self._entries(chain):
                shown = f"{where}/{name}" if where else name
                if first == self.first and not attr & _ATTR_DIRECTORY:
                    self.claims.append(shown)
                    if len(self.claims) > 1:
                        self._refuse(first, " and ".join(self.claims))
                    continue
                if not first:
                    continue
                clusters = self._chain(first, shown)
                if attr & _ATTR_DIRECTORY and clusters:
                    if depth + 1 > MAX_DEPTH:
                        raise CorruptionError(f"folders nested deeper than {MAX_DEPTH} levels; "
                                              f"{_NEXT_STEP}", path=shown)
                    folders.append((shown, clusters, depth + 1))
        if not self.claims:
            raise CorruptionError("refusing to write: no directory entry of the volume leads to "
                                  f"the file's clusters; {_NEXT_STEP}", path=self.path)

    def _refuse(self, cluster: int, other: str) -> None:
        raise CorruptionError(f"refusing to write: cluster {cluster:#x} of the file is also used "
                              f"by {other}; writing would change that too; {_NEXT_STEP}",
                              path=self.path)

    def _chain(self, first: int, owner: str) -> list[int]:
        """The not yet seen clusters of the chain at `first` (refusing one that reaches ours)."""
        values = PyFat.FAT_CLUSTER_VALUES[self.geo.fat_bits]
        out = []
        cluster = first
        while 2 <= cluster <= self.geo.last_cluster:
            if cluster in self.owned:
                self._refuse(cluster, owner)
            if cluster in self.seen:
                break                   # cross-linked with a chain already walked
            self.seen.add(cluster)
            out.append(cluster)
            cluster = self.next(cluster)
            if cluster == values["FREE_CLUSTER"] or cluster >= values["BAD_CLUSTER"]:
                break
        return out

    def _entries(self, chain: list[int] | None):
        """(8.3 name, attributes, first cluster) of the live entries of a folder."""
        geo = self.geo
        if chain is None:
            spans = [(geo.root_offset, geo.root_bytes)]
        else:
            spans = [(geo.data_offset + (cluster - 2) * geo.cluster_bytes, geo.cluster_bytes)
                     for cluster in chain]
        for offset, length in spans:
            if offset + length > self.dev.size:
                return
            raw = self.dev.read_at(offset, length)
            for pos in range(0, length - _ENTRY + 1, _ENTRY):
                entry = raw[pos:pos + _ENTRY]
                if entry[0] == _END:
                    return
                attr = entry[11]
                if entry[0] == _DELETED or attr & 0x3F == _ATTR_LFN or attr & _ATTR_VOLUME_ID \
                        or entry[0] == 0x2E:          # "." and ".." point at folders walked
                    continue
                first = int.from_bytes(entry[26:28], "little")
                if geo.fat_bits == 32:
                    first |= int.from_bytes(entry[20:22], "little") << 16
                yield _short_name(entry), attr, first


def _short_name(entry: bytes) -> str:
    base = entry[:8].decode("latin-1").rstrip()
    ext = entry[8:11].decode("latin-1").rstrip()
    if base.startswith("\x05"):         # a name starting with 0xE5 is stored as 0x05
        base = "\xe5" + base[1:]
    return f"{base}.{ext}" if ext else base
