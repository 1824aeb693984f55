"""The exception tree: distinct exit codes, all documented in README's table."""

from __future__ import annotations

import re
from pathlib import Path

from bcdtool.errors import BcdToolError, NotFoundError, all_error_classes

README = Path(__file__).resolve().parents[1] / "README.md"


def test_exit_codes_are_distinct_and_reserved_codes_unused():
    codes = [cls.exit_code for cls in all_error_classes()]
    assert len(codes) == len(set(codes))
    assert not {0, 1, 2, 3} & set(codes)


def test_every_error_class_is_documented_with_its_code():
    table = dict(re.findall(r"^\| (\d+) \|.*`(\w+Error)`", README.read_text(), re.M))
    documented = {name: int(code) for code, name in table.items()}
    for cls in all_error_classes():
        assert documented.get(cls.__name__) == cls.exit_code, cls.__name__


def test_error_message_carries_context():
    err = NotFoundError("no such key", path="Objects\\{x}", offset=0x20)
    assert str(err) == "no such key (Objects\\{x}, offset 0x20)"
    assert isinstance(err, KeyError) and isinstance(err, BcdToolError)
