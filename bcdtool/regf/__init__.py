"""The registry hive ("regf") engine: layout, reader, validator, log replay, editor and commit.

This layer knows nothing of BCD or disks: it turns bytes into keys and values and back.
"""
