"""Optional backends for targets the native readers cannot open (libguestfs: LVM, other file
systems)."""

from __future__ import annotations

from collections.abc import Callable

BACKENDS = ("native", "guestfs")

#: How `locate.open_hive` opens a target through a backend other than "native", by name.
#: libguestfs' store reads and writes through the write layer's guestfs sink, so the CLI
#: registers an opener that loads it only when `--backend guestfs` is chosen (cli/lazy.py) and a
#: native command never imports it; a program using the library registers
#: `bcdtool.locate.guestfs.open_hive_guestfs` itself.
HIVE_OPENERS: dict[str, Callable] = {}
