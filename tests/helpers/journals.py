"""Journals put in a given state the way bcdtool itself leaves them: edited, then signed again
with the state folder's key (as a write interrupted at that point would have signed them)."""

from __future__ import annotations

import json
from pathlib import Path

from bcdtool.write import signing


def rewrite_signed(journal: Path, doc: dict, key_folder: Path) -> None:
    """Write `doc` to `journal` signed with the key in `key_folder` (`<state>/bcdtool`)."""
    doc = dict(doc)
    doc[signing.FIELD] = signing.sign(doc, key_folder)
    journal.write_text(json.dumps(doc))
