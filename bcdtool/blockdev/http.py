"""Disk images read over HTTP(S) with range requests, through a small cache of aligned blocks.

Any server that answers `Range:` with 206 works: an Azure page blob or managed-disk export (SAS
URL), an S3 presigned or GCS signed URL, a plain web server.  Reads fetch whole aligned blocks
(`BLOCK`), a run of missing blocks in one request, and keep at most `MAX_BLOCKS` of them, so
opening a 127 GiB disk to check its boot store costs a few hundred KB and a handful of requests.

The URL's query (where signatures live) is used for requests only; the device's `name`, its
errors and everything shown are `bcdtool.urls.redact`ed.  Transient failures (5xx, 429,
connection resets, timeouts, short bodies) are retried `retries()` times with exponential
backoff (or the server's Retry-After, capped), but one read stops trying once two timeouts have
passed; one request (redirects, headers and body) has a total deadline of two timeouts plus
one per MiB, after which its connection is cut: a server dripping bytes, or headers without end,
fails at once instead of resetting the socket timeout with each byte; 401/403, an expired
signature, 404 and a server ignoring ranges get their own errors; a URL that does not parse is
an argument error.

Redirects are followed by hand (at most `MAX_REDIRECTS`, http(s) only, never from https down to
http), and a hop to another origin drops the Authorization header (a bearer token or the
user-info's basic credentials); the original query is never carried to the new URL.  Ranges are
asked for uncompressed and an encoded answer is refused (its offsets are not the disk's).  The
content's version (ETag, else Last-Modified, and its size) must stay the same from read to read:
a disk that changes under a reader is refused, not mixed.  TLS certificates are verified; a
private CA is given with BCDTOOL_CA_BUNDLE.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import email.utils
import http.client
import os
import re
import socket
import ssl
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import urllib3
import urllib3.connection
import urllib3.connectionpool

from bcdtool.blockdev.base import BlockDevice
from bcdtool.errors import (AccessDeniedError, BcdToolError, ExpiredCredentialError, ImageError,
                            InvalidArgumentError, NetworkError, NotFoundError, UnsupportedError)
from bcdtool.urls import is_url, query, redact, scrub
from bcdtool.wintext import datetime_from_iso

#: Cache granularity: every fetch covers whole aligned blocks of this size.
BLOCK = 64 * 1024
#: Blocks kept by the process (bounded LRU shared by all remote devices: 32 MiB).
MAX_BLOCKS = 512
#: Statuses worth trying again (the server or a proxy is busy or restarting).
TRANSIENT = {408, 429, 500, 502, 503, 504}
#: How much of an error response body we read to explain it.
ERROR_BODY = 4096
#: Longest wait between two tries, whatever the backoff or Retry-After says.
MAX_BACKOFF = 8.0
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$", re.ASCII)
#: Redirects followed for one request (a loop ends here); statuses that redirect.
MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}
#: Headers that carry a credential: never sent to an origin other than the URL's own.
_SECRET_HEADERS = ("Authorization", "Proxy-Authorization", "Cookie")
#: What a URL refused for its signature needs (the next step of every 401/403).
SAS_NEEDED = ("the URL needs a valid, unexpired signature with read permission (an Azure SAS "
              "with sp=r, or sp=rw to repair in place: az storage blob generate-sas --permissions "
              "rw; az disk grant-access; a new presigned or signed URL)")
#: Why a disk that changed under us is refused, and what to do.
CHANGED = ("the disk changed on the server while it was being read ({what}); something is "
           "writing it (a running VM, a copy): stop that or read a snapshot of it, then run the "
           "command again")


def timeout() -> float:
    """Seconds to wait for a connection or for the next bytes (BCDTOOL_HTTP_TIMEOUT, default 30)."""
    return _env_number("BCDTOOL_HTTP_TIMEOUT", 30.0, float)


def retries() -> int:
    """Further tries after a transient failure (BCDTOOL_HTTP_RETRIES, default 4)."""
    return _env_number("BCDTOOL_HTTP_RETRIES", 4, int)


def ca_bundle() -> dict:
    """urllib3's TLS options: the CA file named by BCDTOOL_CA_BUNDLE (a private or self-signed
    CA), else the system's trust store (SSL_CERT_FILE also works there)."""
    path = os.environ.get("BCDTOOL_CA_BUNDLE", "")
    if not path:
        return {}
    if not os.path.isfile(path):
        raise InvalidArgumentError(f"BCDTOOL_CA_BUNDLE={path!r} is not a file: name the PEM "
                                   "file holding the server's CA certificate")
    return {"ca_certs": path}


