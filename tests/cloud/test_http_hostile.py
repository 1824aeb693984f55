"""Disk URLs served badly on purpose (a real local server per behaviour): redirects, lying or
compressed ranges, content that changes between reads, throttling, TLS, odd URL spellings, and
the secrets of presigned and signed URLs, which must appear nowhere."""

from __future__ import annotations

import base64
import gzip
import json
import socket
import threading
import time
from functools import partial

import pytest

from bcdtool.blockdev.http import MAX_REDIRECTS, HttpDevice, RangeReader, Traffic
from bcdtool.errors import ImageError, InvalidArgumentError, NetworkError, UnsupportedError
from tests.cloud.cloud_helpers import ScriptedServer, leaked, self_signed
from tests.helpers.common import run_process
from tests.ops.ops_helpers import build_windows_disk

bcdtool = partial(run_process, timeout=300)
DATA = bytes(range(256)) * 4096 * 3          # 3 MiB of known bytes
S3_QUERY = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAS3SECRETKEY%2F20261206%2F"
            "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261206T000000Z&X-Amz-Expires=3600&"
            "X-Amz-SignedHeaders=host&X-Amz-Signature=S3SECRETSIG0123456789abcdef")
GCS_QUERY = ("X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=gcs-sa%40proj.iam."
             "gserviceaccount.com%2F20261206%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date="
             "20261206T000000Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature="
             "GCSSECRETSIG0123456789abcdef")
BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
SECRETS = ("S3SECRETSIG", "AKIAS3SECRETKEY", "GCSSECRETSIG", "gcs-sa", "hunter2", "Bearer")


def serve(data: bytes = DATA, **headers):
    """A script answering every range of `data` correctly, with `headers` added."""
    return lambda h, srv: h.send_range(data, headers=headers)


def no_secret(*texts) -> bool:
    return not any(leaked(s, *texts) for s in SECRETS)


@pytest.fixture(scope="module")
def disk(tmp_path_factory) -> bytes:
    """A real Windows disk (GPT, ESP with a store, NTFS), as the bytes a server sends."""
    path = tmp_path_factory.mktemp("hostile") / "win.img"
    build_windows_disk("uefi", path)
    return path.read_bytes()


# -- redirects ---------------------------------------------------------------------------------

def test_a_redirect_to_another_host_carries_no_secret(tmp_path):
    with ScriptedServer(serve(), host="127.0.0.2") as other:
        def hop(h, srv):
            if h.path.startswith("/disk.img"):
                return h.send_status(307, {"Location": other.url("/moved.img")})
            return h.send_range(DATA)
        with ScriptedServer(hop) as first:
            url = first.url(query=S3_QUERY).replace("://", "://alice:hunter2@")
            reader = RangeReader(url, headers={"Authorization": "Bearer tok"}, traffic=Traffic())
            body, total, _ = reader.get(4096, 8192)
            reader.close()
    assert body == DATA[4096:4096 + 8192] and total == len(DATA)
    assert [p for _, p, _ in first.seen] == ["/disk.img?" + S3_QUERY]
    assert first.seen[0][2]["Authorization"] == "Bearer tok"      # our own origin: sent
    (address, path, headers), = other.seen
    assert address == "127.0.0.2" and path == "/moved.img"          # the query stayed behind
    assert "Authorization" not in headers
    assert no_secret(json.dumps(headers), path)


def test_same_origin_redirects_keep_the_user_info_credentials():
    def hop(h, srv):
        if h.path == "/a.img":
            return h.send_status(302, {"Location": "/disk.img"})
        return h.send_range(DATA)
    with ScriptedServer(hop) as srv:
        dev = HttpDevice(srv.url("/a.img").replace("://", "://alice:p%40ss%3Aword@"))
        assert dev.read_at(100, 10) == DATA[100:110]
        assert "alice" not in dev.name and "p%40ss" not in dev.name
        dev.close()
    token = base64.b64encode(b"alice:p@ss:word").decode()
    assert all(h["Authorization"] == f"Basic {token}" for _, _, h in srv.seen)


