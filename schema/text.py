"""Text PostgreSQL can store: UTF-8 without NUL.

A Python str can hold what a `text` column cannot: U+0000 (PostgreSQL refuses it) and
lone surrogates (JSON's "\\ud800" decodes to one; UTF-8 cannot encode it, so asyncpg
fails before the statement is sent). Every string a caller sends is checked here first,
so either one is a BAD_USER_INPUT naming the field, never a driver error.
"""
from __future__ import annotations

import re

# A surrogate left in a decoded str is always unpaired: JSON and the GraphQL lexer join valid pairs.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why PostgreSQL cannot store `value` as text, or None if it can."""
    match = UNSTORABLE.search(value)
    if match is None:
        return None
    char = match.group()
    if char == "\x00":
        return "contains U+0000 (NUL), which text cannot hold"
    return f"contains a lone surrogate (U+{ord(char):04X}), which is not a Unicode character"