def _env_number(name: str, default, kind):
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        return default
    return value if value >= 0 else default


@dataclass
class Traffic:
    """What a remote device cost: requests sent and body bytes moved each way."""

    requests: int = 0
    bytes_down: int = 0
    bytes_up: int = 0


#: Blocks read from servers, shared by every remote device of the process and keyed by (URL as
#: shown, ETag, block): an ETag names one version of the content, so a second open of the same
#: unchanged disk (doctor reads the store, then SYSTEM; a write re-opens writable) reads nothing
#: twice, and a changed disk (a new ETag) never sees old blocks.  Bounded LRU (MAX_BLOCKS).
_SHARED: OrderedDict[tuple[str, str, int], bytes] = OrderedDict()


class CachedRemoteDevice(BlockDevice):
    """A remote disk read in aligned blocks through the bounded shared cache; subclasses `_fetch`
    and set `etag` (no ETag: the blocks are cached for this device only)."""

    def __init__(self, size: int, *, name: str, writable: bool = False, block: int = BLOCK) -> None:
        super().__init__(size, writable=writable, name=name)
        self.block = block
        self.traffic = getattr(self, "traffic", None) or Traffic()   # subclasses count their probe
        self.etag = getattr(self, "etag", "")
        self._private = object()        # the cache key of a device whose server sends no ETag
        #: False once this device wrote: what it reads afterwards stays out of the shared cache,
        #: so a verification's fresh open finds nothing of ours there.
        self._share = True

    def _fetch(self, offset: int, length: int) -> bytes:
        """Exactly `length` bytes at `offset`, from the server."""
        raise NotImplementedError

    def _key(self, index: int):
        return (self.name, self.etag, index) if self.etag else (self._private, "", index)

    def _read(self, offset: int, length: int) -> bytes:
        first, last = offset // self.block, (offset + length - 1) // self.block
        got: dict[int, bytes] = {}
        index = first
        while index <= last:
            cached = _SHARED.get(self._key(index))
            if cached is not None:
                _SHARED.move_to_end(self._key(index))
                got[index] = cached
                index += 1
                continue
            end = index      # one request for the whole run of missing blocks
            while end < last and self._key(end + 1) not in _SHARED:
                end += 1
            start = index * self.block
            data = self._fetch(start, min((end + 1) * self.block, self.size) - start)
            for i in range(index, end + 1):
                got[i] = data[(i - index) * self.block:(i - index + 1) * self.block]
                self._remember(i, got[i])
            index = end + 1
        joined = b"".join(got[i] for i in range(first, last + 1))
        skip = offset - first * self.block
        return joined[skip:skip + length]

    def _remember(self, index: int, data: bytes) -> None:
        if not self._share:
            return
        _SHARED[self._key(index)] = data
        _SHARED.move_to_end(self._key(index))
        while len(_SHARED) > MAX_BLOCKS:
            _SHARED.popitem(last=False)

    def close(self) -> None:
        if not self.etag:           # nobody else can ever use this device's private blocks
            for key in [k for k in _SHARED if k[0] is self._private]:
                del _SHARED[key]
        super().close()