@pytest.mark.parametrize("location, error, text", [
    ("file:///etc/passwd", UnsupportedError, "file:"),
    ("ftp://127.0.0.1/disk.img", UnsupportedError, "ftp:"),
    ("gopher://127.0.0.1/x", UnsupportedError, "gopher:"),
    ("LOOP", NetworkError, "redirected more than"),
    ("", ImageError, "without saying where"),
    # make fuzz (session 5): an unbalanced IPv6 bracket or a bad port raised ValueError
    ("http://[::1/disk.img", ImageError, "does not parse"),
    ("https://user:hunter2@[::1/x?X-Amz-Signature=S3SECRETSIG0", ImageError, "does not parse"),
])
def test_redirect_loops_and_other_schemes_are_refused(location, error, text):
    def hop(h, srv):
        target = h.path if location == "LOOP" else location
        h.send_status(302, {"Location": target} if target else {})
    with ScriptedServer(hop) as srv:
        with pytest.raises(error, match=text) as caught:
            HttpDevice(srv.url(query=S3_QUERY))
    assert len(srv.seen) <= MAX_REDIRECTS + 1              # one try: not retried
    assert no_secret(str(caught.value))


def test_https_to_http_downgrade_is_refused(tmp_path):
    cert, key = self_signed(tmp_path)
    with ScriptedServer(serve()) as plain:
        with ScriptedServer(lambda h, s: h.send_status(302, {"Location": plain.url()}),
                            tls=(cert, key)) as secure:
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("BCDTOOL_CA_BUNDLE", str(cert))
                with pytest.raises(UnsupportedError, match="never from https"):
                    HttpDevice(secure.url(query=GCS_QUERY))
    assert plain.seen == []


def test_redirect_loop_through_the_cli_is_one_line(tmp_path, disk):
    with ScriptedServer(lambda h, s: h.send_status(301, {"Location": h.path})) as srv:
        proc = bcdtool("enum", srv.url(query=S3_QUERY), state=tmp_path)
    assert proc.returncode == 35 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "curl -sIL" in proc.stderr and no_secret(proc.stdout, proc.stderr)


# -- lying, compressed and changing answers ----------------------------------------------------

@pytest.mark.parametrize("content_range", ["bytes {start}-{short}/{total}",
                                           "bytes {start}-{long}/{total}"])
def test_a_content_range_that_ends_elsewhere_is_refused_without_retries(content_range):
    def lie(h, srv):
        start = int(h.headers["Range"].split("=")[1].split("-")[0])
        h.send_range(DATA, content_range=content_range.format(
            start=start, short=start + 10, long=start + 70000, total=len(DATA)))
    with ScriptedServer(lie) as srv:
        with pytest.raises(ImageError, match="the server is broken"):
            HttpDevice(srv.url())
    assert len(srv.seen) == 1


def test_a_range_without_content_length_reads_to_the_end_of_the_connection():
    with ScriptedServer(lambda h, s: h.send_range(DATA, length=False)) as srv:
        dev = HttpDevice(srv.url())
        assert dev.read_at(len(DATA) - 5000, 5000) == DATA[-5000:]
        dev.close()


def test_a_gzip_encoded_range_is_refused_and_identity_was_asked_for():
    def squeezed(h, srv):
        rng = h.headers["Range"].split("=")[1].split("-")
        body = gzip.compress(DATA[int(rng[0]):int(rng[1]) + 1])
        h.send_response(206)
        h.send_header("Content-Range", f"bytes {rng[0]}-{rng[1]}/{len(DATA)}")
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    with ScriptedServer(squeezed) as srv:
        with pytest.raises(ImageError, match="Content-Encoding: gzip"):
            HttpDevice(srv.url())
    assert srv.seen[0][2]["Accept-Encoding"] == "identity"


@pytest.mark.parametrize("header", ["ETag", "Last-Modified", "size"])
def test_content_that_changes_between_reads_is_refused(header):
    def changing(h, srv):
        srv.hits += 1
        data = DATA if header != "size" or srv.hits == 1 else DATA + b"\0" * 512
        value = {"ETag": f'"v{srv.hits}"',
                 "Last-Modified": f"Sun, 06 Dec 2026 01:00:{srv.hits:02d} GMT"}.get(header)
        h.send_range(data, headers={header: value} if value else {})
    with ScriptedServer(changing, hits=0) as srv:
        dev = HttpDevice(srv.url())
        with pytest.raises(ImageError, match="changed on the server") as caught:
            dev.read_at(2 << 20, 4096)
        dev.close()
    assert "snapshot" in str(caught.value)         # the next step


def test_a_disk_changing_mid_command_is_one_line_with_a_next_step(tmp_path, disk):
    def changing(h, srv):
        srv.hits += 1
        h.send_range(disk, headers={"ETag": f'"v{min(srv.hits, 2)}"'})
    with ScriptedServer(changing, hits=0) as srv:
        proc = bcdtool("enum", srv.url(query=GCS_QUERY), state=tmp_path)
    assert proc.returncode == 18 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "changed on the server" in proc.stderr and no_secret(proc.stdout, proc.stderr)


