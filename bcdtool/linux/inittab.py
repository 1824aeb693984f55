"""/etc/inittab in its two dialects: SysV init (`id:runlevels:action:process`) and BusyBox init.

BusyBox init reads the same four fields differently: the first is the tty the process runs on
(`ttyS0::respawn:/sbin/getty -L ttyS0 115200 vt100`; empty means the console) and the runlevels
field is ignored.  A SysV line such as `S0:2345:respawn:/sbin/getty ...` therefore runs on
`/dev/S0` under BusyBox, which does not exist: no getty starts.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Actions after which init keeps a getty running.
_GETTY_ACTIONS = ("respawn", "askfirst")


@dataclass(frozen=True)
class Entry:
    """One non-comment inittab line."""

    line: int
    id: str
    runlevels: str
    action: str
    process: str


def entries(text: str) -> list[Entry]:
    """The entries of an inittab text, in order (comments and malformed lines skipped)."""
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        fields = line.split(":", 3)
        if len(fields) == 4:
            out.append(Entry(lineno, fields[0].strip(), fields[1].strip(), fields[2].strip(),
                             fields[3].split("#", 1)[0].strip()))
    return out


def _runs_getty(entry: Entry) -> bool:
    words = entry.process.lstrip("-").split()
    if entry.action not in _GETTY_ACTIONS or not words:
        return False
    program = words[0].rsplit("/", 1)[-1]
    return "getty" in program or (program == "busybox" and len(words) > 1
                                  and "getty" in words[1])


def _names(entry: Entry, device: str) -> bool:
    """True when the getty's arguments name `device` (agetty takes `ttyS0` or `/dev/ttyS0`)."""
    return any(w.removeprefix("/dev/") == device for w in entry.process.split())


def getty_on(text: str, device: str, *, busybox: bool) -> Entry | None:
    """The entry that keeps a getty running on `device`, or None."""
    for e in entries(text):
        if not _runs_getty(e):
            continue
        names_device = _names(e, device)
        if busybox:
            # BusyBox: the first field is the tty; empty runs the process on the console.
            if e.id.removeprefix("/dev/") == device or (e.id == "" and names_device):
                return e
        elif names_device:
            return e
    return None


def misread_lines(text: str, device: str) -> list[Entry]:
    """SysV-form getty lines for `device` that BusyBox init would run on a tty that is not there."""
    return [e for e in entries(text)
            if _runs_getty(e) and _names(e, device)
            and e.id not in ("", device, f"/dev/{device}")]


def getty_line(device: str, baud: int, *, busybox: bool, getty: str,
               taken: frozenset[str] = frozenset()) -> str:
    """The line that starts a getty on `device`, in the dialect of the guest's init.

    SysV ids are at most 4 characters and must be unique: `taken` (the ids in use) is avoided,
    since init ignores the later of two lines with one id."""
    if busybox:
        return f"{device}::respawn:{getty} -L {device} {baud} vt100"
    digits = "".join(c for c in device if c.isdigit())[-2:] or "0"
    candidates = [("S" if device.startswith("ttyS") else "T") + digits, "T" + digits,
                  "sc" + digits] + [f"s{i}" for i in range(10, 100)]
    ident = next(c[:4] for c in candidates if c[:4] not in taken)
    return f"{ident}:2345:respawn:{getty} -L {device} {baud} vt100"


def ids(text: str) -> frozenset[str]:
    """The ids of a SysV inittab's entries."""
    return frozenset(e.id for e in entries(text))