class RangeReader:
    """Range requests to one URL (urllib3), with retries, timeouts and bcdtool's errors."""

    def __init__(self, url: str, *, headers: dict | None = None, traffic: Traffic) -> None:
        self.name = redact(url)
        self.url, auth = _without_userinfo(url)
        self.traffic = traffic
        #: Sent with every request (urllib3 replaces a pool's headers with a request's own, so
        #: they are merged here); identity: a range of a compressed body is not the disk's.
        self.headers = {"User-Agent": "bcdtool", "x-ms-version": "2021-08-06",
                        "Accept-Encoding": "identity", **auth, **(headers or {})}
        self._pool = urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(connect=timeout(), read=timeout()),
            **ca_bundle())
        self._pool.pool_classes_by_scheme = _WATCHED_POOLS    # connections a deadline can cut

    def get(self, offset: int, length: int, *, probe: bool = False, if_match: str = ""
            ) -> tuple[bytes, int, str]:
        """(body, total size, ETag) of one range request, with retries of transient failures."""
        headers = {"Range": f"bytes={offset}-{offset + length - 1}"}
        if if_match:
            headers["If-Match"] = if_match
        failure = ""
        # Busy servers answer fast and deserve every retry; one that keeps timing out would make
        # each read wait (retries + 1) timeouts: past two timeouts in all, stop trying.
        give_up = time.monotonic() + 2 * timeout()
        tries = 0
        wait = 0.0
        for attempt in range(retries() + 1):
            if attempt:
                if time.monotonic() + wait > give_up:
                    break
                time.sleep(min(MAX_BACKOFF, max(wait, 0.25 * 2 ** (attempt - 1))))
            tries += 1
            wait = 0.0
            allowed = timeout() * (2 + length // (1 << 20))
            with _Deadline(allowed) as deadline:
                try:
                    body, total, etag = self._attempt(headers, offset, length, probe)
                except _Transient as exc:
                    if deadline.expired:
                        raise self._too_slow(allowed, length, offset) from None
                    failure, wait = str(exc), exc.wait
                    continue
                except BcdToolError:
                    if deadline.expired:    # whatever the cut connection looked like
                        raise self._too_slow(allowed, length, offset) from None
                    raise
            self.traffic.bytes_down += len(body)
            return body, total, etag
        raise NetworkError(f"the server did not answer usably after {tries} tries "
                           f"({failure}); check the URL and the network, or raise "
                           "BCDTOOL_HTTP_TIMEOUT / BCDTOOL_HTTP_RETRIES", path=self.name,
                           offset=offset)

    def _attempt(self, headers: dict, offset: int, length: int, probe: bool
                 ) -> tuple[bytes, int, str]:
        """One try of `get`: _Transient for what another try may mend."""
        try:
            response = self._follow(headers)
        except urllib3.exceptions.LocationParseError as exc:
            # no try will parse it better: the URL itself is wrong
            raise InvalidArgumentError(f"not a usable URL ({exc})", path=self.name) from None
        except urllib3.exceptions.SSLError as exc:
            raise _tls_error(exc, self.name) from None
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            # HTTPException: headers over http.client's limits (100 lines of 64 KiB)
            raise _Transient(_describe(exc)) from None
        try:
            return self._answer(response, offset, length, probe)
        finally:
            response.release_conn()

    def _too_slow(self, allowed: float, length: int, offset: int) -> NetworkError:
        # Such a server is not busy but broken: trying again would only wait as long again.
        self._pool.clear()              # close the cut connection (back in the pool, or not)
        return NetworkError(f"the server took more than {allowed:g} s over one request of "
                            f"{length} bytes (bytes trickling in, or headers without end) and "
                            "the connection was cut; check the server, or raise "
                            "BCDTOOL_HTTP_TIMEOUT", path=self.name, offset=offset)

    def _follow(self, extra: dict):
        """The response to a GET of the URL, after at most MAX_REDIRECTS http(s) redirects; a
        hop to another origin goes without the credential headers."""
        url, headers = self.url, {**self.headers, **extra}
        for _ in range(MAX_REDIRECTS + 1):
            self.traffic.requests += 1
            response = self._pool.request("GET", url, headers=headers, preload_content=False,
                                          redirect=False, decode_content=False)
            if response.status not in _REDIRECTS:
                return response
            location = response.headers.get("Location", "")
            response.close()
            if not location:
                raise ImageError(f"the server redirected (HTTP {response.status}) without "
                                 "saying where; the server is broken: ask its owner, or give "
                                 "the disk's final URL", path=self.name)
            try:
                target = urljoin(url, location.strip())
                scheme = urlsplit(target).scheme.lower()
            except ValueError:       # an unbalanced "[" of an IPv6 host, a bad port
                raise ImageError(f"the server redirected (HTTP {response.status}) to a URL that "
                                 f"does not parse ({scrub(location)[:100]!r}); the server is "
                                 "broken: ask its owner, or give the disk's final URL",
                                 path=self.name) from None
            if scheme not in ("http", "https") or (scheme == "http" and
                                                   urlsplit(url).scheme.lower() == "https"):
                raise UnsupportedError(
                    f"the server redirected to {redact(target) if is_url(target) else scheme + ':'}"
                    "; bcdtool follows redirects to http(s) URLs only, and never from https "
                    "down to http: give the disk's final https URL", path=self.name)
            if _origin(target) != _origin(url):
                headers = {k: v for k, v in headers.items()
                           if k.lower() not in {h.lower() for h in _SECRET_HEADERS}}
            url = target
        raise NetworkError(f"the server redirected more than {MAX_REDIRECTS} times (a redirect "
                           "loop?); open the URL with curl -sIL to see where it leads, and give "
                           "the final URL", path=self.name)

    def _answer(self, response, offset: int, length: int, probe: bool) -> tuple[bytes, int, str]:
        status = response.status
        if status == 206:
            header = response.headers.get("Content-Range", "")
            match = _CONTENT_RANGE.match(header)
            if not match or int(match.group(1)) != offset or match.group(3) == "*":
                response.close()
                raise ImageError("the server answered a range request with a different range "
                                 f"({header[:100]!r}); the server is broken: download the disk "
                                 "(curl -o disk.img URL) and give the file", path=self.name)
            total = int(match.group(3))
            if total <= offset:
                # A range that starts at or past the end the same answer claims: a lie (and
                # a negative length would read the body to its end, however long).
                response.close()
                raise ImageError(f"the server's Content-Range ({header!r}) ends before the "
                                 "range it answers; the server is broken: download the disk "
                                 "(curl -o disk.img URL) and give the file", path=self.name)
            want = min(length, total - offset)
            if int(match.group(2)) != offset + want - 1:
                response.close()
                raise ImageError(f"the server answered bytes {offset}-{offset + want - 1} with "
                                 f"{header!r}; the server is broken: download the disk (curl -o "
                                 "disk.img URL) and give the file", path=self.name)
            encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                response.close()
                raise ImageError(f"the server compressed the range (Content-Encoding: "
                                 f"{encoding[:40]}), so its bytes are not the disk's; serve the "
                                 "image without compression, or download it (curl -o disk.img "
                                 "URL) and give the file", path=self.name)
            body = self._body(response, want)
            return body, total, _version(response.headers)
        if status == 416 and probe:
            response.close()
            raise ImageError("the remote disk is empty (0 bytes)", path=self.name)
        if status == 200:
            # Reading on would download the whole disk: stop at the headers.
            response.close()
            raise UnsupportedError(
                "the server ignores range requests (it answered 200 with the whole file, "
                f"Accept-Ranges: {response.headers.get('Accept-Ranges', 'absent')}); bcdtool reads "
                "only the bytes it needs and will not download a whole disk: download it first "
                "(curl -o disk.img URL) and give the file, or serve it from a server that "
                "supports ranges (Azure Blob Storage, S3, GCS, nginx, Apache)", path=self.name)
        if status in TRANSIENT:
            wait = _retry_after(response.headers.get("Retry-After", ""))
            response.close()
            # a wait past this read's deadline ends the tries at once (and says so)
            raise _Transient(f"HTTP {status}" + (f", Retry-After {wait:g} s" if wait else ""),
                             wait)
        text = _error_text(response)
        if status == 412:
            raise ImageError(CHANGED.format(what="it no longer matches the version first read"),
                             path=self.name, offset=offset)
        if status == 416:
            raise ImageError(f"the server says bytes {offset}-{offset + length - 1} lie past the "
                             "disk's end (HTTP 416): the disk is shorter than its own headers "
                             "say, or it changed; run the command again, or check the image "
                             "with qemu-img check after downloading it", path=self.name)
        if status in (401, 403):
            self._denied(status, text, response.headers.get("x-ms-error-code", ""))
        if status == 404:
            raise NotFoundError("no disk at this URL (HTTP 404): check the account, container "
                                "and blob (or bucket and key) names", path=self.name)
        detail = f": {text}" if text else ""
        raise ImageError(f"the server refused the read (HTTP {status}{detail})", path=self.name)

    def _body(self, response, want: int) -> bytes:
        # At most one byte more than asked for (a longer body is a lie); the request's deadline
        # (`_Deadline`) cuts a body dripping in.
        parts, got = [], 0
        try:
            while got <= want:
                chunk = response.read1(want + 1 - got)
                if not chunk:
                    break
                parts.append(chunk)
                got += len(chunk)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            response.close()
            raise _Transient(_describe(exc)) from None
        body = b"".join(parts)
        if len(body) != want:
            response.close()
            raise _Transient(f"the connection ended after {len(body)} of {want} bytes")
        return body

    def _denied(self, status: int, text: str, code: str) -> None:
        expiry = query(self.url).get("se", "")
        if expired(expiry) or "expired" in text.lower():
            raise ExpiredCredentialError(
                f"the URL's signature has expired{' (se=' + expiry + ')' if expiry else ''}: "
                "make a new one (az disk grant-access --duration-in-seconds 3600 ..., az storage "
                "blob generate-sas --expiry ..., or a new presigned URL)", path=self.name)
        why = code or text or f"HTTP {status}"
        raise AccessDeniedError(f"the server refused access (HTTP {status}: {why}): {SAS_NEEDED}",
                                path=self.name)

    def close(self) -> None:
        """Drop the pooled connections."""
        self._pool.clear()


class HttpDevice(CachedRemoteDevice):
    """A disk image at an http(s) URL, read-only, through range requests."""

    def __init__(self, url: str, *, block: int = BLOCK) -> None:
        self.url = url
        self.traffic = Traffic()
        self._reader = RangeReader(url, traffic=self.traffic)
        # The first block answers the size and version too: no separate HEAD request.
        head, total, self.etag = self._reader.get(0, block, probe=True)
        super().__init__(total, name=self._reader.name, block=block)
        for i in range(0, len(head) // block + (len(head) % block > 0)):
            self._remember(i, head[i * block:(i + 1) * block])

    def _fetch(self, offset: int, length: int) -> bytes:
        data, total, version = self._reader.get(offset, length)
        if total != self.size:
            what = f"its size went from {self.size} to {total} bytes"
        elif self.etag != version:
            what = f"its version went from {self.etag or 'none'} to {version or 'none'}"
        else:
            return data
        raise ImageError(CHANGED.format(what=what), path=self.name, offset=offset)

    def close(self) -> None:
        reader = getattr(self, "_reader", None)
        if reader is not None:
            reader.close()
        super().close()


class _Deadline:
    """One request's total deadline: the sockets it uses are shut down when `seconds` pass.

    urllib3's timeouts bound each wait for the next bytes, so a server sending a byte just
    before each timeout (headers or body) would hold a read for ever; a timer thread cuts the
    connection instead, and the blocked read ends at once.  The connections register their
    sockets with the deadline of the thread that uses them (`_WatchedHTTPConnection`)."""

    _current = threading.local()

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        _Deadline._current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        _Deadline._current.deadline = None

    @classmethod
    def watch(cls, sock: socket.socket | None) -> None:
        """Put `sock` under the current thread's deadline (if any)."""
        deadline = getattr(cls._current, "deadline", None)
        if deadline is None or sock is None:
            return
        with deadline._lock:
            deadline._sockets.append(sock)
            expired = deadline.expired
        if expired:
            _cut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _cut(sock)


def _cut(sock: socket.socket) -> None:
    """End every read and write on `sock` now (a TLS socket too: its TCP socket is shut)."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    """urllib3's connection, whose socket the current request's `_Deadline` can cut."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _Deadline.watch(sock)           # before a TLS handshake that may drip too
        return sock

    def request(self, *args, **kwargs) -> None:
        _Deadline.watch(self.sock)      # a kept-alive connection used again
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, urllib3.connection.HTTPSConnection):
    """The TLS variant of `_WatchedHTTPConnection`."""


class _WatchedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _Transient(Exception):
    """A failure worth another try (never leaves this module), after `wait` seconds if the
    server said so (Retry-After)."""

    def __init__(self, message: str, wait: float = 0.0) -> None:
        super().__init__(message)
        self.wait = wait


def _retry_after(value: str) -> float:
    """Seconds a Retry-After header asks for (a number or an HTTP date; 0 when unusable); the
    caller caps it at MAX_BACKOFF and within the read's deadline."""
    value = value.strip()[:64]
    if value.isascii() and value.isdigit():     # "²" is a digit to str.isdigit, not to int()
        return float(min(int(value), 3600))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return max(0.0, min(3600.0, (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds()))


def _version(headers) -> str:
    """The content's version as the server names it: its ETag, else its Last-Modified date."""
    etag = headers.get("ETag", "")
    if etag:
        return etag
    modified = headers.get("Last-Modified", "")
    return f"Last-Modified: {modified}" if modified else ""


def _origin(url: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "", "", None         # matches no other origin: credentials stay behind
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def _without_userinfo(url: str) -> tuple[str, dict]:
    """`url` without user-info, and the Basic Authorization header its user:password gave
    (urllib3 does not send them itself; the header goes to this URL's origin only)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, {}
    if "@" not in parts.netloc:
        return url, {}
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
    return urlunsplit(parts._replace(netloc=host)), {"Authorization": f"Basic {token}"}


def _tls_error(exc: BaseException, name: str) -> NetworkError:
    """A TLS failure: not transient (no retry), and the way to trust a private CA."""
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(reason, ssl.SSLCertVerificationError):
        detail = re.search(r"certificate verify failed: ([^(\]\n]{1,120})", text)
        why = detail.group(1).strip() if detail else "not trusted"
        return NetworkError(f"the server's TLS certificate is not trusted ({why}); if the server "
                            "is yours (a self-signed or private CA), give the CA's PEM file with "
                            "BCDTOOL_CA_BUNDLE=/path/to/ca.pem; bcdtool never reads a disk over "
                            "an unverified connection", path=name)
    return NetworkError(f"the TLS handshake failed ({scrub(text)[:200]}); check the URL's scheme "
                        "and port, the server's TLS setup, or BCDTOOL_CA_BUNDLE", path=name)


def _error_text(response) -> str:
    """A short reason from an error response: Azure/S3 XML <Code>, else the first line."""
    try:
        body = response.read(ERROR_BODY).decode("utf-8", "replace")
    except (urllib3.exceptions.HTTPError, OSError):
        body = ""
    finally:
        response.close()
    code = re.search(r"<Code>([^<]{1,100})</Code>", body)
    message = re.search(r"<Message>([^<\n]{1,200})", body)
    if code:
        return code.group(1) + (f" ({message.group(1).strip()})" if message else "")
    return body.strip().splitlines()[0][:200] if body.strip() else ""


def expired(se: str) -> bool:
    """True when an Azure SAS expiry (`se=`, ISO 8601) lies in the past."""
    when = datetime_from_iso(se)
    return when is not None and when < _dt.datetime.now(_dt.timezone.utc)


def _describe(exc: BaseException) -> str:
    """A one-line reason for a connection-level failure (urllib3 messages quote the URL, so the
    caller's error scrubs it)."""
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        # a subclass of ConnectTimeoutError, though it is mostly "connection refused"
        return f"cannot connect: {str(reason).rpartition(': ')[2]}"
    if isinstance(reason, urllib3.exceptions.TimeoutError) or "timed out" in str(reason).lower():
        return f"timed out after {timeout():g} s"
    return f"{type(reason).__name__}: {reason}"