def test_416_in_the_middle_of_a_disk_is_an_image_error():
    def short(h, srv):
        if h.headers["Range"].startswith("bytes=0-"):
            return h.send_range(DATA)
        h.send_status(416, {"Content-Range": f"bytes */{len(DATA)}"})
    with ScriptedServer(short) as srv:
        dev = HttpDevice(srv.url())
        with pytest.raises(ImageError, match="HTTP 416"):
            dev.read_at(2 << 20, 10)
        dev.close()


# -- throttling --------------------------------------------------------------------------------

def test_retry_after_is_waited_for_and_retries_stay_bounded(monkeypatch):
    def busy(h, srv):
        srv.times.append(time.monotonic())
        if len(srv.times) == 1:
            return h.send_status(429, {"Retry-After": "1"})
        h.send_range(DATA)
    with ScriptedServer(busy, times=[]) as srv:
        dev = HttpDevice(srv.url())
        dev.close()
    assert srv.times[1] - srv.times[0] >= 0.9          # waited at least what it was told
    monkeypatch.setenv("BCDTOOL_HTTP_RETRIES", "2")
    with ScriptedServer(lambda h, s: h.send_status(503, {"Retry-After": "999999"})) as srv:
        with pytest.raises(NetworkError, match="HTTP 503, Retry-After 3600 s"):
            HttpDevice(srv.url())
    assert len(srv.seen) == 1               # a wait past the read's deadline: no more tries
    with ScriptedServer(lambda h, s: h.send_status(503, {"Retry-After": "0"})) as srv:
        with pytest.raises(NetworkError, match="after 3 tries"):
            HttpDevice(srv.url())
    assert len(srv.seen) == 3                           # bounded by BCDTOOL_HTTP_RETRIES


@pytest.mark.parametrize("retry_after", ["\u00b2", "\u0663", "1\u00b9", "-5", "1e3", ""])
def test_a_retry_after_that_is_no_number_is_no_wait(monkeypatch, retry_after):
    """Found by make fuzz (session 5): "²" (a Latin-1 byte) passed str.isdigit and int() raised
    ValueError: a traceback for one header byte."""
    monkeypatch.setenv("BCDTOOL_HTTP_RETRIES", "1")
    with ScriptedServer(lambda h, s: h.send_status(503, {"Retry-After": retry_after})) as srv:
        with pytest.raises(NetworkError, match="after 2 tries"):
            HttpDevice(srv.url())


@pytest.mark.parametrize("content_range", ["bytes 0-65535/\u00b3", "bytes \u00b9-65535/9"])
def test_a_content_range_in_other_digits_is_refused(content_range):
    """Latin-1 superscripts are digits to str.isdigit; a header holds Latin-1 only."""
    with ScriptedServer(lambda h, s: h.send_range(DATA, content_range=content_range)) as srv:
        with pytest.raises(ImageError, match="different range"):
            HttpDevice(srv.url())


def test_an_endless_200_answer_is_dropped_at_its_headers(disk, tmp_path):
    def endless(h, srv):
        h.send_response(200)
        h.send_header("Content-Length", str(100 << 30))        # "100 GiB"
        h.end_headers()
        try:
            for _ in range(100 << 4):
                h.wfile.write(b"\0" * (64 << 10))
                srv.sent += 64 << 10
        except OSError:
            pass
    with ScriptedServer(endless, sent=0) as srv:
        proc = bcdtool("enum", srv.url(query=S3_QUERY), state=tmp_path)
    assert proc.returncode == 17 and "curl -o" in proc.stderr, proc.stderr
    assert srv.sent < 64 << 20 and no_secret(proc.stderr)


# -- TLS ---------------------------------------------------------------------------------------

def test_a_self_signed_certificate_is_refused_then_trusted_through_a_ca_bundle(tmp_path, disk):
    cert, key = self_signed(tmp_path)
    with ScriptedServer(serve(disk), tls=(cert, key)) as srv:
        url = srv.url(query=S3_QUERY)
        refused = bcdtool("enum", url, state=tmp_path)
        missing = bcdtool("enum", url, state=tmp_path,
                          env={"BCDTOOL_CA_BUNDLE": str(tmp_path / "nope.pem")})
        trusted = bcdtool("enum", url, "--json", state=tmp_path,
                          env={"BCDTOOL_CA_BUNDLE": str(cert)})
    assert refused.returncode == 35 and "BCDTOOL_CA_BUNDLE" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "not trusted" in refused.stderr
    assert missing.returncode == 24 and "not a file" in missing.stderr, missing.stderr
    assert trusted.returncode == 0, trusted.stderr
    assert json.loads(trusted.stdout)["objects"]
    assert no_secret(refused.stderr, missing.stderr, trusted.stdout, trusted.stderr)


