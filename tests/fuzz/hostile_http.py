"""A local HTTP server (127.0.0.1 only) that serves one disk image badly, in a chosen way.

`HostileServer(data)` starts it in a thread; `url(behaviour)` names a path whose first segment
picks the behaviour.  Every response ends on its own (bounded loops, a stop event), so a test
that stops waiting never leaves the server running forever.
"""

from __future__ import annotations

import http.server
import re
import socketserver
import threading
import time

#: Every behaviour the server knows (the campaign and tests iterate over these).
BEHAVIOURS = [
    "good", "ignore-range", "range-wrong-start", "range-total-small", "range-total-huge",
    "range-star", "range-garbage", "range-end-short", "length-more", "length-less",
    "infinite-206", "infinite-200", "drip", "stall", "redirect-other-host", "redirect-file",
    "redirect-ftp", "redirect-loop", "status-401", "status-403", "status-404", "status-416",
    "status-500", "status-503-retry-after", "status-302-no-location", "huge-headers",
    "empty-206", "total-zero", "etag-changes", "html-200",
]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:        # quiet
        pass

    def _range(self) -> tuple[int, int]:
        match = re.match(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
        data = self.server.data
        if not match:
            return 0, len(data) - 1
        return int(match.group(1)), min(int(match.group(2)), len(data) - 1)

    def _stream(self, chunk: bytes, pause: float = 0.0, limit: float = 120.0) -> None:
        """Send `chunk` again and again until the client goes or `limit` seconds pass."""
        end = time.monotonic() + limit
        try:
            while time.monotonic() < end and not self.server.stopping.is_set():
                self.wfile.write(chunk)
                if pause:
                    self.wfile.flush()
                    time.sleep(pause)
        except OSError:
            pass

    def do_GET(self) -> None:  # noqa: C901 - one branch per behaviour
        behaviour = self.path.split("/")[1]
        data = self.server.data
        start, end = self._range()
        body = data[start:end + 1]
        self.server.hits += 1
        if behaviour.startswith("status-") and behaviour != "status-302-no-location":
            code = int(behaviour.split("-")[1])
            self.send_response(code)
            if "retry-after" in behaviour:
                self.send_header("Retry-After", "999999")
            text = b"<Error><Code>AuthenticationFailed</Code></Error>" * 1000
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)
            return
        if behaviour.startswith("redirect-") or behaviour == "status-302-no-location":
            self.send_response(302)
            target = {"redirect-other-host": f"http://127.0.0.2:{self.server.server_port}/good/x",
                      "redirect-file": "file:///etc/passwd",
                      "redirect-ftp": "ftp://127.0.0.1/x",
                      "redirect-loop": self.path}.get(behaviour)
            if target:
                self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if behaviour in ("ignore-range", "infinite-200", "html-200"):
            self.send_response(200)
            if behaviour == "infinite-200":
                self.end_headers()
                self._stream(b"\0" * 65536)
                return
            payload = data if behaviour == "ignore-range" else b"<html>hello</html>" * 10
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        total = len(data)
        first, last = start, end
        if behaviour == "range-wrong-start":
            first += 512
        elif behaviour == "range-total-small":
            total = max(0, start - 4096)
        elif behaviour == "range-total-huge":
            total = 2 ** 70
        elif behaviour == "range-end-short":
            last = start + 10
            body = data[start:last + 1]
        elif behaviour == "total-zero":
            total = 0
        elif behaviour == "empty-206":
            body = b""
        self.send_response(206)
        if behaviour == "range-star":
            self.send_header("Content-Range", f"bytes {first}-{last}/*")
        elif behaviour == "range-garbage":
            self.send_header("Content-Range", "bytes " + "9" * 5000)
        else:
            self.send_header("Content-Range", f"bytes {first}-{last}/{total}")
        if behaviour == "huge-headers":
            for n in range(200):
                self.send_header(f"X-Junk-{n}", "j" * 1000)
        if behaviour == "etag-changes":
            self.send_header("ETag", f'"{self.server.hits}"')
        if behaviour in ("infinite-206", "drip", "stall"):
            self.end_headers()
            if behaviour == "infinite-206":
                self._stream(body or b"\0" * 65536)
            elif behaviour == "drip":
                self._stream(b"\0", pause=0.5)
            else:
                self.wfile.write(body[:100])
                self.wfile.flush()
                self.server.stopping.wait(120)
            return
        length = len(body)
        if behaviour == "length-more":
            length += 100_000
        elif behaviour == "length-less":
            length = max(0, length - 1000)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        try:
            self.wfile.write(body[:length] if behaviour == "length-less" else body)
        except OSError:
            pass
        if behaviour == "length-more":
            self.close_connection = True


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        pass        # clients hanging up on a hostile answer is the point, not news


class HostileServer:
    """Serve `data` on 127.0.0.1 (a free port) until `close()`."""

    def __init__(self, data: bytes) -> None:
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.data = data
        self.server.hits = 0
        self.server.stopping = threading.Event()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, behaviour: str, name: str = "disk.img") -> str:
        return f"http://127.0.0.1:{self.server.server_port}/{behaviour}/{name}"

    def close(self) -> None:
        self.server.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
