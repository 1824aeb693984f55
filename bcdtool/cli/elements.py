"""`bcdtool elements`: the BCD element table (code, name, scope, format, values)."""

from __future__ import annotations

import click

from bcdtool.bcd import reference
from bcdtool.bcd.elements import ELEMENTS
from bcdtool.cli.options import json_option
from bcdtool.cli.output import data, emit


@click.command("elements")
@json_option(help="Print {\"schema\", \"elements\": [{code, name, symbolic, scope, format, "
                  "values}]}.")
@click.option("--markdown", is_flag=True, help="Print the reference as Markdown "
              "(docs/elements.md is this output).")
def elements(as_json: bool, markdown: bool) -> None:
    """List every BCD element bcdtool knows: code, scope, format, bcdedit and symbolic names,
    and the names of enumeration values."""
    if markdown:
        data(reference.markdown(), nl=False)
        return
    emit("elements", {"elements": [row.to_json() for row in ELEMENTS]}, as_json=as_json,
         lines=reference.text_lines())
