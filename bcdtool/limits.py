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
