"""Every cluster run of every in-use NTFS MFT record, read streaming from $MFT's data: what
`NtfsVolume.check_extents_exclusive` compares the store's clusters with, so that no other
file's data or metadata (any non-resident attribute, in base or extension records reached
through $ATTRIBUTE_LIST) shares a cluster the write would change.

Pure parsing below (bytes in, runs out), bounded: records are read 1 MiB at a time, a record's
attributes and mapping pairs must stay inside it, and a run list is decoded only within its
attribute.  Reference: the Linux-NTFS "NTFS Documentation" (data runs) and ntfs-3g `runlist.c`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

from bcdtool import _construct
from bcdtool.errors import CorruptionError
from bcdtool.fs import ntfs_layout as L

#: Bytes of $MFT read at once (a whole number of records of any size up to 64 KiB).
CHUNK = 1 << 20
_ATTRIBUTE_HEADER = L.AttributeHeader.sizeof()


class Run(NamedTuple):
    """`count` clusters from `lcn`, used by an attribute of MFT record `record` (part of the
    file whose base record is `owner`); `data` is True for the unnamed $DATA attribute."""

    record: int
    owner: int
    lcn: int
    count: int
    data: bool


def decode_runs(pairs: bytes, path: str = "") -> Iterator[tuple[int, int]]:
    """(first cluster, cluster count) of each allocated run in NTFS mapping pairs (sparse runs,
    which hold no clusters, are skipped); CorruptionError for a run list leaving its bytes."""
    lcn, pos = 0, 0
    while pos < len(pairs) and pairs[pos]:
        size_len, size_off = pairs[pos] & 0x0F, pairs[pos] >> 4
        end = pos + 1 + size_len + size_off
        if not 1 <= size_len <= 8 or size_off > 8 or end > len(pairs):
            raise CorruptionError("an NTFS run list is malformed", path=path, offset=pos)
        count = int.from_bytes(pairs[pos + 1:pos + 1 + size_len], "little", signed=True)
        if count <= 0:
            raise CorruptionError("an NTFS run has no clusters", path=path, offset=pos)
        if size_off:
            lcn += int.from_bytes(pairs[pos + 1 + size_len:end], "little", signed=True)
            if lcn < 0:
                raise CorruptionError("an NTFS run starts before the volume", path=path,
                                      offset=pos)
            yield lcn, count
        pos = end


def record_runs(record: bytes, number: int, path: str = "", header=None) -> Iterator[Run]:
    """The runs of every non-resident attribute of one fixed-up, in-use MFT record (`header`:
    its MftRecordHeader, if already parsed)."""
    header = header or _construct.parse(L.MftRecordHeader, record, what="MFT record", path=path)
    owner = header.base_mft_record & L.MFT_REF_MASK or number
    pos = header.attrs_offset
    while pos + _ATTRIBUTE_HEADER <= len(record):
        if int.from_bytes(record[pos:pos + 4], "little") == L.ATTRIBUTE_END:
            return
        attr = _construct.parse(L.AttributeHeader, record, offset=pos, what="attribute",
                                path=path)
        if attr.length < _ATTRIBUTE_HEADER or pos + attr.length > len(record):
            raise CorruptionError(f"an attribute overruns MFT record {number}", path=path,
                                  offset=pos)
        if attr.non_resident:
            body = record[:pos + attr.length]
            nr = _construct.parse(L.NonResidentHeader, body, offset=pos + L.NON_RESIDENT_OFFSET,
                                  what="attribute", path=path)
            start = pos + nr.mapping_pairs_offset
            if not pos + L.NON_RESIDENT_OFFSET < start <= len(body):
                raise CorruptionError(f"a run list lies outside its attribute in MFT record "
                                      f"{number}", path=path, offset=pos)
            data = attr.type == L.ATTR_TYPE_DATA and attr.name_length == 0
            for lcn, count in decode_runs(body[start:], path):
                yield Run(number, owner, lcn, count, data)
        pos += attr.length


def scan(read: Callable[[int, int], bytes], size: int, record_size: int,
         fixup: Callable[[bytes, int, int, str, str], bytes], path: str = "") -> Iterator[Run]:
    """The runs of every in-use record of an $MFT of `size` bytes, `read(offset, length)`
    returning its data and `fixup(record, usa_ofs, usa_count, what, path)` undoing a record's
    update sequence (`ntfs.undo_fixups`); a record that is in use but torn is CorruptionError
    (its runs are unknown, so the clusters it may use cannot be ruled out)."""
    step = max(record_size, CHUNK - CHUNK % record_size)
    for base in range(0, size - size % record_size, step):
        chunk = read(base, min(step, size - size % record_size - base))
        for pos in range(0, len(chunk) - record_size + 1, record_size):
            raw = chunk[pos:pos + record_size]
            if raw[:4] != b"FILE":
                continue                        # never used, or wiped: holds no clusters
            header = _construct.parse(L.MftRecordHeader, raw, what="MFT record", path=path)
            if not header.flags & L.MFT_RECORD_IN_USE:
                continue
            number = (base + pos) // record_size
            fixed = fixup(raw, header.usa_ofs, header.usa_count, f"MFT record {number}", path)
            yield from record_runs(fixed, number, path, header)
