"""Filesystem adapters: find a file on a FAT, NTFS or directory volume and map its data extents.

Layer: below `target`, above `blockdev`; knows nothing of hives.
"""
