"""`Info`: what every resolver receives, typed with the request's Context (schema/context.py).

Its own module, which imports nothing of the schema at runtime, so that the GraphQL types can name it
while the context builds their loaders (context -> loaders -> types) without an import cycle. At
runtime it is plain `strawberry.Info`, which Strawberry recognizes; type checkers see its parameters.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

if TYPE_CHECKING:
    from schema.context import Context

    Info = strawberry.Info[Context, None]
else:
    Info = strawberry.Info
