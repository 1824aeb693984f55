"""Optional backends for targets the native readers cannot open (libguestfs: LVM, other file
systems)."""

BACKENDS = ("native", "guestfs")
