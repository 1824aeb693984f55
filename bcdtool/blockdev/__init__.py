"""Byte-addressable devices: raw files and block devices, VHD, VHDX, qcow2, VMDK, partition views.

This layer knows nothing of filesystems or hives.  Formats write only into blocks that are
already allocated; anything else is refused with UnsupportedError.
"""
