"""No input reaches the user as exit 1 (an internal error): hostile batch manifests, hostile image
bytes, and the failures input can provoke (MemoryError, RecursionError, undecodable text)."""

from __future__ import annotations

import json
import random

import pytest

from tests.hostile.hostile_helpers import run_cli
from bcdtool.errors import (BcdToolError, FormatError, InvalidArgumentError, LimitError,
                            from_input_failure)
from bcdtool.ops.batch import parse_manifest

GOOD = json.dumps({"target": "disk.img", "ops": ["serial-console enable",
                                                 {"op": "bcdedit", "args": ["/enum"]}]})

HOSTILE_MANIFESTS = [
    b"disk\x00.img\n",                                        # NUL in a plain line
    b'{"target": "disk\\u0000.img"}\n',                       # NUL inside JSON
    b'{"target": "\\ud800"}\n',                               # lone surrogate
    b'{"target": "x", "ops": ' + b"[" * 100_000 + b"\n",      # nesting past the recursion limit
    b'{"target": "x", "ops": ' + b"[" * 5_000 + b"]" * 5_000 + b"}\n",
    b"[" * 200_000 + b"\n",                                   # plain line of brackets
    b'{"target": ' + b"{" * 100_000 + b"\n",
    b"\xff\xfe\xfd not utf-8\n",
    b'{"target": 5}\n',
    b'{"target": "x", "ops": [{"op": "bcdedit", "args": ["/set", "\\u0000"]}]}\n',
    b'{"target": "x", "ops": [{"op": {"op": "x"}}]}\n',
    b'{"target": "x", "ops": [{"op": "serial-console enable", "port": 1e400}]}\n',
    b'{"target": "x", "ops": [{"op": "serial-console enable", "baud": -1}]}\n',
    b'{"target": "x", "ops": [{"op": "bcdedit", "args": "\\"unterminated"}]}\n',
    b"\x1b[31mred\x1b[0m\n",
]


@pytest.mark.parametrize("manifest", HOSTILE_MANIFESTS, ids=range(len(HOSTILE_MANIFESTS)))
def test_hostile_manifest_is_one_clear_error(tmp_path, manifest):
    path = tmp_path / "manifest"
    path.write_bytes(manifest)
    done = run_cli("batch", "--json", path)
    assert done.returncode not in (1,), done.stderr
    if done.returncode != 3:                    # 3: the manifest ran, its target failed
        assert done.stderr.startswith("bcdtool: error:") and "Traceback" not in done.stderr
    else:
        result = json.loads(done.stdout.splitlines()[0])
        assert result["exit_code"] not in (0, 1), result


def test_mutated_manifests_raise_only_bcdtool_errors():
    """A seeded fuzz of manifest lines (bytes flipped, cut, duplicated, brackets and NULs
    injected) parsed in-process: only BcdToolError may escape."""
    rng = random.Random(11)
    seeds = [GOOD, "disk.img", '{"target": "a.img", "ops": [{"op": "crashdump enable"}]}']
    junk = ["\x00", "[", "{", "]", "}", '"', "\\", "\ud800", "\\u0000", "\n", "1e999", "null"]
    for _ in range(3000):
        text = rng.choice(seeds)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(text) + 1)
            roll = rng.random()
            if roll < 0.4:
                text = text[:pos] + rng.choice(junk) * rng.choice((1, 1, 2, 50, 3000)) + text[pos:]
            elif roll < 0.6:
                text = text[:pos]
            elif roll < 0.8 and text:
                text = text[:pos] + chr(rng.randrange(0, 0x3000)) + text[pos + 1:]
            else:
                text = text + "\n" + text
        try:
            parse_manifest(text, ["serial-console enable"])
        except BcdToolError as exc:
            assert str(exc)


@pytest.mark.parametrize("failure,error", [
    (MemoryError(), LimitError), (RecursionError("maximum recursion depth"), LimitError),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), FormatError),
    (ValueError("embedded null byte"), InvalidArgumentError),
])
def test_failures_input_can_cause_map_to_their_own_codes(failure, error):
    mapped = from_input_failure(failure)
    assert type(mapped) is error and mapped.exit_code not in (0, 1)


def test_a_bug_is_still_an_internal_error():
    assert from_input_failure(ZeroDivisionError()) is None
    assert from_input_failure(ValueError("something else")) is None


#: Random bytes and four format headers, then 4 mutated copies of each base disk.
MUTATED_PER_DISK = 4
IMAGE_INPUTS = 5 + 2 * MUTATED_PER_DISK


@pytest.fixture(scope="module")
def hostile_images(hostile_disks) -> list[bytes]:
    """Mutated real disks (GPT + FAT32, MBR + NTFS) and random bytes, the same on every run."""
    rng = random.Random(6)
    inputs = [bytes(rng.randrange(256) for _ in range(4096)), b"QFI\xfb" + bytes(508),
              b"KDMV" + b"\xff" * 508, b"conectix" + b"\xff" * 504, b"vhdxfile" + bytes(1 << 16)]
    for firmware in ("uefi", "bios"):
        base = bytearray(hostile_disks[firmware].path.read_bytes())
        start = hostile_disks[firmware].bcd_part.start
        for _ in range(MUTATED_PER_DISK):
            data = bytearray(base)
            for _ in range(64):     # the partition table and the volume's first metadata
                where = rng.choice((rng.randrange(0, 34 * 512),
                                    start + rng.randrange(0, 256 * 1024)))
                data[where] = rng.randrange(256)
            inputs.append(bytes(data))
    assert len(inputs) == IMAGE_INPUTS
    return inputs


@pytest.mark.parametrize("n", range(IMAGE_INPUTS))
def test_hostile_image_bytes_never_give_exit_one(tmp_path, hostile_images, n):
    """Each hostile image through the real CLI (one test each: no shared time window)."""
    path = tmp_path / f"input{n}.img"
    path.write_bytes(hostile_images[n])
    for command in (["enum", "--json", path], ["bcdedit", "/store", path, "/enum", "all"]):
        done = run_cli(*command)
        assert done.returncode != 1, (n, command, done.stderr)
        assert "Traceback" not in done.stderr
