"""What untrusted input must look like before it goes further: whole numbers in ASCII digits,
text a database can keep, JSON bodies and paths. One place, so every edge applies the same rule.

`str.isdigit()` is not that rule: "²" passes it and `int()` refuses it (a 500), "٣" passes it
and `int()` reads 3, and a 5,000-digit number is past what `int()` converts at all. PostgreSQL
refuses a NUL character in text and neither database takes a lone surrogate, so text with
either would fail in the database (a 500) instead of being refused.
"""

from __future__ import annotations

import json
import re
from typing import Any

from passes.errors import InvalidInput

# NUL, and the surrogate code points a decoder only produces from broken input.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Nothing we serve has a control character or a lone surrogate in its path.
UNSAFE_PATH = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def whole_number(raw: str, max_digits: int = 18) -> int | None:
    """`raw` as a whole number of at most `max_digits` ASCII digits; None for anything else."""
    if not raw or len(raw) > max_digits or not (raw.isascii() and raw.isdigit()):
        return None
    return int(raw)


def safe_path(path: str) -> bool:
    """False for a path with a control character (NUL, CR, LF…) or a lone surrogate."""
    return UNSAFE_PATH.search(path) is None


def storable(text: str) -> bool:
    """True when a database can keep `text`: no NUL character, no lone surrogate."""
    return UNSTORABLE.search(text) is None


def check_text(name: str, text: str) -> str:
    """`text` when storable, else InvalidInput naming the field."""
    if not storable(text):
        raise InvalidInput(f"{name} must not contain a NUL character or a lone surrogate")
    return text


def check_json_text(value: Any) -> None:
    """Every key and string in a parsed JSON body must be storable; the refusal names where."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:  # a loop, not recursion: the body may nest as deep as the parser allowed
        where, item = pending.pop()
        if isinstance(item, str):
            check_text(where or "the body", item)
        elif isinstance(item, dict):
            for key, child in item.items():
                check_text(f"a field name in {where or 'the body'}", key)
                pending.append((f"{where}.{key}" if where else key, child))
        elif isinstance(item, list):
            pending.extend((f"{where}[{index}]", child) for index, child in enumerate(item))


def parse_json(body: bytes | str) -> Any:
    """The JSON value in `body`; ValueError also for nesting too deep to parse (RecursionError)."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("nested too deeply") from None
