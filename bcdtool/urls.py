"""Disk URLs: which TARGET strings are remote, and the one way such a string is shown or stored.

A URL may carry a secret in its query (an Azure SAS `sig=`, an S3 presigned `X-Amz-Signature=`, a
GCS signed URL) or in its user-info part.  Everything bcdtool prints, logs, journals or puts in
an error goes through `redact` (or `scrub` for free text), which keeps scheme, host, port, path
and the fields naming a blob's snapshot or version: enough to recognise the disk, nothing to
open it with.
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlsplit, urlunsplit

#: Schemes bcdtool opens as remote disks: plain HTTP(S) range reads, and Azure blobs through
#: the Azure credential chain (az://ACCOUNT/CONTAINER/BLOB).
SCHEMES = ("http", "https", "az")
_URL = re.compile(r"(?i)^(?:https?|az)://")
_URL_IN_TEXT = re.compile(r"(?i)\b(?:https?|az)://[^\s'\"<>()]+")


def is_url(spec: object) -> bool:
    """True when `spec` names a remote disk (http://, https:// or az://) rather than a path."""
    return isinstance(spec, str) and _URL.match(spec) is not None


#: Query fields that say which blob a URL names and open nothing: a snapshot or a version of
#: a blob is another disk than the blob itself, so they stay in the shown name.
_SHOWN_FIELDS = frozenset({"snapshot", "versionid"})


def redact(spec: object) -> str:
    """`spec` as it may be shown or stored: a URL without its fragment, user-info and query
    (the places secrets live), except the query fields naming a snapshot or version of a blob
    (`snapshot=`, `versionid=`, as given); any other value as `str(spec)`, unchanged."""
    text = str(spec)
    if not is_url(text):
        return text
    try:
        parts = urlsplit(text)
    except ValueError:          # e.g. an unbalanced "[" in the host: show the scheme only
        return text.split("://", 1)[0].lower() + "://?"
    host = parts.netloc.rpartition("@")[2]
    shown = "&".join(field for field in parts.query.split("&")
                     if field.partition("=")[0].lower() in _SHOWN_FIELDS
                     and field.partition("=")[2])
    return urlunsplit((parts.scheme.lower(), host, parts.path, shown, ""))


#: Full URLs this process opened or was given (`bcdtool undo --target URL`): `scrub` replaces
#: them exactly (so "URL:partition 2" keeps its suffix) and `resolve` finds their secret.
_known: list[str] = []


def remember(url: str) -> None:
    """Record a full URL this process uses (see `_known`)."""
    if is_url(url) and url not in _known:
        _known.append(url)


def scrub(text: str) -> str:
    """`text` with every URL inside it redacted: the URLs this process knows exactly, then
    anything else that looks like a URL up to the next blank or quote (messages of libraries
    quote whole URLs), then the secrets of known URLs wherever they still appear (a server's
    error may echo the request line, or S3 its canonical request, without the scheme)."""
    text = _URL_IN_TEXT.sub(lambda m: redact(m.group(0)), _known_redacted(str(text)))
    return _without_secrets(text)


def conceal(text: str) -> str:
    """`text` (a command's output) with the URLs this process was given redacted and their
    secrets removed wherever they appear; other URLs are data (an element's value) and stay."""
    return _without_secrets(_known_redacted(str(text)))


def _known_redacted(text: str) -> str:
    for url in sorted(_known, key=len, reverse=True):
        text = text.replace(url, redact(url))
    return text


def _without_secrets(text: str) -> str:
    for secret in sorted({s for url in _known for s in _secrets(url)}, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text


#: Query values shorter than this are not secrets (sp=rw, sr=b, a version): scrubbing them
#: would garble ordinary words; signatures, credentials and tokens are far longer.
_SECRET_MIN = 12


#: Query fields that open nothing and that messages quote (an expiry, a version, a snapshot).
_PLAIN_FIELDS = frozenset({"se", "st", "sv", "sp", "sr", "spr", "snapshot", "versionid",
                           "x-amz-date", "x-amz-expires", "x-amz-algorithm",
                           "x-amz-signedheaders", "x-goog-date", "x-goog-expires",
                           "x-goog-algorithm", "x-goog-signedheaders"})


def _secrets(url: str) -> list[str]:
    """The parts of `url` that open it: its query (as sent and decoded), its long query values
    in every spelling, and its user-info password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    shown = urlsplit(redact(url)).query
    out = [parts.query, unquote(parts.query)] if parts.query and parts.query != shown else []
    for name, value in parse_qsl(parts.query):
        if len(value) >= _SECRET_MIN and name.lower() not in _PLAIN_FIELDS:
            out += [value, quote(value, safe=""), quote(value, safe="/")]
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo:
        out.append(userinfo)
        password = userinfo.partition(":")[2]
        if len(password) >= 4:
            out += [password, unquote(password)]
    return [s for s in out if s]


def query(spec: str) -> dict[str, str]:
    """The query parameters of URL `spec` (last value of each), for reading SAS fields."""
    try:
        return {k: v[-1] for k, v in parse_qs(urlsplit(spec).query).items()}
    except ValueError:
        return {}


def with_query(url: str, secret: str) -> str:
    """`url` (shown form, no query) with the query string `secret` (a SAS token, with or without
    its leading "?") appended: how a manifest's `sas_env` or `undo --target` supply the secret."""
    base = redact(url)
    secret = secret.strip().lstrip("?")
    if not secret:
        return base
    return f"{base}{'&' if urlsplit(base).query else '?'}{secret}"


def stored(spec: str | os.PathLike) -> str:
    """How a target is recorded (journals, audit log, pending markers): a redacted URL, or an
    absolute path (undo may run from another working folder)."""
    return redact(spec) if is_url(spec) else os.path.abspath(spec)


def resolve(shown: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """The full URL among `secrets` and the remembered URLs whose redacted form is `shown`, so a
    journal that stores only `shown` can be replayed; `shown` itself when none matches (an
    az:// name or a public URL needs no secret)."""
    for candidate in [*secrets, *_known]:
        if is_url(candidate) and redact(candidate) == shown:
            return candidate
    return shown
