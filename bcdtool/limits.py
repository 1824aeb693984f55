"""Caps on every size declared by an input, checked before anything that size is read or allocated.

A hostile image, hive or folder can declare any size (a FAT entry claiming 1 GiB, a sparse
`BCD.LOG1` of 10 GiB); reading first and checking afterwards would already cost the memory.
Every reader compares the declared size with these caps and refuses before the first byte.
"""

from __future__ import annotations

MiB = 1024 * 1024
GiB = 1024 * MiB

#: A BCD store or one of its transaction logs (real stores are 16 KiB–1 MiB).
MAX_BCD_BYTES = 64 * MiB
#: Any other registry hive or transaction log (the largest real SYSTEM hives are tens of MiB).
MAX_HIVE_BYTES = 1 * GiB
#: The NTFS $MFT read (streaming, 1 MiB at a time) to check that no other file uses the
#: clusters about to be written (a 1 GiB $MFT holds a million files).
MAX_MFT_SCAN_BYTES = 1 * GiB
#: The hive inside a BCD store file: its base block and the hive bins that base block declares
#: (slack after them, such as zero padding up to MAX_BCD_BYTES, is never read).  Real stores
#: hold 16 KiB–1 MiB; with the few copies an edit needs (original, edited, verified) this keeps
#: every BCD command under 100 MiB of memory.
MAX_BCD_HIVE_BYTES = 8 * MiB
#: Keys of a BCD store's objects and elements (the largest real stores have ~50 objects and
#: ~250 elements; each costs about a KiB of memory once decoded).
MAX_BCD_KEYS = 8192
#: One BCD element's data (real ones are at most a few KiB: devices, paths, GUID lists).
MAX_BCD_ELEMENT_BYTES = 64 * 1024
#: All element data of a BCD store together (real stores: tens of KiB); shown as text it
#: grows several times.
MAX_BCD_ELEMENT_DATA = 1 * MiB
#: The new-format transaction-log entries checked and replayed per log, as a multiple of the
#: largest hive they may describe (the hive cap, or what the primary and its logs can hold):
#: every byte of an entry is hashed (Marvin32, ~0.15 s per MiB in Python) before it counts.
#: Windows reconciles a hive with its log long before then; real BCD logs hold a few KiB.
LOG_ENTRY_BYTES_PER_HIVE = 2


def hive_cap(file_cap: int) -> int:
    """The cap on the hive (base block and bins) inside a file capped at `file_cap`: lower for
    a BCD store than for its file, the same for any other hive."""
    return MAX_BCD_HIVE_BYTES if file_cap <= MAX_BCD_BYTES else file_cap
