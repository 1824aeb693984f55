"""BCD layer: bcdedit's value syntax — booleans, integers (decimal, 0x hex, enumeration names),
strings, identifiers, object and integer lists, devices, and NAME:value parameters.

Reference: ../shared/reference/bcd.md §9 ("Value parsing for /set").
"""

from __future__ import annotations

from bcdtool.bcd.device import PartitionResolver, parse_device_text
from bcdtool.bcd.elements import IPV4_INTEGERS, ElementDef, Format
from bcdtool.bcd.store import BcdStore
from bcdtool.errors import InvalidArgumentError

HELP_HINT = 'Run "bcdedit /?" for command line assistance.'
PARAMETER_INCORRECT = "The parameter is incorrect."
#: Every spelling bcdedit takes for a boolean, lower case, and its value.
BOOLEAN_WORDS = {**dict.fromkeys(("1", "on", "yes", "true"), True),
                 **dict.fromkeys(("0", "off", "no", "false"), False)}


def parse_value(store: BcdStore, row: ElementDef, words: list[str],
                partitions: PartitionResolver | None = None):
    """Parse `/set` value words for element `row` as bcdedit does (`partitions` resolves the
    device forms that name a partition of the target disk: `#2`, `/dev/sdc2`, `C:`).

    Raises:
        InvalidArgumentError / InvalidIdentifierError / UnsupportedError: on bad values.
    """
    fmt = row.format
    if fmt in (Format.OBJECT_LIST, Format.INTEGER_LIST):
        if not words:
            raise InvalidArgumentError(f"{PARAMETER_INCORRECT} {HELP_HINT}")
        if fmt == Format.OBJECT_LIST:
            return [store.resolve(w, must_exist=False) for w in words]
        return [parse_integer(w, None) for w in words]
    if len(words) != 1:
        raise InvalidArgumentError(f"{PARAMETER_INCORRECT} {row.display_name} takes one value. "
                                   f"{HELP_HINT}")
    word = words[0]
    if fmt == Format.BOOLEAN:
        if word.lower() in BOOLEAN_WORDS:
            return BOOLEAN_WORDS[word.lower()]
        raise InvalidArgumentError(f"The boolean value {word!r} is not valid as specified "
                                   "(use Yes/No, On/Off, True/False, 1/0).")
    if fmt == Format.INTEGER:
        if (row.scope, row.name) in IPV4_INTEGERS and word.count(".") == 3:
            return parse_ipv4(word)
        return parse_integer(word, row)
    if fmt == Format.STRING:
        return word
    if fmt == Format.OBJECT:
        return store.resolve(word, must_exist=False)
    if fmt == Format.DEVICE:
        return parse_device_text(word, lambda text: store.resolve(text, must_exist=False),
                                 partitions, element_code=row.code)
    raise InvalidArgumentError(f"element {row.display_name} has a format bcdtool cannot set")


def parse_integer(word: str, row: ElementDef | None) -> int:
    """An integer in decimal or 0x hex, or an enumeration name of `row` (case-insensitive)."""
    if row is not None:
        for name, value in row.values.items():
            if name.lower() == word.lower():
                return value
    text = word.strip().lower()
    try:
        value = int(text, 16) if text.startswith("0x") else int(text, 10)
    except ValueError:
        names = f" (or one of {', '.join(row.values)})" if row is not None and row.values else ""
        raise InvalidArgumentError(f"The integer data {word!r} is not valid as specified"
                                   f"{names}.") from None
    if not 0 <= value < 1 << 64:
        raise InvalidArgumentError(f"The integer data {word!r} is out of range.")
    return value


def parse_ipv4(word: str) -> int:
    """A dotted IPv4 address as the integer the debugger elements hold."""
    parts = word.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise InvalidArgumentError(f"{word!r} is not an IPv4 address")
    # stored in network order in memory, i.e. the first octet in the lowest byte
    return int.from_bytes(bytes(int(p) for p in parts), "little")


def colon_params(words: list[str], known: dict[str, int]) -> dict[int, str]:
    """NAME:value words (EMSPORT:1) mapped to element codes through `known`."""
    params: dict[int, str] = {}
    for word in words:
        name, colon, value = word.partition(":")
        if not colon or name.lower() not in known or not value:
            raise InvalidArgumentError(f"{PARAMETER_INCORRECT} Unexpected {word!r}. {HELP_HINT}")
        params[known[name.lower()]] = value
    return params
