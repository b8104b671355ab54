"""Named SQL statements from `.sql` files: `-- name: x` starts statement `x` (aiosql's convention)."""
from __future__ import annotations

import re
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def load(package: str, filename: str) -> dict[str, str]:
    """{name: statement} of a package's `.sql` file; comments and blank lines stay (PostgreSQL ignores them)."""
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    parts = _NAME.split(text)[1:]
    return {name: body.strip() for name, body in zip(parts[::2], parts[1::2], strict=True)}
