"""NTFS volumes through pytsk3: case-insensitive lookup, $DATA runs as extents, safety facts.

pytsk3 reads through an Img_Info subclass backed by our BlockDevice, so it never opens a file
itself and never writes.  Files whose data is not plainly laid out in clusters (resident,
compressed, encrypted, sparse) can be read but are refused for in-place writing.
"""

from __future__ import annotations

from functools import partial

import pytsk3

from bcdtool import _construct
from bcdtool.blockdev.base import BlockDevice
from bcdtool.errors import (BcdToolError, CorruptionError, FormatError, LimitError,
                            NotFoundError, UnsafeVolumeError, UnsupportedError, next_step)
from bcdtool.fs.base import (HIBERNATION_SIGNATURES, FileRef, VolumeFacts, check_declared_size,
                             first_overlap, merge_extents, read_extents, require_writable,
                             split_path)
from bcdtool.fs import ntfs_layout as L
from bcdtool.fs import ntfs_mft
from bcdtool.limits import MAX_MFT_SCAN_BYTES
from bcdtool.fs.probe import probe

#: $Volume is MFT record 3; its $VOLUME_INFORMATION flags sit at byte 10; bit 0 = dirty.
_VOLUME_INODE = 3
_LOGFILE_INODE = 2
#: The two $LogFile restart pages lie in its first 2 x 64 KiB at most.
_LOG_HEAD_MAX = 2 * 65536
_VOLUME_DIRTY = 0x0001
_VOLUME_INFO_FLAGS = slice(10, 12)
_RUN_SPARSE = 2  # TSK_FS_ATTR_RUN_FLAG_SPARSE; FILLER (1) marks runs TSK could not map
#: The system files whose clusters no file may share ($Volume, $AttrDef, $Secure... included).
SYSTEM_FILES = {0: "$MFT", 1: "$MFTMirr", 2: "$LogFile", 3: "$Volume", 4: "$AttrDef",
                5: "the root folder", 6: "$Bitmap", 7: "$Boot", 8: "$BadClus", 9: "$Secure",
                10: "$UpCase", 11: "$Extend"}
_NEXT_STEP = ("run `ntfsfix -n` on the partition to see the damage (read-only); chkdsk from "
              "Windows repairs it")
#: How TSK words a file whose MFT record it found but cannot use (runs past the volume, ...).
_TSK_CORRUPT = "Error in metadata structure"


class _TskImage(pytsk3.Img_Info):
    """An Img_Info that reads from a BlockDevice (pytsk3 calls read/get_size back)."""

    def __init__(self, dev: BlockDevice) -> None:
        self._dev = dev
        self.error: BcdToolError | None = None
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def read(self, offset: int, size: int) -> bytes:  # noqa: D102 - pytsk3 callback
        size = max(0, min(size, self._dev.size - offset))
        try:
            return self._dev.read_at(offset, size)
        except BcdToolError as exc:
            self.error = exc
            raise OSError(str(exc)) from None

    def get_size(self) -> int:  # noqa: D102 - pytsk3 callback
        return self._dev.size

    def close(self) -> None:  # noqa: D102 - the device belongs to the caller
        pass


#: What a Linux rescue user can do about a damaged NTFS volume (appended to such errors).
NTFSFIX_STEP = ("check the volume with `ntfsfix -n` (read-only; chkdsk from Windows repairs it, "
                "`ntfsfix` only the basics)")
_ntfsfix_step = next_step(NTFSFIX_STEP, CorruptionError, FormatError)


