"""Boot a guest disk under QEMU (TCG), capture its serial ports, and log in over ttyS0.

Every QEMU process started here is killed by `Boot.stop()` (used as a context manager), and every
wait is bounded.  ttyS1 carries the guest's own "boot finished" marker; ttyS0 is what a serial
console user would see.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

QEMU = "qemu-system-x86_64"
#: Debian `ovmf`: firmware code (read-only) and a template of the variable store.
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
#: Upper bound of one boot, counted from QEMU's start, on a loaded 2-core machine (TCG: a boot
#: that takes 30 s alone took 320 s with three boots and a debootstrap beside it);
#: override with BCDTOOL_E2E_TIMEOUT.
BOOT_TIMEOUT = float(os.environ.get("BCDTOOL_E2E_TIMEOUT", "600"))


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: get SIGKILL when pytest dies, even killed (no finalizer runs then)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)


class BootTimeout(AssertionError):
    """A boot did not show what was waited for in time."""


class Boot:
    """One QEMU run of `disk` (never written: snapshot=on) with both serial ports captured."""

    def __init__(self, disk: Path, workdir: Path, *, login_socket: bool = False,
                 uefi: bool = False) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.ttyS0 = workdir / "ttyS0.log"
        self.ttyS1 = workdir / "ttyS1.log"
        self.socket_path = workdir / "ttyS0.sock" if login_socket else None
        cmd = [QEMU, "-accel", "tcg", "-m", "512", "-smp", "1", "-display", "none",
               "-monitor", "none", "-nic", "none", "-no-reboot",
               "-drive", f"file={disk},format=raw,if=virtio,snapshot=on"]
        if uefi:
            vars_copy = workdir / "OVMF_VARS.fd"
            shutil.copyfile(OVMF_VARS, vars_copy)
            cmd += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
                    "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}"]
        if self.socket_path is not None:
            # The socket lets the test type; logfile keeps the same transcript as -serial file:.
            cmd += ["-chardev", f"socket,id=s0,path={self.socket_path},server=on,wait=off,"
                                f"logfile={self.ttyS0}",
                    "-serial", "chardev:s0"]
        else:
            cmd += ["-serial", f"file:{self.ttyS0}"]
        cmd += ["-serial", f"file:{self.ttyS1}"]
        self.started = time.monotonic()
        self.stderr = open(workdir / "qemu.stderr", "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.stderr,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        self.console: SerialConsole | None = None

    def __enter__(self) -> Boot:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def elapsed(self) -> float:
        """Seconds since QEMU was started."""
        return time.monotonic() - self.started

    def stop(self) -> None:
        """Kill QEMU (there is nothing to save: the disk is a snapshot) and close the console."""
        if self.console is not None:
            self.console.close()
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=30)
        finally:
            self.stderr.close()

    def text(self, port: Path) -> str:
        """What the guest wrote to a serial port so far."""
        try:
            return port.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_for(self, port: Path, pattern: str, timeout: float | None = None) -> re.Match:
        """Wait for `pattern` (a regex) in the port's log; fail if QEMU dies or time runs out.

        Without `timeout` the limit is BOOT_TIMEOUT after QEMU started, so boots that run side
        by side and hang all fail within one BOOT_TIMEOUT, not one after the other.
        """
        deadline = self.started + BOOT_TIMEOUT if timeout is None else time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.text(port))
            if match:
                return match
            if self.proc.poll() is not None:
                raise BootTimeout(f"QEMU exited ({self.proc.returncode}) before {pattern!r} "
                                  f"appeared on {port.name}: {self._evidence()}")
            if time.monotonic() > deadline:
                raise BootTimeout(f"{pattern!r} did not appear on {port.name} in time: "
                                  f"{self._evidence()}")
            time.sleep(0.5)

    def connect(self, timeout: float = 30) -> SerialConsole:
        """Attach to ttyS0's socket (login_socket=True)."""
        assert self.socket_path is not None, "started without login_socket"
        self.console = SerialConsole(self.socket_path, timeout)
        return self.console

    def _evidence(self) -> str:
        tail = lambda p: self.text(p)[-600:]  # noqa: E731
        return (f"after {self.elapsed():.0f} s; ttyS0 ends {tail(self.ttyS0)!r}; "
                f"ttyS1 ends {tail(self.ttyS1)!r}; qemu said "
                f"{(self.workdir / 'qemu.stderr').read_text(errors='replace')[-300:]!r}")


class SerialConsole:
    """A terminal on the guest's ttyS0 through QEMU's socket chardev."""

    def __init__(self, path: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(str(path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.buffer = bytearray()
        self.lock = threading.Lock()
        self.closed = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while not self.closed:
            try:
                chunk = self.sock.recv(4096)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self.buffer += chunk

    def mark(self) -> int:
        """How many bytes arrived so far (a `start` for `expect`)."""
        with self.lock:
            return len(self.buffer)

    def send(self, text: str) -> None:
        """Type `text` (a line ends with a carriage return, as a terminal sends it)."""
        self.sock.sendall(text.encode())

    def expect(self, pattern: str, timeout: float, start: int = 0) -> tuple[re.Match, int]:
        """Wait for `pattern` in what arrived after byte `start`; return the match and the end."""
        regex = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                match = regex.search(self.buffer, start)
                if match:
                    return match, match.end()
            if time.monotonic() > deadline:
                with self.lock:
                    seen = bytes(self.buffer[start:])[-500:]
                raise BootTimeout(f"{pattern!r} did not come on ttyS0 within {timeout:.0f} s; "
                                  f"got {seen!r}")
            time.sleep(0.2)

    def close(self) -> None:
        """Stop reading and close the socket."""
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.reader.join(timeout=5)
