"""/etc/inittab in its two dialects: SysV init (`id:runlevels:action:process`) and BusyBox init.

BusyBox init reads the same four fields differently: the first is the tty the process runs on
(`ttyS0::respawn:/sbin/getty -L ttyS0 115200 vt100`; empty means the console) and the runlevels
field is ignored.  A SysV line such as `S0:2345:respawn:/sbin/getty ...` therefore runs on
`/dev/S0` under BusyBox, which does not exist: no getty starts.

Some gettys drive virtual consoles only: mingetty (SUSE, RHEL 5/6 and Mandriva inittabs) and
fgetty open the tty without setting a line speed or the serial line's modes, so on a serial port
no usable login prompt appears.  A line running one on the serial port is reported and given
agetty (`S0:12345:respawn:/sbin/agetty -L 115200 ttyS0 vt102` is SUSE's own serial example).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Actions after which init keeps a getty running.
_GETTY_ACTIONS = ("respawn", "askfirst")
#: Gettys for virtual consoles only: they cannot drive a serial line.
VC_ONLY_GETTYS = ("mingetty", "fgetty")


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


def program(entry: Entry) -> str:
    """The file name of the program an entry runs (`busybox getty` counts as `getty`)."""
    words = entry.process.lstrip("-").split()
    name = words[0].rsplit("/", 1)[-1] if words else ""
    return words[1] if name == "busybox" and len(words) > 1 else name


def vc_only(entry: Entry) -> bool:
    """True when the entry's getty drives virtual consoles only (mingetty, fgetty)."""
    return program(entry) in VC_ONLY_GETTYS


def _runs_getty(entry: Entry) -> bool:
    return entry.action in _GETTY_ACTIONS and "getty" in program(entry)


def _names(entry: Entry, device: str) -> bool:
    """True when the getty's arguments name `device` (agetty takes `ttyS0` or `/dev/ttyS0`)."""
    return any(w.removeprefix("/dev/") == device for w in entry.process.split())


def getty_on(text: str, device: str, *, busybox: bool) -> Entry | None:
    """The entry that keeps a getty running on `device`, or None; one that can drive a serial
    line first (a mingetty entry is returned only when no other getty names the port)."""
    found = []
    for e in entries(text):
        if not _runs_getty(e):
            continue
        names_device = _names(e, device)
        if busybox:
            # BusyBox: the first field is the tty; empty runs the process on the console.
            if e.id.removeprefix("/dev/") == device or (e.id == "" and names_device):
                found.append(e)
        elif names_device:
            found.append(e)
    return next((e for e in found if not vc_only(e)), found[0] if found else None)


def with_process(line: str, process: str) -> str:
    """An inittab line with its fourth field (the process) replaced; id, runlevels and
    action kept as written."""
    return ":".join(line.split(":", 3)[:3] + [process])


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
        return f"{device}::respawn:{getty_process(device, baud, getty)}"
    digits = "".join(c for c in device if c.isdigit())[-2:] or "0"
    candidates = [("S" if device.startswith("ttyS") else "T") + digits, "T" + digits,
                  "sc" + digits] + [f"s{i}" for i in range(10, 100)]
    ident = next(c[:4] for c in candidates if c[:4] not in taken)
    return f"{ident}:2345:respawn:{getty_process(device, baud, getty)}"


def getty_process(device: str, baud: int, getty: str) -> str:
    """The process field of a serial getty line (agetty, util-linux and BusyBox getty alike)."""
    return f"{getty} -L {device} {baud} vt100"


def ids(text: str) -> frozenset[str]:
    """The ids of a SysV inittab's entries."""
    return frozenset(e.id for e in entries(text))
