"""How a disk URL is shown: what names the disk stays (its snapshot or version included), what
opens it (signatures, tokens, passwords) never appears, whatever the spelling."""

from __future__ import annotations

import pytest

from bcdtool import urls

SIG = "sig=Zm9vYmFyYmF6cXV4cXV1eA%3D%3D"
SNAP = "2026-12-06T04:00:00.1234567Z"


@pytest.fixture(autouse=True)
def _forget():
    """Each test starts with no URL remembered."""
    saved = list(urls._known)
    urls._known.clear()
    yield
    urls._known[:] = saved


@pytest.mark.parametrize("url, shown", [
    (f"https://acct.blob.core.windows.net/vhds/os.vhd?snapshot={SNAP}&sv=2021-08-06&sp=r&{SIG}",
     f"https://acct.blob.core.windows.net/vhds/os.vhd?snapshot={SNAP}"),
    (f"https://acct.blob.core.windows.net/vhds/os.vhd?sp=r&{SIG}&versionId={SNAP}",
     f"https://acct.blob.core.windows.net/vhds/os.vhd?versionId={SNAP}"),
    (f"HTTPS://user:hunter2secret@acct.blob.core.windows.net/v/os.vhd?Snapshot={SNAP}#frag",
     f"https://acct.blob.core.windows.net/v/os.vhd?Snapshot={SNAP}"),
    (f"az://acct/vhds/os.vhd?snapshot={SNAP}", f"az://acct/vhds/os.vhd?snapshot={SNAP}"),
    (f"https://h/d.img?{SIG}&snapshot=", "https://h/d.img"),
    ("https://[::1]:8443/d.img?X-Amz-Signature=abcdef0123456789", "https://[::1]:8443/d.img"),
])
def test_the_shown_name_keeps_what_names_the_blob_and_nothing_that_opens_it(url, shown):
    assert urls.redact(url) == shown
    urls.remember(url)
    text = urls.conceal(f"opened {url} (partition 2); again: {url}")
    assert text == f"opened {shown} (partition 2); again: {shown}"
    assert "Zm9vYmFy" not in urls.scrub(url) and "hunter2" not in urls.scrub(url)
    assert urls.resolve(shown) == url           # the journal's name finds the secret again


def test_a_snapshot_url_given_its_sas_apart_is_the_same_url():
    shown = f"https://acct.blob.core.windows.net/vhds/os.vhd?snapshot={SNAP}"
    full = urls.with_query(shown, "?sv=2021-08-06&" + SIG)
    assert full == f"{shown}&sv=2021-08-06&{SIG}"
    assert urls.redact(full) == shown
    assert urls.with_query("https://h/d.img", SIG) == f"https://h/d.img?{SIG}"
