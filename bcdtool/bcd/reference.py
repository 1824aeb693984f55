"""BCD layer: the element reference (docs/elements.md, `bcdtool elements`) rendered from the table.

The table in `bcdtool.bcd.elements` is the only source; this module only lays it out, so the
reference cannot drift from what the parser and encoder use.
"""

from __future__ import annotations

from bcdtool.bcd.elements import ELEMENTS, ElementDef

#: Scope headings in the order of bcd.md §6.
SCOPE_TITLES = {
    "library": "Library elements (class 1: every object)",
    "bootmgr": "Boot manager ({bootmgr}, {fwbootmgr})",
    "osloader": "Windows Boot Loader (and OS-loader inherit objects)",
    "resume": "Resume from Hibernate (and resume inherit objects)",
    "memdiag": "Windows Memory Tester",
    "device": "Device options objects (class 3)",
    "template": "Setup template (class 4; bcdedit shows them only with /v)",
    "ntldr": "Legacy OS loader",
    "startup": "Startup module",
}


def rows_by_scope() -> dict[str, list[ElementDef]]:
    """The table's rows grouped by scope (headings' order), each group sorted by code."""
    groups: dict[str, list[ElementDef]] = {scope: [] for scope in SCOPE_TITLES}
    for row in ELEMENTS:
        groups.setdefault(row.scope, []).append(row)
    return {scope: sorted(rows, key=lambda r: r.code) for scope, rows in groups.items() if rows}


def text_lines() -> list[str]:
    """One line per element: code, scope, format, bcdedit name, symbolic name, enum values."""
    lines = []
    for scope, rows in rows_by_scope().items():
        for row in rows:
            doc = row.to_json()
            values = ", ".join(f"{k}={v}" for k, v in row.values.items())
            lines.append(f"{doc['code']}  {scope:8}  {doc['format']:11}  {doc['name']:32}  "
                         f"{row.symbolic}" + (f"  ({values})" if values else ""))
    return lines


def markdown() -> str:
    """docs/elements.md: one table per scope, generated (do not edit the file by hand)."""
    out = ["# BCD elements", "",
           "Generated from the table in `bcdtool/bcd/elements.py` by `bcdtool elements "
           "--markdown`;",
           "a test keeps this file current. A class-2 code means different things for different",
           "application types, so each scope has its own table. Names in *italics* are unknown "
           "to",
           "bcdedit, which prints them as `custom:xxxxxxxx`.", ""]
    for scope, rows in rows_by_scope().items():
        out += [f"## {SCOPE_TITLES.get(scope, scope)}", "",
                "| code | name | format | symbolic name | values |",
                "|---|---|---|---|---|"]
        for row in rows:
            doc = row.to_json()
            name = f"`{row.name}`" if row.name else f"*{doc['name']}*"
            values = ", ".join(f"{k}={v}" for k, v in row.values.items())
            out.append(f"| `{doc['code']}` | {name} | {doc['format']} | {row.symbolic} "
                       f"| {values} |")
        out.append("")
    return "\n".join(out)
