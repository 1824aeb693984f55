"""Every bcdedit command line of Microsoft's documentation (tests/cli/bcdedit_documented.py), run
as pasted on copies of real stores: each written element read back with python-registry and
compared byte for byte with what Windows' bcdedit writes; each refusal one line, its own exit
code, the store untouched."""

from __future__ import annotations

import io
import re
import shutil

import pytest
from Registry import Registry

from tests.cli.bcdedit_documented import PAGES, Page, line_count
from tests.helpers.common import run_cli

GUID = re.compile(r"\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}", re.I)
PLACEHOLDERS = re.compile(r"\{(GUID1|CLSID|guid|ID)\}")
BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
ALIASES = {"{bootmgr}": BOOTMGR, "{fwbootmgr}": "{a5a30fa2-3d06-4e9f-b5f4-a01df9d1fcba}",
           "{memdiag}": "{b2721d73-1db4-4c62-bf78-c548a880142d}",
           "{ntldr}": "{466f5a88-0af2-4f76-9038-095b170dc21c}",
           "{badmemory}": "{5189b25c-5558-4bf2-bca4-289b11bd29e2}",
           "{dbgsettings}": "{4636856e-540f-4170-a130-a84776f4c654}",
           "{emssettings}": "{0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9}",
           "{globalsettings}": "{7ea2e1ac-2e61-4728-aaa3-896d9d0a9f0e}",
           "{hypervisorsettings}": "{7ff607e0-4395-11db-b0de-0800200c9a66}",
           "{ramdiskoptions}": "{ae5534e0-a924-466c-b836-758539a3ee3a}"}
REG_SZ, REG_BINARY, REG_MULTI_SZ = 1, 3, 7


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)       # a file a refusal failed to refuse lands here


