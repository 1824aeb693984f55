"""Corpus BCD stores read with python-registry (independent of our hive reader)."""

from __future__ import annotations

from pathlib import Path

from Registry import Registry

from tests.helpers.common import corpus_files


def corpus_stores() -> list[Path]:
    """Every primary BCD store of the corpus (not its logs)."""
    return [p for p in corpus_files("bcd", "*.bcd")]


def registry_elements(path: Path):
    """Yield (object guid, object type, element code, registry type, raw bytes) of a store."""
    reg = Registry.Registry(str(path))
    for obj in reg.open("Objects").subkeys():
        obj_type = obj.subkey("Description").value("Type").value()
        for elem in obj.subkey("Elements").subkeys():
            value = elem.value("Element")
            yield obj.name().lower(), obj_type, int(elem.name(), 16), value.value_type(), \
                value.raw_data()