# -- URL spellings and secrets -----------------------------------------------------------------

def test_ipv6_literals_and_percent_encoded_paths():
    with ScriptedServer(serve(), host="::1") as srv:
        url = srv.url("/my%20disk%231.img", query=GCS_QUERY)
        dev = HttpDevice(url)
        assert dev.read_at(5, 5) == DATA[5:10]
        assert dev.name == f"http://[::1]:{srv.port}/my%20disk%231.img"
        dev.close()
    assert srv.seen[0][1] == "/my%20disk%231.img?" + GCS_QUERY


@pytest.mark.parametrize("query", [S3_QUERY, GCS_QUERY])
def test_presigned_and_signed_urls_leave_no_secret_in_any_output(query, disk, tmp_path):
    def disk_or_404(h, srv):
        if h.path.startswith("/gone.img"):
            return h.send_status(404, {}, f"<Error><Code>NoSuchKey</Code><Message>{h.path}"
                                          "</Message></Error>".encode())
        h.send_range(disk)
    with ScriptedServer(disk_or_404) as srv:
        url = srv.url(query=query).replace("://", "://bob:hunter2@")
        runs = [bcdtool(*argv, state=tmp_path / "state") for argv in (
            ["enum", url, "--json"], ["doctor", url, "--json"], ["forensic", url, "--json"],
            ["serial-console", "status", url, "--json"],
            ["serial-console", "enable", url, "--json"],
            ["windows", "info", url, "--json"], ["hive", "ls", url, "Objects", "--json"],
            ["hive", "get", url, f"Objects\\{BOOTMGR}\\Description", "Type", "--json"],
            ["hive", "export", url], ["hive", "check", url, "--json"],
            ["forensic", url, "--timeline", "--csv"],
            ["bcdedit", "/store", url, "/enum", "all", "/v"])]
        manifest = tmp_path / "fleet.jsonl"
        manifest.write_text(json.dumps({"target": url}) + "\n")
        output = tmp_path / "out.jsonl"
        batch = bcdtool("batch", manifest, "--json", "--jobs", "1", "--output", output,
                        state=tmp_path / "state")
        missing = bcdtool("enum", srv.url("/gone.img", query=query), state=tmp_path / "state")
    # enum, doctor (EMS off: a problem), forensic, status (EMS off), enable (plain http: 17),
    # then the Windows and hive readers, the forensic timeline as CSV and bcdedit /enum
    assert [r.returncode for r in runs] == [0, 3, 0, 3, 17, 0, 0, 0, 0, 0, 0, 0], \
        [r.stderr for r in runs]
    assert batch.returncode == 3 and missing.returncode == 15, (batch.stderr, missing.stderr)
    assert json.loads(runs[2].stdout)["integrity"]["target"] == srv.url()
    state = "".join(p.read_text(errors="replace") for p in (tmp_path / "state").rglob("*")
                    if p.is_file())
    texts = [t for r in (*runs, batch, missing) for t in (r.stdout, r.stderr)]
    for text in (*texts, output.read_text(), state):
        assert no_secret(text), text


def test_secrets_are_redacted_from_errors_that_quote_the_url(tmp_path):
    with ScriptedServer(lambda h, s: h.send_status(
            403, {}, f"<Error><Code>SignatureDoesNotMatch</Code><Message>for {h.path}"
                     "</Message></Error>".encode())) as srv:
        proc = bcdtool("enum", srv.url(query=S3_QUERY), "--json", state=tmp_path)
    assert proc.returncode == 33 and no_secret(proc.stdout, proc.stderr), proc.stderr


def test_an_unusable_ca_bundle_is_an_argument_error(monkeypatch, tmp_path):
    monkeypatch.setenv("BCDTOOL_CA_BUNDLE", str(tmp_path))
    with pytest.raises(InvalidArgumentError, match="BCDTOOL_CA_BUNDLE"):
        RangeReader("https://127.0.0.1:1/x", traffic=Traffic())