def cmd_split(line: str) -> list[str]:
    """Arguments as cmd.exe hands a command line to a program (CommandLineToArgvW): spaces
    separate, double quotes group and are removed, backslashes are literal except before a
    quote; the program name (`bcdedit`, `bcdedit.exe`, any case) is dropped."""
    args, word, quoted, started, i = [], [], False, False, 0
    while i < len(line):
        char = line[i]
        if char == "\\":
            run = len(line[i:]) - len(line[i:].lstrip("\\"))
            if i + run < len(line) and line[i + run] == '"':
                word.append("\\" * (run // 2))
                if run % 2:
                    word.append('"')
                    i += run + 1
                else:
                    i += run
                started = True
                continue
            word.append("\\" * run)
            i += run
            started = True
            continue
        if char == '"':
            quoted, started = not quoted, True
        elif char in " \t" and not quoted:
            if started:
                args.append("".join(word))
            word, started = [], False
        else:
            word.append(char)
            started = True
        i += 1
    if started:
        args.append("".join(word))
    if args and args[0].lower() in ("bcdedit", "bcdedit.exe"):
        args = args[1:]
    return args


def test_cmd_split():
    assert cmd_split('bcdedit /copy {current} /d "DebugEntry"') == \
        ["/copy", "{current}", "/d", "DebugEntry"]
    assert cmd_split('Bcdedit.exe /set {x} path "\\EFI\\a b.efi"') == \
        ["/set", "{x}", "path", "\\EFI\\a b.efi"]
    assert cmd_split('bcdedit /create /d "" /device') == ["/create", "/d", "", "/device"]


def _elements(path) -> dict[tuple[str, int], tuple[int, bytes]]:
    reg = Registry.Registry(io.BytesIO(path.read_bytes()))
    found = {}
    for obj in reg.open("Objects").subkeys():
        for elem in obj.subkey("Elements").subkeys():
            value = elem.value("Element")
            found[(obj.name().lower(), int(elem.name(), 16))] = (value.value_type(),
                                                                 value.raw_data())
    return found


def _objects(path) -> dict[str, int]:
    reg = Registry.Registry(io.BytesIO(path.read_bytes()))
    return {o.name().lower(): o.subkey("Description").value("Type").value()
            for o in reg.open("Objects").subkeys()}


def _value_type(code: int) -> int:
    fmt = code >> 24 & 0xF
    return REG_SZ if fmt in (2, 3) else REG_MULTI_SZ if fmt == 4 else REG_BINARY


class _Run:
    """One page's procedure on one store copy."""

    def __init__(self, page: Page, corpus, tmp_path, capsys):
        self.page, self.capsys, self.new = page, capsys, None
        self.store = tmp_path / "BCD"
        if page.store == "new":
            assert run_cli(capsys, "bcdedit", "/createstore", str(self.store))[0] == 0
            self.default = None
        else:
            shutil.copyfile(corpus / "bcd" / page.store, self.store)
            reg = Registry.Registry(str(self.store))
            raw = reg.open(f"Objects\\{BOOTMGR}\\Elements\\23000003").value("Element").raw_data()
            self.default = raw.decode("utf-16-le").rstrip("\0").lower()

    def ident(self, name: str) -> str:
        if name == "{default}":
            return self.default
        if name == "{new}":
            return self.new
        return ALIASES.get(name, name).lower()

    def run(self, line: str, checks: list[tuple]) -> list[str]:
        """Run one line; the list of what did not hold (empty: the line passed)."""
        words = [PLACEHOLDERS.sub(lambda _m: self.new or "{missing}", w)
                 for w in cmd_split(line)]
        before = self.store.read_bytes()
        code, out, err = run_cli(self.capsys, "bcdedit", "--store", str(self.store), *words)
        problems = []
        if "Traceback" in err or code == 1:
            return [f"internal error (exit {code}): {err.strip()[-300:]}"]
        expected_exit = next((c for c in checks if c[0] == "exit"), None)
        if expected_exit is None and code != 0:
            return [f"exit {code}: {err.strip()}"]
        if expected_exit is not None:
            _, want, text = expected_exit
            message = [ln for ln in err.splitlines() if not ln.startswith("bcdtool: note:")]
            if code != want:
                problems.append(f"exit {code}, wanted {want}: {err.strip()}")
            if text.lower() not in err.lower():
                problems.append(f"message lacks {text!r}: {err.strip()}")
            if len(message) > 1:
                problems.append(f"more than one error line: {err!r}")
            if self.store.read_bytes() != before:
                problems.append("a refused line changed the store")
            return problems
        printed = GUID.findall(out) if ("created" in out or "copied" in out) else []
        if printed:
            self.new = printed[-1].lower()
        elements, objects = _elements(self.store), _objects(self.store)
        for check in checks:
            problems.extend(self._check(check, out, elements, objects))
        return problems

    def _check(self, check, out, elements, objects) -> list[str]:
        kind = check[0]
        if kind == "out":
            return [] if check[1] in out else [f"output lacks {check[1]!r}: {out[:400]!r}"]
        if kind == "obj":
            guid = self.ident(check[1])
            have = objects.get(guid)
            return [] if have == check[2] else [f"object {check[1]}: type {have}, wanted "
                                                f"{check[2]}"]
        guid, code = self.ident(check[1]), check[2]
        found = elements.get((guid, code))
        if kind == "gone":
            return [] if found is None else [f"{check[1]} {code:08x} still there"]
        if found is None:
            return [f"{check[1]} {code:08x} missing"]
        vtype, raw = found
        if vtype != _value_type(code):
            return [f"{check[1]} {code:08x}: registry type {vtype}"]
        if kind == "set":
            want = check[3]
            for alias in ("{new}",):      # object values naming the new entry
                if self.new:
                    want = want.replace(alias.encode("utf-16-le"), self.new.encode("utf-16-le"))
            if self.default:
                want = want.replace("{default}".encode("utf-16-le"),
                                    self.default.encode("utf-16-le"))
            return [] if raw == want else [f"{check[1]} {code:08x} = {raw.hex()}, wanted "
                                           f"{want.hex()}"]
        parts, at = check[3], check[4]
        missing = [p.hex() for p in parts if p not in raw]
        if missing:
            return [f"{check[1]} {code:08x} = {raw.hex()} lacks {missing}"]
        if at is not None and not raw.startswith(parts[0]):
            return [f"{check[1]} {code:08x} does not start with {parts[0].hex()}"]
        return []


@pytest.mark.parametrize("page", PAGES, ids=[p.url.rstrip("/").rsplit("/", 1)[-1][:60] +
                                             f"-{p.store[:12]}" for p in PAGES])
def test_documented_lines(page, corpus, tmp_path, capsys):
    """Each line of the page does what Windows' bcdedit does, or refuses in one line."""
    run = _Run(page, corpus, tmp_path, capsys)
    failures = []
    for line, checks in page.steps:
        problems = run.run(line, checks)
        if problems:
            failures.append(f"{line}\n    " + "\n    ".join(problems))
    assert not failures, f"{len(failures)} of {len(page.steps)} lines of {page.url}:\n" + \
        "\n".join(failures)


def test_the_table_is_the_documentation():
    """The table holds every collected line (guards against a page silently dropped)."""
    assert line_count() >= 185
