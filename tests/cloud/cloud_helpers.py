"""Real servers on the loopback address for the cloud-disk tests.

* `RangeServer`: Python's http.server serving files with a small `Range:` handler, and its
  misbehaving variants (no range support, 403, expired signature, 404, 500s, slow, a connection
  cut mid-body); it counts requests and body bytes so tests can assert what a command cost.
* `Azurite` (from fixtures/azurite.py): Microsoft's Azure Storage emulator (npm package
  `azurite`, installed into the repository's `.azurite/` folder by `make deps-test`, or by the
  fixture when npm is present), started on a free port with a temporary folder, then stopped.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from fixtures.azurite import forward

SECRET_MARK = "TOPSECRETSIG"       # put into every signature, so tests can grep for leaks


class _Answering(BaseHTTPRequestHandler):
    """What both test servers' handlers share: HTTP/1.1, no log lines, a whole status answer."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:       # keep test output clean
        pass

    def send_status(self, code: int, headers: dict | None = None, body: bytes = b"") -> None:
        """Answer `code` with `headers` and `body` (its Content-Length set)."""
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Handler(_Answering):
    server: RangeServer._Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        srv = self.server.owner
        srv.requests += 1
        srv.paths.append(self.path)
        mode = srv.mode
        if mode == "slow":
            time.sleep(srv.delay)
        if mode == "flaky" and srv.failures_left > 0:
            srv.failures_left -= 1
            return self.send_status(500, body=b"<Error><Code>InternalError</Code></Error>")
        if mode == "403":
            return self.send_status(403, {"x-ms-error-code": "AuthorizationFailure"},
                                    b"<?xml version=\"1.0\"?><Error><Code>AuthorizationFailure"
                                    b"</Code><Message>This request is not authorized.</Message>"
                                    b"</Error>")
        if mode == "expired":
            return self.send_status(403, {"x-ms-error-code": "AuthenticationFailed"},
                                    b"<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed"
                                    b"</Code><Message>Signed expiry time has to be after signed "
                                    b"start time</Message></Error>")
        name = self.path.split("?", 1)[0].lstrip("/")
        path = srv.root / name
        if mode == "404" or not path.is_file():
            return self.send_status(404, body=b"<Error><Code>BlobNotFound</Code></Error>")
        size = path.stat().st_size
        etag = f'"{path.stat().st_mtime_ns:x}-{size:x}"'
        rng = re.match(r"bytes=(\d+)-(\d+)$", self.headers.get("Range", ""))
        if mode == "norange" or not rng:
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.send_header("Accept-Ranges", "none")
            self.end_headers()
            with path.open("rb") as handle:     # the client should hang up long before the end
                try:
                    while chunk := handle.read(1 << 20):
                        self.wfile.write(chunk)
                        srv.bytes_down += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            return None
        start, end = int(rng.group(1)), min(int(rng.group(2)), size - 1)
        if start >= size:
            return self.send_status(416, {"Content-Range": f"bytes */{size}"})
        with path.open("rb") as handle:
            handle.seek(start)
            body = handle.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.end_headers()
        if mode == "cut" and srv.failures_left > 0:
            srv.failures_left -= 1
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        self.wfile.write(body)
        srv.bytes_down += len(body)
        return None


class RangeServer:
    """An HTTP server on 127.0.0.1 serving the files of `root` (see the module docstring)."""

    class _Server(ThreadingHTTPServer):
        daemon_threads = True

    def __init__(self, root: Path, mode: str = "range", *, delay: float = 0.0,
                 failures: int = 0) -> None:
        self.root = Path(root)
        self.mode = mode
        self.delay = delay
        self.failures_left = failures
        self.requests = 0
        self.bytes_down = 0
        self.paths: list[str] = []
        self._httpd = self._Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, name: str, *, sas: bool = True) -> str:
        """The URL of file `name`, with a fake SAS whose signature holds SECRET_MARK."""
        port = self._httpd.server_address[1]
        query = f"?sv=2022-11-02&sr=b&sp=r&se=2099-01-01T00%3A00%3A00Z&sig={SECRET_MARK}abc%3D" \
            if sas else ""
        return f"http://127.0.0.1:{port}/{name}{query}"

    def __enter__(self) -> RangeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def leaked(secret: str, *texts: str | bytes) -> bool:
    """True when `secret` appears in any of `texts`."""
    for text in texts:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if secret in text:
            return True
    return False


