"""Fuzz the parsers of untrusted input added in session 4: U-Boot script images and environment
files (Armbian's armbianEnv.txt), IBM Z's zipl.conf, kernelstub's JSON configuration, bcdedit
argument lines as PowerShell and cmd pass them, and the HTTP answer headers a disk URL's server
sends (Content-Range, Retry-After, ETag/Last-Modified, Location).

Guest seeds are the fixture layouts of those systems (fixtures/linux_layouts.py); one file of a
layout is mutated, the guest is read, checked and a fix is planned (nothing is written).  The
header seeds are real answers of a local server, mutated and sent by it.  Only BcdToolError
may escape; Hypothesis runs derandomized in the normal tier (`fuzz_support.FUZZ`).
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcdtool.bcd import bcdedit
from bcdtool.bcd.store import BcdStore
from bcdtool.blockdev import http
from bcdtool.errors import BcdToolError
from bcdtool.linux import kernelstub, uboot
from bcdtool.linux.fix import plan_fix
from bcdtool.linux.paths import open_directory
from bcdtool.linux.rules import evaluate
from bcdtool.linux.sources import read_guest
from bcdtool.regf.hive import Hive
from bcdtool.urls import redact, scrub
from fixtures import linux_layouts as L
from fixtures.linux_guests import write
from tests.cloud.cloud_helpers import ScriptedServer
from tests.forensic.forensic_helpers import new_store
from tests.fuzz.fuzz_support import FUZZ, Budget, mutated, mutated_text, run_hostile

#: The layouts whose parsers are new: U-Boot (script image + env file), kernelstub, zipl.
LAYOUTS = {"armbian": L.armbian, "uboot_script_only": L.uboot_script_only,
           "debian_uboot": L.debian_uboot, "popos": L.popos, "rhel9_s390x": L.rhel9_s390x,
           "rhel9_ppc64le": L.rhel9_ppc64le}
#: Syntax to splice into the text seeds.
FRAGMENTS = ["setenv bootargs ", "${", "}", "$", "\"", "'", "\\", ";", "&&", "||", "if ", "then",
             "else", "fi", "for x in a b; do", "done", "env import -t ${scriptaddr} ${filesize}",
             "load mmc 0:1 ${scriptaddr} ${prefix}armbianEnv.txt", "run ", "console=",
             "console=ttyS2,1500000", "extraargs=", "=", "#", "\n", "\r\n", "\0", "\xff",
             "[defaultboot]", "default=", "parameters=\"", "target=/boot", "image=",
             '{"user": {"kernel_options": [', "]", "[" * 64, "{" * 64, "[" * 5000,
             '{"user":' * 3000, '"\\ud800"', "1e99999",
             '"kernel_options": "x"', "\u00e9", "\u202e"]
#: bcdedit words as shells pass them: PowerShell backticks, quotes twice, cmd's carets.
WORDS = ["bcdedit", "bcdedit.exe", "/set", "/enum", "/store", "BCD", "{default}", "`{default`}",
         "'{default}'", '"{default}"', "{current}", "{bootmgr}", "default", "/v", "-set",
         "/deletevalue", "/create", "/d", "x", "/application", "osloader", "/copy", "/timeout",
         "3", "/displayorder", "/addlast", "/default", "/bootsequence", "/ems", "on",
         "/emssettings", "EMSPORT:1", "/dbgsettings", "NET", "HOSTIP:1.2.3.4", "PORT:50000",
         "KEY:a.b.c.d", "testsigning", "yes", "nx", "AlwaysOff", "loadoptions", "^", "`", "'",
         '"', "{", "}", "{11111111-2222-3333-4444-555555555555}", "/?", "/help", "\0", "\u00e9",
         "custom:16000049", "partition=C:", "locate", "vhd=[C:]\\x.vhdx", "/import", "/export"]
#: Header values to mix into a real answer.
HEADER_VALUES = ["bytes 0-65535/3145728", "bytes */3145728", "bytes 0-1/*", "bytes -1-2/3",
                 "bytes 0-65535/99999999999999999999999999", "bytes 0-0/0", "9" * 300, "",
                 "Wed, 21 Oct 2015 07:28:00 GMT", "Mon, 99 Foo 9999 99:99:99 GMT", "120", "-1",
                 "1e9", "99999999999999999999", '"etag"', 'W/"weak"', "http://[::1/x",
                 "https://user:pass@elsewhere.invalid/x?sig=SECRETSIG123456", "file:///etc/passwd",
                 "//other.invalid/disk", "/disk.img", "\u00e9", "gzip", "identity, gzip"]

_BUDGETS: dict[str, Budget] = {}


def budget(name: str) -> Budget:
    return _BUDGETS.setdefault(name, Budget())


@functools.cache
def layout(name: str) -> tuple[dict, dict]:
    return LAYOUTS[name]()


def check_layout(name: str, path: str, data: bytes) -> None:
    """Write layout `name` with `path` replaced by `data`, read, check and plan a fix."""
    files, links = layout(name)
    files = dict(files)
    files[path] = data
    with tempfile.TemporaryDirectory(prefix="bcdtool-fuzz-") as tmp:
        root = write(files, links, Path(tmp) / "root")
        guest = read_guest(open_directory(str(root)))
        for device in ("ttyS0", "ttyS2", "hvc0"):
            evaluate(guest, device)
            for change in plan_fix(guest, device).changes:
                change.diff()


@FUZZ
@given(data=st.data())
def test_uboot_zipl_and_kernelstub_guests(data):
    name = data.draw(st.sampled_from(sorted(LAYOUTS)))
    files, _ = layout(name)
    wanted = [p for p in sorted(files) if p.startswith(("/boot/", "/etc/kernelstub/",
                                                       "/etc/zipl", "/etc/default/"))]
    path = data.draw(st.sampled_from(wanted))
    seed = files[path] if isinstance(files[path], bytes) else files[path].encode()
    blob = data.draw(mutated_text(seed, FRAGMENTS))
    run_hostile(budget("layouts"), "U-Boot/zipl/kernelstub guests", check_layout, name, path,
                blob)


def parse_uboot(script_image: bytes, env: str) -> None:
    script = uboot.script_of_image(script_image)
    files = {"/boot/armbianEnv.txt": env}
    uboot.parse_env(env)
    uboot.evaluate(script, "/boot", files.get, files.__contains__)
    uboot.serial_consoles_named(script)
    uboot.import_paths(script, "/boot")
    uboot.env_edit(script, "/boot", files.get, files.__contains__, "ttyS2", 1500000)


@FUZZ
@given(data=st.data())
def test_uboot_script_images_and_env_files(data):
    files, _ = layout("armbian")
    script = mutated_text(files["/boot/boot.cmd"].encode(), FRAGMENTS)
    image = data.draw(mutated([files["/boot/boot.scr"]], focus=128)).build() \
        if data.draw(st.booleans()) else L.script_image(
            data.draw(script).decode("utf-8", "replace"))
    env = data.draw(mutated_text(files["/boot/armbianEnv.txt"].encode(), FRAGMENTS))
    run_hostile(budget("uboot"), "U-Boot script image + env", parse_uboot, image,
                env.decode("utf-8", "replace"))


def parse_kernelstub(text: str) -> None:
    opts = kernelstub.kernel_options(text)
    if opts is not None:
        json.loads(kernelstub.with_options(text, opts, ["console=ttyS0,115200", "quiet"]))


@FUZZ
@given(data=st.data())
def test_kernelstub_json(data):
    files, _ = layout("popos")
    text = data.draw(mutated_text(files["/etc/kernelstub/configuration"].encode(), FRAGMENTS))
    run_hostile(budget("kernelstub"), "kernelstub JSON", parse_kernelstub,
                text.decode("utf-8", "replace"))


@functools.cache
def _store_image() -> bytes:
    return new_store()


def run_bcdedit(words: list[str]) -> None:
    cmd = bcdedit.parse_args(words)
    bcdedit.execute(cmd, BcdStore(Hive.from_bytes(_store_image())))


@FUZZ
@given(words=st.lists(st.sampled_from(WORDS) | st.text(max_size=12), max_size=8))
def test_bcdedit_argument_lines(words):
    run_hostile(budget("bcdedit"), "bcdedit argument lines", run_bcdedit, words)


def parse_headers(values: dict[str, str], url: str) -> None:
    http._retry_after(values.get("Retry-After", ""))
    http._version(values)
    http._origin(url)
    http._without_userinfo(url)
    redact(url)
    scrub(f"error at {url}: {values}")


@FUZZ
@given(values=st.dictionaries(st.sampled_from(["Retry-After", "ETag", "Last-Modified"]),
                              st.sampled_from(HEADER_VALUES) | st.text(max_size=40)),
       url=st.sampled_from(HEADER_VALUES) | st.text(max_size=60).map(lambda t: "https://" + t))
def test_header_and_url_helpers(values, url):
    run_hostile(budget("headers"), "HTTP header + URL helpers", parse_headers, values, url)


DATA = bytes(range(256)) * 4096 * 3


class _Answers:
    """What the live server sends next (one answer per input)."""

    status = 206
    headers: dict[str, str] = {}


def _answer(handler, server) -> None:
    headers = dict(_Answers.headers)
    if _Answers.status == 206 and "Content-Range" not in headers:
        return handler.send_range(DATA, headers=headers)
    handler.send_status(_Answers.status, headers)


@pytest.fixture(scope="module")
def server():
    with ScriptedServer(_answer) as srv:
        yield srv


def read_through_server(srv, status: int, headers: dict[str, str]) -> None:
    _Answers.status, _Answers.headers = status, headers
    device = None
    try:
        device = http.HttpDevice(srv.url(query="sig=SECRETSIG123456"))
        device.read_at(70000, 1000)
    finally:
        if device is not None:
            device.close()


@FUZZ
@given(status=st.sampled_from([206, 206, 200, 301, 302, 307, 308, 416, 429, 503, 412, 403]),
       headers=st.dictionaries(st.sampled_from(["Content-Range", "Retry-After", "ETag",
                                                "Last-Modified", "Location", "Content-Encoding",
                                                "Content-Length"]),
                               st.sampled_from(HEADER_VALUES), max_size=4))
def test_server_answers(server, monkeypatch_env, status, headers):
    result = run_hostile(budget("server"), "HTTP answers (live server)", read_through_server,
                         server, status, headers)
    if isinstance(result, BcdToolError):
        assert "SECRETSIG" not in str(result)


@pytest.fixture(scope="module")
def monkeypatch_env():
    """Short retries and waits: a hostile answer is retried at most once, quickly."""
    mp = pytest.MonkeyPatch()
    mp.setenv("BCDTOOL_HTTP_RETRIES", "1")
    mp.setenv("BCDTOOL_HTTP_TIMEOUT", "5")
    mp.setattr(http, "MAX_BACKOFF", 0.0)
    yield
    mp.undo()


# -- what fuzzing found, kept as ordinary tests ------------------------------------------------

@pytest.mark.parametrize("text", ["[" * 100_000, '{"user":' * 50_000,
                                  '{"user": {"kernel_options": ' + "[" * 5000 + "]}}"])
def test_kernelstub_json_nested_thousands_deep_is_not_a_configuration(text):
    """json.loads raised RecursionError (found by test_kernelstub_json)."""
    assert kernelstub.kernel_options(text) is None


@pytest.mark.parametrize("tail", ["||", "&&", "|| ", "&& ;"])
def test_a_uboot_script_ending_in_an_operator_is_read(tail):
    """`test -n "${x}" ||` at the end of a (truncated) boot.cmd raised IndexError (found by
    test_uboot_script_images_and_env_files)."""
    script = f'setenv bootargs "console=ttyS2,1500000"\ntest -n "${{distro_bootpart}}" {tail}\n'
    outcome = uboot.evaluate(script, "/boot", {}.get, {}.__contains__)
    assert outcome.bootargs == "console=ttyS2,1500000"
