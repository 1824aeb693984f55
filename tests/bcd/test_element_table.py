"""One element table: named codes come from it, no module hard-codes one, the reference is
generated from it (`bcdtool elements`, docs/elements.md)."""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize

import pytest

from bcdtool.bcd import reference
from bcdtool.bcd.elements import ELEMENTS, E, Format, element
from bcdtool.errors import ElementError

from tests.helpers.common import REPO, run_cli
TABLE = REPO / "bcdtool" / "bcd" / "elements.py"
_CODE_TEXT = re.compile(r"^(?:0x|custom:)?([1-5][1-8][0-9a-f]{6})$", re.IGNORECASE)


def _is_element_code(value: int) -> bool:
    # class nibble 1-5 and a real format nibble: object types (format nibble 0) do not match;
    # element ids are small (the largest known is 0x141), so a magic number such as U-Boot's
    # 0x27051956 with the right top nibbles by chance is not one
    return 0x10000000 <= value <= 0x5FFFFFFF and (value >> 24) & 0xF in \
        {int(f) for f in Format} and value & 0xFFFFFF < 0x1000


def element_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every element code in `source`: a number literal in any base (hex,
    decimal, octal, binary), an arithmetic expression of literals that computes one
    (`0x25000000 | 4`, `(2 << 28) | (5 << 24) | 4`), or a string spelling one."""
    found = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NUMBER and tok.string[:2].lower() == "0x":
            if _is_element_code(int(tok.string.replace("_", ""), 16)):
                found[tok.start[0]] = tok.string
        elif tok.type == tokenize.STRING:
            body = tok.string.strip("rRbBuUfF").strip("'\"")
            if _CODE_TEXT.match(body):
                found[tok.start[0]] = tok.string
    # Other spellings: a decimal number is an element code only with an element's small id
    # (a timestamp such as 946684800 has the right top nibbles by chance).
    for node in _outermost_constant_expressions(ast.parse(source)):
        value = node.value if isinstance(node, ast.Constant) else _fold(node)
        if isinstance(value, int) and not isinstance(value, bool) and _is_element_code(value):
            found.setdefault(node.lineno, ast.unparse(node))
    return sorted(found.items())


_ARITHMETIC = (ast.BinOp, ast.UnaryOp)


def _only_literals(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int)
    if isinstance(node, ast.BinOp):
        return _only_literals(node.left) and _only_literals(node.right)
    if isinstance(node, ast.UnaryOp):
        return _only_literals(node.operand)
    return False


def _outermost_constant_expressions(tree: ast.AST):
    """Integer literals and the largest arithmetic expressions made only of them."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Constant, *_ARITHMETIC)) and _only_literals(node):
            yield node
            continue
        todo.extend(ast.iter_child_nodes(node))


def _fold(node: ast.AST) -> int | None:
    try:
        value = eval(compile(ast.Expression(node), "<element>", "eval"), {"__builtins__": {}})
    except (ArithmeticError, ValueError, TypeError):
        return None
    return value if isinstance(value, int) and value.bit_length() < 64 else None


def test_scanner_finds_hard_coded_codes():
    sample = ("x = 0x260000b0\ny = 0X15000022\nz = 0x1600_0020\nw = 'custom:250000c2'\n"
              "ok = 0x10200003  # an object type\nn = 0x100000000\nt = 946684800\n"
              "magic = 0x27051956\n"
              "d = 620756996\na = 0x25000000 | 4\nb = (2 << 28) | (5 << 24) | 0x4\n"
              "o = 0o4500000004\nsmall = 1 << 20\n")
    assert [line for line, _ in element_literals(sample)] == [1, 2, 3, 4, 9, 10, 11, 12]


def test_no_element_code_outside_the_table():
    """Anywhere in bcdtool/ (the layers below `bcd` know nothing of BCD, so a code there is a
    layering mistake too); tests and fixtures may spell codes out: there they are independent
    oracles."""
    offenders = []
    for path in sorted((REPO / "bcdtool").rglob("*.py")):
        if path == TABLE:
            continue
        for line, text in element_literals(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(REPO)}:{line}: {text}")
    assert not offenders, ("element codes belong in bcdtool/bcd/elements.py (use E.NAME or "
                           "element(name, scope)):\n" + "\n".join(offenders))


@pytest.mark.parametrize("constant, code", [
    (E.DESCRIPTION, 0x12000004), (E.INHERIT, 0x14000006), (E.BOOTEMS, 0x16000020),
    (E.EMSPORT, 0x15000022), (E.EMSBAUDRATE, 0x15000023), (E.DEBUGTYPE, 0x15000011),
    (E.DEBUGSTART, 0x15000018), (E.NOUMEX, 0x16000017), (E.HOSTIP, 0x1500001a),
    (E.DISPLAYORDER, 0x24000001), (E.BOOTSEQUENCE, 0x24000002), (E.DEFAULT, 0x23000003),
    (E.TIMEOUT, 0x25000004), (E.TOOLSDISPLAYORDER, 0x24000010),
    (E.LOADER_RESUMEOBJECT, 0x23000003), (E.DEBUG, 0x260000a0), (E.EMS, 0x260000b0),
])
def test_named_codes(constant, code):
    assert constant == code


def test_element_lookup_is_per_scope():
    assert element("resumeobject", "bootmgr") == 0x23000006
    assert element("resumeobject", "osloader") == 0x23000003
    with pytest.raises(ElementError):
        element("ems")                    # an OS-loader element, not a library one
    with pytest.raises(ElementError):
        element("nosuchelement", "osloader")


def test_cli_lists_every_row_as_json(capsys):
    code, out, err = run_cli(capsys, "elements", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "bcdtool.elements/1"
    assert len(doc["elements"]) == len(ELEMENTS)
    ems = [r for r in doc["elements"] if r["code"] == "0x260000b0"]
    assert ems == [
        {
            "code": "0x260000b0",
            "name": "ems",
            "symbolic": "BcdOSLoaderBoolean_EmsEnabled",
            "scope": "osloader",
            "format": "boolean",
            "values": {},
        }
    ]
    nx = next(r for r in doc["elements"] if r["name"] == "nx")
    assert nx["values"]["AlwaysOn"] == 3


def test_cli_text_has_one_line_per_row(capsys):
    code, out, _ = run_cli(capsys, "elements")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == len(ELEMENTS)
    assert any(line.startswith("0x25000004  bootmgr") and " timeout " in line for line in lines)


def test_docs_elements_md_is_current(capsys):
    path = REPO / "docs" / "elements.md"
    assert path.read_text(encoding="utf-8") == reference.markdown(), (
        "docs/elements.md is stale: run `bcdtool elements --markdown > docs/elements.md`")
    assert run_cli(capsys, "elements", "--markdown")[1] == reference.markdown()