class NtfsVolume:
    """An NTFS volume on `dev` (usually a partition view)."""

    @_ntfsfix_step
    def __init__(self, dev: BlockDevice) -> None:
        self.dev = dev
        kind = probe(dev)
        if kind == "bitlocker":
            raise UnsafeVolumeError("the volume is BitLocker-encrypted; unlock it first (for "
                                    "example with dislocker)", path=dev.name)
        if kind != "ntfs":
            raise FormatError("not an NTFS volume", path=dev.name)
        self._img = _TskImage(dev)
        self._fs = self._tsk(lambda: pytsk3.FS_Info(self._img, offset=0,
                                                    type=pytsk3.TSK_FS_TYPE_NTFS),
                             FormatError, "unreadable NTFS volume")
        self.cluster_size = int(self._fs.info.block_size)
        claimed = int(self._fs.info.block_count) * self.cluster_size
        if claimed > dev.size:
            raise CorruptionError(f"the NTFS volume claims {claimed} bytes but its partition "
                                  f"holds {dev.size}", path=dev.name)

    def _tsk(self, action, error: type[BcdToolError], what: str, path: str | None = None):
        self._img.error = None
        try:
            return action()
        except OSError as exc:
            if self._img.error is not None:
                raise self._img.error from None
            if _TSK_CORRUPT in str(exc):    # the file exists, its record is broken or hostile
                raise CorruptionError(f"damaged MFT record: {_tsk_message(exc)}; inspect the "
                                      "volume with `ntfsfix -n`", path=path or self.dev.name) \
                    from None
            raise error(f"{what}: {_tsk_message(exc)}", path=path or self.dev.name) from None
        except SystemError as exc:      # pytsk3 passing a hostile (negative) size on to Python
            raise CorruptionError(f"{what}: {exc}; inspect the volume with `ntfsfix -n`",
                                  path=path or self.dev.name) from None

    # -- facts --------------------------------------------------------------------------------
    def facts(self) -> VolumeFacts:
        """Hibernation (hiberfil.sys signature), the $Volume dirty flag, $LogFile state."""
        notes = []
        dirty: bool | None
        try:
            info = self._attribute_bytes(self._tsk(lambda: self._fs.open_meta(inode=_VOLUME_INODE),
                                                   CorruptionError, "cannot open $Volume"),
                                         pytsk3.TSK_FS_ATTR_TYPE_NTFS_VINFO)
            dirty = bool(int.from_bytes(info[_VOLUME_INFO_FLAGS], "little") & _VOLUME_DIRTY)
        except BcdToolError as exc:
            dirty = None
            notes.append(f"dirty flag unknown: {exc}")
        log_clean = self._log_clean()
        if log_clean is False:
            notes.append("the NTFS journal ($LogFile) was not closed cleanly: Windows crashed or "
                         "was cut off; bcdtool writes only file data, which the journal does "
                         "not cover")
        return VolumeFacts(fs="ntfs", label=self._label(), hibernated=self._hibernated(),
                           dirty=dirty, log_clean=log_clean, notes=tuple(notes))

    def _log_clean(self) -> bool | None:
        """Whether $LogFile's newest restart area says the volume was closed cleanly."""
        try:
            f = self._fs.open_meta(inode=_LOGFILE_INODE)
            size = max(0, min(int(f.info.meta.size or 0), _LOG_HEAD_MAX))  # TSK sizes are signed

            def head_of(length: int) -> bytes:
                return self._tsk(lambda: f.read_random(0, min(size, length)), CorruptionError,
                                 "unreadable $LogFile")
            head = head_of(8192)  # both restart pages, with the usual 4 KiB page size
        except (OSError, BcdToolError):
            return None
        if head[:4] == L.EMPTY_LOG_MAGIC:
            return True  # emptied by chkdsk, mkntfs or ntfs-3g: nothing to replay
        newest: tuple[int, bool] | None = None
        offset = 0
        for _ in range(2):
            page_size = int.from_bytes(head[offset + 16:offset + 20], "little")
            if len(head) < min(size, offset + page_size) <= _LOG_HEAD_MAX:
                try:
                    head = head_of(offset + page_size)
                except BcdToolError:
                    break
            area = self._restart_area(head, offset)
            if area is None:
                break
            lsn, clean, page_size = area
            if newest is None or lsn > newest[0]:
                newest = (lsn, clean)
            offset += page_size
        return None if newest is None else newest[1]

    @staticmethod
    def _restart_area(head: bytes, offset: int) -> tuple[int, bool, int] | None:
        try:
            page = _construct.parse(L.RestartPageHeader, head, offset=offset, what="restart page")
            size = page.system_page_size
            if (page.magic not in L.RESTART_MAGICS or size < 512 or size & (size - 1)
                    or offset + size > len(head)):
                return None
            fixed = undo_fixups(head[offset:offset + size], page.usa_ofs, page.usa_count,
                                "restart page")
            area = _construct.parse(L.RestartArea, fixed, offset=page.restart_area_offset,
                                    what="restart area")
        except BcdToolError:
            return None
        clean = (area.client_in_use_list == L.LOGFILE_NO_CLIENT
                 or bool(area.flags & L.RESTART_VOLUME_IS_CLEAN))
        return area.current_lsn, clean, size

    def _hibernated(self) -> bool:
        try:
            f = self._fs.open("/hiberfil.sys")
        except OSError:
            return False
        size = int(f.info.meta.size or 0)
        if size < 4:
            return False
        head = self._tsk(lambda: f.read_random(0, 4), CorruptionError, "unreadable hiberfil.sys")
        return head in HIBERNATION_SIGNATURES

    def _label(self) -> str | None:
        try:
            f = self._fs.open_meta(inode=_VOLUME_INODE)
            raw = self._attribute_bytes(f, pytsk3.TSK_FS_ATTR_TYPE_NTFS_VNAME)
        except (OSError, BcdToolError):
            return None
        return raw.decode("utf-16-le", "replace") or None

    def _attribute_bytes(self, f, attr_type) -> bytes:
        for attr in f:
            if int(attr.info.type) == int(attr_type):
                size = int(attr.info.size)
                if size <= 0:       # a hostile record can make TSK's signed size negative
                    return b""
                return self._tsk(partial(f.read_random, 0, size, attr.info.type, attr.info.id),
                                 CorruptionError, "unreadable attribute")
        raise NotFoundError(f"attribute {int(attr_type):#x} not found")

    # -- files --------------------------------------------------------------------------------
    @_ntfsfix_step
    def find(self, path: str, *, max_size: int | None = None) -> FileRef:
        """Locate a file (case-insensitive) and map its unnamed $DATA attribute.

        A declared size over `max_size` (default: limits.MAX_HIVE_BYTES) or over the volume is
        refused before any data is mapped or read (a sparse file can declare terabytes).
        """
        parts = split_path(path)
        if not parts:
            raise NotFoundError("no file name given", path=path)
        stored = []
        f = None
        for i in range(len(parts)):
            prefix = "/" + "/".join(parts[:i + 1])
            f = self._tsk(lambda p=prefix: self._fs.open(p), NotFoundError,
                          "no such file on the NTFS volume", path=prefix)
            name = f.info.name.name if f.info.name is not None else None
            stored.append(name.decode("utf-8", "replace") if name else parts[i])
        shown = "/".join(stored)
        if f.info.meta is None or int(f.info.meta.type) != int(pytsk3.TSK_FS_META_TYPE_REG):
            raise NotFoundError("not a regular file", path=shown)
        return self._tsk(lambda: self._ref(shown, f, max_size), CorruptionError,
                         "unreadable file record", shown)

    def _ref(self, path: str, f, max_size: int | None) -> FileRef:
        attr = next((a for a in f if int(a.info.type) == int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA)
                     and not a.info.name), None)
        if attr is None:
            raise NotFoundError("file has no unnamed $DATA attribute", path=path)
        size = int(attr.info.size)
        check_declared_size(path, size, self.dev.size, max_size, "ntfsfix -n")
        flags = int(attr.info.flags)
        refusal = _refusal(flags)
        if refusal is None:
            extents, refusal = self._runs(path, attr, size)
        if refusal is None:
            refusal = self._initialized_refusal(path, int(f.info.meta.addr), size)
            if refusal is None:
                return FileRef(path, size, extents, record=int(f.info.meta.addr))
        if flags & int(pytsk3.TSK_FS_ATTR_ENC):
            return FileRef(path, size, (), refusal)
        content = self._tsk(lambda: f.read_random(0, size, attr.info.type, attr.info.id)
                            if size else b"", CorruptionError, "unreadable file data", path)
        return FileRef(path, size, (), refusal, content)

    def _runs(self, path: str, attr, size: int):
        bs = self.cluster_size
        extents = []
        expected = 0
        for run in attr:
            if int(run.flags) & _RUN_SPARSE or int(run.offset) != expected:
                return (), "the data is sparse"
            if int(run.flags):
                return (), "the data runs could not all be mapped"
            expected += int(run.len)
            extents.append((int(run.addr) * bs, int(run.len) * bs))
        trimmed, left = [], size
        for off, length in merge_extents(extents):
            if left <= 0:
                break
            if off + length > self.dev.size:
                raise CorruptionError("file data lies beyond the end of the volume", path=path,
                                      offset=off)
            trimmed.append((off, min(length, left)))
            left -= min(length, left)
        if left > 0:
            raise CorruptionError(f"data runs cover {size - left} of {size} bytes", path=path)
        return tuple(trimmed), None

    def _initialized_refusal(self, path: str, addr: int, size: int) -> str | None:
        """Why the clusters do not hold all of the data NTFS returns (pytsk3 hides this)."""
        init = self._initialized_size(path, addr)
        if init is None:
            return "its $DATA is described in an attribute list (initialized size not checked)"
        if init < size:
            # NTFS returns zeros past the initialized size, whatever the clusters hold.
            return f"only {init} of its {size} bytes are initialized"
        return None

    def _initialized_size(self, path: str, addr: int) -> int | None:
        """Initialized size of the unnamed $DATA in the file's base MFT record (None: elsewhere)."""
        rec_size = self._record_size()
        mft = self._tsk(lambda: self._fs.open_meta(inode=0), CorruptionError, "cannot open $MFT")
        raw = self._tsk(lambda: mft.read_random(addr * rec_size, rec_size), CorruptionError,
                        "unreadable MFT record", path)
        rec = apply_fixups(raw, path)
        header = _construct.parse(L.MftRecordHeader, rec, what="MFT record", path=path)
        pos = header.attrs_offset
        while pos + L.AttributeHeader.sizeof() <= len(rec):
            if int.from_bytes(rec[pos:pos + 4], "little") == L.ATTRIBUTE_END:
                break
            attr = _construct.parse(L.AttributeHeader, rec, offset=pos, what="attribute", path=path)
            if attr.length < L.AttributeHeader.sizeof() or pos + attr.length > len(rec):
                raise CorruptionError("attribute overruns its MFT record", path=path, offset=pos)
            if attr.type == L.ATTR_TYPE_DATA and attr.name_length == 0 and attr.non_resident:
                nr = _construct.parse(L.NonResidentHeader, rec[:pos + attr.length],
                                      offset=pos + L.NON_RESIDENT_OFFSET, what="attribute",
                                      path=path)
                if nr.lowest_vcn == 0:
                    return nr.initialized_size
            pos += attr.length
        return None

    @_ntfsfix_step
    def read(self, ref: FileRef) -> bytes:
        """The file's bytes (through its extents, or the copy read by pytsk3)."""
        if not ref.extents and ref.content is None and ref.size:
            raise UnsupportedError(f"cannot read this file: {ref.refusal}", path=ref.path)
        return read_extents(self.dev, ref)

    def require_writable(self, ref: FileRef) -> None:
        """Raise unless `ref` may be rewritten in place now (volume safe, device writable)."""
        require_writable(self.dev, self.facts(), ref)

    def check_extents_exclusive(self, ref: FileRef) -> None:
        """`check_files_exclusive` of one file."""
        self.check_files_exclusive([ref])

    @_ntfsfix_step
    def check_files_exclusive(self, refs: list[FileRef]) -> None:
        """Raise CorruptionError unless the clusters of each of `refs` are its own: inside the
        volume, past the boot sector, outside every run of the system files ($MFT, $MFTMirr,
        $LogFile, $Bitmap, $Boot, $BadClus... as pytsk3 maps them), marked in use in $Bitmap,
        and used by no other file (every non-resident attribute of every in-use MFT record,
        $MFT read streaming: `_check_other_files`).  The disk sink calls this before its first
        write (and dry runs ask it too)."""
        for ref in refs:
            self._check_own_clusters(ref)
        self._check_other_files([ref for ref in refs if ref.extents])

    def _check_own_clusters(self, ref: FileRef) -> None:
        volume_end = int(self._fs.info.block_count) * self.cluster_size
        for off, length in ref.extents:
            if off < self.cluster_size or off + length > volume_end:
                raise CorruptionError(f"refusing to write: the file's data at {off:#x} lies "
                                      f"outside the volume's data clusters; {_NEXT_STEP}",
                                      path=ref.path)
        for inode, name in SYSTEM_FILES.items():
            for start, length in self._system_runs(inode, name):
                hit = first_overlap(ref.extents, start, length)
                if hit is not None:
                    raise CorruptionError(f"refusing to write: the file's data at {hit:#x} lies "
                                          f"in the clusters of {name}; writing would damage it; "
                                          f"{_NEXT_STEP}", path=ref.path)
        self._check_allocated(ref)

    def _check_other_files(self, refs: list[FileRef]) -> None:
        """No in-use MFT record other than a file's own uses one of its clusters: any other
        file's runs (data, attribute lists, indexes...), and the file's own attributes other
        than its unnamed $DATA.  $MFT is read 1 MiB at a time, at most MAX_MFT_SCAN_BYTES."""
        if not refs:
            return
        cs = self.cluster_size
        wanted = sorted((off // cs, (off + n - 1) // cs, ref) for ref in refs
                        for off, n in ref.extents)
        lowest, highest = wanted[0][0], max(last for _, last, _ in wanted)
        mft = self._tsk(lambda: self._fs.open_meta(inode=0), CorruptionError, "cannot open $MFT")
        size = max(0, int(mft.info.meta.size or 0))
        if size > MAX_MFT_SCAN_BYTES:
            raise LimitError(f"the volume's $MFT is {size} bytes, more than the "
                             f"{MAX_MFT_SCAN_BYTES}-byte cap bcdtool reads to prove that no other "
                             "file shares the store's clusters; nothing was written: use "
                             "--backend guestfs (writes through the file system driver)",
                             path=self.dev.name)

        def read(offset: int, length: int) -> bytes:
            return self._tsk(lambda: mft.read_random(offset, length), CorruptionError,
                             "unreadable $MFT")

        for run in ntfs_mft.scan(read, size, self._record_size(), undo_fixups, self.dev.name):
            end = run.lcn + run.count - 1
            if end < lowest or run.lcn > highest:
                continue
            for first, last, ref in wanted:
                if run.lcn <= last and first <= end and not (run.data and run.owner == ref.record):
                    hit = max(first, run.lcn) * cs
                    whose = "another attribute of the file itself" if run.owner == ref.record \
                        else f"the file in MFT record {run.owner}"
                    raise CorruptionError(
                        f"refusing to write: the file's cluster at {hit:#x} is also used by "
                        f"{whose} (record {run.record}); writing would change that file too; "
                        f"see it with `ntfsinfo -i {run.owner} PARTITION`; {_NEXT_STEP}",
                        path=ref.path)

    def _record_size(self) -> int:
        """Bytes per MFT record, from the boot sector."""
        code = int.from_bytes(self.dev.read_at(0x40, 1), "little", signed=True)
        rec_size = 1 << -code if code < 0 else code * self.cluster_size
        if not 256 <= rec_size <= 65536 or rec_size % L.FIXUP_STRIDE:
            raise FormatError(f"impossible MFT record size {rec_size}", path=self.dev.name)
        return rec_size

    def _system_runs(self, inode: int, name: str):
        """(offset, length) of every allocated run of every non-resident attribute of a system
        file (sparse runs, like $BadClus:$Bad's, hold no clusters)."""
        f = self._tsk(lambda: self._fs.open_meta(inode=inode), CorruptionError,
                      f"cannot open {name}")
        runs = []
        for attr in f:
            if not int(attr.info.flags) & int(pytsk3.TSK_FS_ATTR_NONRES):
                continue
            for run in attr:
                if not int(run.flags) & _RUN_SPARSE and int(run.len):
                    runs.append((int(run.addr) * self.cluster_size,
                                 int(run.len) * self.cluster_size))
        return runs

    def _check_allocated(self, ref: FileRef) -> None:
        """Every cluster of `ref` is marked in use in $Bitmap (a free one could be handed to
        another file by the next writer)."""
        bitmap = self._tsk(lambda: self._fs.open_meta(inode=6), CorruptionError,
                           "cannot open $Bitmap")
        size = max(0, int(bitmap.info.meta.size or 0))
        for off, length in ref.extents:
            first, last = off // self.cluster_size, (off + length - 1) // self.cluster_size
            lo, hi = first // 8, last // 8 + 1
            if hi > size:
                raise CorruptionError(f"refusing to write: $Bitmap does not cover the file's "
                                      f"clusters; {_NEXT_STEP}", path=ref.path)
            bits = self._tsk(lambda lo=lo, hi=hi: bitmap.read_random(lo, hi - lo),
                             CorruptionError, "unreadable $Bitmap")
            for cluster in range(first, last + 1):
                if not bits[cluster // 8 - lo] >> (cluster % 8) & 1:
                    raise CorruptionError(f"refusing to write: cluster {cluster:#x} of the file "
                                          f"is marked free in $Bitmap; {_NEXT_STEP}",
                                          path=ref.path)


def apply_fixups(record: bytes, path: str = "") -> bytes:
    """An MFT record with its update-sequence fixups undone (a torn record is corrupt)."""
    header = _construct.parse(L.MftRecordHeader, record, what="MFT record", path=path)
    return undo_fixups(record, header.usa_ofs, header.usa_count, "MFT record", path)


def undo_fixups(page: bytes, usa_ofs: int, usa_count: int, what: str, path: str = "") -> bytes:
    """A multi-sector NTFS structure with the update-sequence values put back in place."""
    stride = L.FIXUP_STRIDE
    count = len(page) // stride
    if usa_count != count + 1 or usa_ofs + 2 * (count + 1) > len(page):
        raise CorruptionError(f"{what} has an impossible update sequence", path=path)
    usa = page[usa_ofs:usa_ofs + 2 * (count + 1)]
    fixed = bytearray(page)
    for i in range(1, count + 1):
        end = i * stride - 2
        if fixed[end:end + 2] != usa[0:2]:
            raise CorruptionError(f"torn {what} (update sequence mismatch)", path=path)
        fixed[end:end + 2] = usa[2 * i:2 * i + 2]
    return bytes(fixed)


def _refusal(flags: int) -> str | None:
    if flags & int(pytsk3.TSK_FS_ATTR_ENC):
        return "the file is encrypted (EFS)"
    if flags & int(pytsk3.TSK_FS_ATTR_COMP):
        return "the file is compressed"
    if flags & int(pytsk3.TSK_FS_ATTR_SPARSE):
        return "the file is sparse"
    if flags & int(pytsk3.TSK_FS_ATTR_RES):
        return "the data is resident (stored inside its MFT record)"
    return None


def _tsk_message(exc: OSError) -> str:
    text = str(exc).strip()
    return text.split(": ", 1)[-1] if ": " in text else text
