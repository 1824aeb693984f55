"""Real servers on the loopback address for the cloud-disk tests.

* `RangeServer`: Python's http.server serving files with a small `Range:` handler, and its
  misbehaving variants (no range support, 403, expired signature, 404, 500s, slow, a connection
  cut mid-body); it counts requests and body bytes so tests can assert what a command cost.
* `Azurite`: Microsoft's Azure Storage emulator (npm package `azurite`, installed into the
  repository's `.azurite/` folder by `make deps-test`, or here when npm is present), started
  on a free port with a temporary folder and stopped afterwards.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AZURITE_DIR = REPO / ".azurite"
AZURITE_BIN = AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob"
#: Azurite's fixed development account (public, documented by Microsoft).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==")
SECRET_MARK = "TOPSECRETSIG"       # put into every signature, so tests can grep for leaks


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "RangeServer._Server"

    def log_message(self, *args) -> None:       # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        srv = self.server.owner
        srv.requests += 1
        srv.paths.append(self.path)
        mode = srv.mode
        if mode == "slow":
            time.sleep(srv.delay)
        if mode == "flaky" and srv.failures_left > 0:
            srv.failures_left -= 1
            return self._status(500, b"<Error><Code>InternalError</Code></Error>")
        if mode == "403":
            return self._status(403, b"<?xml version=\"1.0\"?><Error><Code>AuthorizationFailure"
                                     b"</Code><Message>This request is not authorized.</Message>"
                                     b"</Error>", {"x-ms-error-code": "AuthorizationFailure"})
        if mode == "expired":
            return self._status(403, b"<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed"
                                     b"</Code><Message>Signed expiry time has to be after signed "
                                     b"start time</Message></Error>",
                                {"x-ms-error-code": "AuthenticationFailed"})
        name = self.path.split("?", 1)[0].lstrip("/")
        path = srv.root / name
        if mode == "404" or not path.is_file():
            return self._status(404, b"<Error><Code>BlobNotFound</Code></Error>")
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
            return self._status(416, b"", {"Content-Range": f"bytes */{size}"})
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

    def _status(self, code: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


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

    def __enter__(self) -> "RangeServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_azurite() -> str | None:
    """Path of the azurite-blob launcher, installing it with npm into .azurite/ if needed;
    None (with the reason in `ensure_azurite.why`) when npm is absent."""
    if AZURITE_BIN.exists():
        return str(AZURITE_BIN)
    if shutil.which("npm") is None:
        ensure_azurite.why = "npm is not installed: Azurite (npm package azurite) cannot be run"
        return None
    AZURITE_DIR.mkdir(exist_ok=True)
    proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix",
                           str(AZURITE_DIR), "azurite@3"], capture_output=True, text=True,
                          timeout=600)
    if proc.returncode != 0 or not AZURITE_BIN.exists():
        raise RuntimeError(f"npm install azurite failed: {proc.stderr[-2000:]}")
    return str(AZURITE_BIN)


ensure_azurite.why = ""


class Azurite:
    """A running Azurite blob service on 127.0.0.1 with its data in `folder`."""

    def __init__(self, launcher: str, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.log = open(folder / "azurite.log", "wb")
        self.proc = subprocess.Popen(
            [launcher, "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--location",
             str(folder / "data"), "--silent", "--skipApiVersionCheck", "--loose",
             "--disableTelemetry"], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("Azurite did not start: "
                                       + (folder / "azurite.log").read_text(errors="replace"))
                time.sleep(0.2)

    @property
    def endpoint(self) -> str:
        """The blob endpoint of the development account."""
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    def service(self):
        """A BlobServiceClient with the account key (what a test uses to set things up)."""
        from azure.storage.blob import BlobServiceClient
        return BlobServiceClient(self.endpoint, credential={"account_name": ACCOUNT,
                                                             "account_key": ACCOUNT_KEY})

    def sas_url(self, container: str, blob: str, *, write: bool = True,
                expiry: dt.datetime | None = None) -> str:
        """A SAS URL of a blob (read+write, or read-only), signed with the account key."""
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas
        expiry = expiry or dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
        token = generate_blob_sas(ACCOUNT, container, blob, account_key=ACCOUNT_KEY,
                                  permission=BlobSasPermissions(read=True, write=write),
                                  expiry=expiry)
        return f"{self.endpoint}/{container}/{blob}?{token}"

    def upload_page_blob(self, container: str, blob: str, image: Path, *,
                         size: int | None = None) -> None:
        """Create page blob `blob` holding the file `image` (sparse: all-zero 4 MiB runs are left
        unwritten, as Azure does); `size` pads it (a multiple of 512)."""
        svc = self.service()
        cont = svc.get_container_client(container)
        if not cont.exists():
            cont.create_container()
        client = cont.get_blob_client(blob)
        length = image.stat().st_size
        client.create_page_blob(size or length)
        chunk = 4 * 1024 * 1024
        with image.open("rb") as handle:
            for offset in range(0, length, chunk):
                data = handle.read(chunk)
                if data.count(0) == len(data):
                    continue
                data += bytes(-len(data) % 512)
                client.upload_page(data, offset=offset, length=len(data))

    def download(self, container: str, blob: str, offset: int = 0, length: int | None = None
                 ) -> bytes:
        """Bytes of a blob read with the account key (independent of bcdtool)."""
        client = self.service().get_blob_client(container, blob)
        return client.download_blob(offset=offset, length=length).readall()

    def stop(self) -> None:
        """Stop Azurite and wait for it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


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