def test_forensic_reports_on_a_signed_url_are_byte_identical(disk, tmp_path):
    """Two examiners given differently signed URLs of one disk compare their reports: the
    signature is not part of the report, so they match byte for byte."""
    local = tmp_path / "disk.img"
    local.write_bytes(disk)
    with ScriptedServer(serve(disk)) as srv:
        runs = [bcdtool("forensic", srv.url(query=query), "--json", "--timeline", "--deleted",
                        "--generated-at", "2026-12-06T00:00:00Z", state=tmp_path)
                for query in (S3_QUERY, GCS_QUERY)]
    mine = bcdtool("forensic", local, "--json", "--generated-at", "2026-12-06T00:00:00Z",
                   state=tmp_path)
    assert runs[0].returncode == runs[1].returncode == 0, runs[0].stderr
    assert runs[0].stdout == runs[1].stdout and no_secret(runs[0].stdout)
    remote, here = json.loads(runs[0].stdout), json.loads(mine.stdout)
    assert remote["findings"] == here["findings"]
    assert remote["integrity"]["files"] == here["integrity"]["files"]     # same sha256s


def test_an_expired_signature_names_its_expiry_but_not_its_signature(tmp_path):
    expired = ("sv=2022-11-02&sr=b&sp=r&se=2020-01-01T00%3A00%3A00Z&"
               "sig=AZURESECRETSIG0123456789abcdef%3D")
    with ScriptedServer(lambda h, s: h.send_status(
            403, {"x-ms-error-code": "AuthenticationFailed"},
            f"<Error><Code>AuthenticationFailed</Code><Message>Signed expiry time "
            f"{h.path} has passed</Message></Error>".encode())) as srv:
        proc = bcdtool("enum", srv.url(query=expired), state=tmp_path)
    assert proc.returncode == 34, proc.stderr
    assert "se=2020-01-01T00:00:00Z" in proc.stderr
    assert "AZURESECRETSIG" not in proc.stderr


# -- slowloris: one request has a total deadline -------------------------------------------------

def _trickle(h, srv, head: bytes, pause: float = 0.1) -> None:
    """Send `head` then one header byte every `pause` seconds, until the client hangs up or the
    test is over (srv.done)."""
    try:
        h.wfile.write(head)
        while not srv.done.is_set():
            h.wfile.write(b"X")
            h.wfile.flush()
            srv.done.wait(pause)
    except OSError:
        srv.cut.set()


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 206 Partial Content\r\nX-Slow: ",                       # headers without end
    b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-65535/3145728\r\n"
    b"Content-Length: 65536\r\n\r\n",                                 # a body dripping in
    b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nX-Slow: ",         # a redirect, slowly
])
def test_bytes_trickling_in_hit_the_request_deadline_not_each_socket_timeout(monkeypatch, head):
    monkeypatch.setenv("BCDTOOL_HTTP_TIMEOUT", "0.5")     # each byte comes well within it
    events = {"done": threading.Event(), "cut": threading.Event()}
    with ScriptedServer(lambda h, s: _trickle(h, s, head), **events) as srv:
        try:
            with pytest.raises(NetworkError, match="more than 1 s over one request") as caught:
                HttpDevice(srv.url(query=GCS_QUERY))
            assert srv.cut.wait(10)           # the client cut the connection itself
        finally:
            srv.done.set()
    assert len(srv.seen) == 1                 # a broken server is not asked again
    assert no_secret(str(caught.value))


@pytest.mark.parametrize("flood", [
    b"".join(b"X-Flood-%d: y\r\n" % n for n in range(500)) + b"\r\n",     # too many headers
    b"X-Huge: " + b"h" * 200_000 + b"\r\n\r\n",                           # one endless line
])
def test_header_floods_are_one_line_errors(monkeypatch, flood):
    monkeypatch.setenv("BCDTOOL_HTTP_RETRIES", "1")

    def flooding(h, srv):
        h.wfile.write(b"HTTP/1.1 206 Partial Content\r\n" + flood)
        h.close_connection = True
    with ScriptedServer(flooding) as srv:
        with pytest.raises(NetworkError, match="did not answer usably after 2 tries"):
            HttpDevice(srv.url())


def test_a_tls_handshake_dripping_in_is_cut(monkeypatch):
    """A 'TLS' server sending its handshake a byte at a time: the request ends (CPython bounds a
    whole handshake by the socket timeout; the request's deadline would cut it otherwise)."""
    monkeypatch.setenv("BCDTOOL_HTTP_TIMEOUT", "0.5")
    listener = socket.create_server(("127.0.0.1", 0))
    done, cut = threading.Event(), threading.Event()

    def serve_one():
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)                          # the ClientHello
            try:
                for byte in b"\x16\x03\x03\x40\x00" + b"\x02" * 0x4000:   # a record, slowly
                    if done.wait(0.1):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                cut.set()
    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    try:
        with pytest.raises(NetworkError, match="timed out|more than 1 s over one request"):
            HttpDevice(f"https://127.0.0.1:{listener.getsockname()[1]}/disk.img")
    finally:
        done.set()
        thread.join(10)
        listener.close()
    assert cut.is_set()
