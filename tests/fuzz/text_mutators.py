"""Hostile JSON and text (seeded, deterministic): undo journals and pending markers, batch
manifests, and Linux guest configuration files.

JSON mutations keep the document mostly intact and change one thing a reader trusts: a value's
type, an absurd number (huge, negative, 5,000 digits, NaN, 1e400), a path that leads out, a NUL,
a key removed or duplicated, deep nesting, a huge string, or raw damage (cut, NUL bytes,
invalid UTF-8, a BOM).
"""

from __future__ import annotations

import json
import random

HOSTILE_VALUES = [None, True, False, -1, 0, 2 ** 63, 2 ** 64 + 5, -(2 ** 63) - 1, 1e308, -0.0,
                  "", "\x00", "../../../etc/passwd", "/etc/passwd", "a/../../b", "BCD\x00x",
                  "x" * 100_000, [], {}, [[[[[]]]]], {"a": {"b": {}}}, "\ud800", "é" * 10,
                  "\n", "C:\\Windows", "/dev/zero", "/proc/self/mem", ".", "..", 3.5, "1", "nan"]


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(doc, list):
        for n, value in enumerate(doc[:20]):
            yield from _paths(value, prefix + (n,))


def _set(doc, path, value):
    if not path:
        return value
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return doc


def _del(doc, path):
    node = doc
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return doc


def mutate_json(rng: random.Random, text: str) -> tuple[bytes, str]:
    """One hostile change to JSON `text`; returns raw bytes (some changes are not valid JSON)."""
    doc = json.loads(text)
    paths = list(_paths(doc))
    kind = rng.choice(["value", "value", "value", "delete", "dup", "deep", "digits", "raw-cut",
                       "raw-nul", "raw-utf8", "bom", "nan", "wrap"])
    path = rng.choice(paths[1:] or paths)
    if kind == "value":
        return json.dumps(_set(doc, path, rng.choice(HOSTILE_VALUES))).encode(
            "utf-8", "surrogatepass"), f"json value {path[-1:]}"
    if kind == "delete" and path:
        return json.dumps(_del(doc, path)).encode(), f"json delete {path[-1:]}"
    if kind == "dup":
        # a duplicate key: Python keeps the last one, other readers the first
        key = rng.choice([k for k in doc] or ["x"]) if isinstance(doc, dict) else "x"
        body = json.dumps(doc)
        extra = json.dumps({key: rng.choice(HOSTILE_VALUES)})[1:-1]
        return (body[:-1] + ", " + extra + "}").encode("utf-8", "surrogatepass"), "json dup key"
    if kind == "deep":
        depth = rng.choice((500, 5000, 200_000))
        return json.dumps(_set(doc, path, "DEEP")).replace(
            '"DEEP"', "[" * depth + "]" * depth).encode(), f"json deep {depth}"
    if kind == "digits":
        return json.dumps(_set(doc, path, "NUM")).replace(
            '"NUM"', "9" * rng.choice((20, 400, 5000, 100_000))).encode(), "json digits"
    if kind == "nan":
        return json.dumps(_set(doc, path, "NUM")).replace(
            '"NUM"', rng.choice(("NaN", "Infinity", "-Infinity", "1e400", "-1e400"))).encode(), \
            "json nan"
    raw = json.dumps(doc).encode()
    if kind == "raw-cut":
        return raw[:rng.randrange(len(raw))], "json cut"
    if kind == "raw-nul":
        pos = rng.randrange(len(raw))
        return raw[:pos] + b"\x00" * rng.choice((1, 100)) + raw[pos:], "json NUL"
    if kind == "raw-utf8":
        pos = rng.randrange(len(raw))
        return raw[:pos] + rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80")) + raw[pos:], \
            "json bad utf-8"
    if kind == "bom":
        return b"\xef\xbb\xbf" + raw, "json BOM"
    return json.dumps([doc]).encode(), "json wrapped"


def hostile_text(rng: random.Random, seed: bytes, *, many: int = 500_000) -> tuple[bytes, str]:
    """A configuration file made hostile: binary garbage, NULs, invalid UTF-8, huge lines, many
    lines (`many` of them), unbalanced quotes, CR line ends, control characters."""
    kind = rng.choice(["garbage", "nul", "utf8", "long-line", "many-lines", "quotes", "cr",
                       "control", "empty", "cut"])
    if kind == "garbage":
        return bytes(rng.randrange(256) for _ in range(rng.choice((16, 4096)))), kind
    if kind == "nul":
        pos = rng.randrange(len(seed) + 1)
        return seed[:pos] + b"\x00" * 64 + seed[pos:], kind
    if kind == "utf8":
        pos = rng.randrange(len(seed) + 1)
        return seed[:pos] + b"\xff\xfe\xc3(\xed\xa0\x80" + seed[pos:], kind
    if kind == "long-line":
        return seed + b'\nGRUB_CMDLINE_LINUX="' + b"console=ttyS0 " * 300_000 + b'"\n', kind
    if kind == "many-lines":
        return seed + b"x=1\n" * many, kind
    if kind == "quotes":
        return seed.replace(b'"', b"'\"", 3) + b'\nX="unterminated\n$(reboot)`id`\n', kind
    if kind == "cr":
        return seed.replace(b"\n", b"\r"), kind
    if kind == "control":
        return seed.replace(b"=", b"=\x1b[2J\x07", 2), kind
    if kind == "empty":
        return b"", kind
    return seed[:rng.randrange(len(seed) + 1)], kind