def tree_text(folder: Path) -> str:
    """Every file under `folder` (journals, audit log, markers) as one text, for leak checks."""
    out = []
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            out.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(out)


def environment(**extra: str) -> dict:
    """os.environ plus `extra`, for subprocess runs of bcdtool."""
    env = dict(os.environ)
    env.update(extra)
    return env


class _ScriptedHandler(_Answering):
    server: ScriptedServer._Server

    def do_GET(self) -> None:  # noqa: N802
        owner = self.server.owner
        owner.seen.append((self.server.server_address[0], self.path, dict(self.headers)))
        owner.script(self, owner)

    def send_range(self, data: bytes, *, headers: dict | None = None,
                   content_range: str | None = None, length: bool = True) -> None:
        """A correct 206 answer of `Range:` over `data`, with changes for the hostile cases."""
        rng = re.match(r"bytes=(\d+)-(\d+)$", self.headers.get("Range", ""))
        start, end = int(rng.group(1)), min(int(rng.group(2)), len(data) - 1)
        body = data[start:end + 1]
        self.send_response(206)
        self.send_header("Content-Range", content_range or f"bytes {start}-{end}/{len(data)}")
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.close_connection = True
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass

class ScriptedServer:
    """An HTTP(S) server on a loopback address whose every answer is `script(handler, server)`:
    one test, one behaviour.  `seen` holds (address, path, headers) of every request."""

    class _Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address) -> None:
            pass        # a client hanging up on a hostile answer is the point

    def __init__(self, script, *, host: str = "127.0.0.1", tls: tuple[Path, Path] | None = None,
                 **state) -> None:
        self.script = script
        self.seen: list[tuple[str, str, dict]] = []
        self.__dict__.update(state)
        server_class = self._Server
        if ":" in host:
            server_class = type("_Server6", (self._Server,), {"address_family": socket.AF_INET6})
        self._httpd = server_class((host, 0), _ScriptedHandler)
        self._httpd.owner = self
        self.scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"
        self.host = f"[{host}]" if ":" in host else host
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str = "/disk.img", query: str = "") -> str:
        return f"{self.scheme}://{self.host}:{self.port}{path}{'?' + query if query else ''}"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def self_signed(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate and key for `host` (openssl), as (cert, key) PEM files."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={host}", "-addext", f"subjectAltName=IP:{host}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


class RefusingProxy:
    """A reverse proxy on 127.0.0.1 in front of Azurite that answers `status` (with
    `headers`, and an Azure error body naming `code`) instead of forwarding the first `times`
    requests matching `match(method, path)`, then forwards everything: a throttled, busy or
    conflicting storage service on demand.  `refused` counts the answers it made up."""

    def __init__(self, port: int, match, status: int, *, times: int = 1,
                 headers: dict | None = None, code: str = "ServerBusy") -> None:
        self.target, self.match, self.status, self.left = port, match, status, times
        self.headers, self.code, self.refused = headers or {}, code, 0
        owner = self

        class Handler(_Answering):
            def _forward(self) -> None:
                if owner.left and owner.match(self.command, self.path):
                    owner.left -= 1
                    owner.refused += 1
                    length = int(self.headers.get("Content-Length") or 0)
                    if length:
                        self.rfile.read(length)
                    text = (f"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{owner.code}"
                            f"</Code><Message>made up by the test</Message></Error>").encode()
                    return self.send_status(owner.status, {"x-ms-error-code": owner.code,
                                                           **owner.headers}, text)
                forward(self, owner.target)

            do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _forward

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> RefusingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
