"""The Steward GraphQL schema."""
from __future__ import annotations

import strawberry
from strawberry.extensions import ParserCache, ValidationCache

from .mutations import Mutation
from .query import Query
from .scalars import INSTANT_SCALARS, NameLiteralErrors

# Dashboards send the same few documents over and over: parse and validate each
# once. Bounded, and passed as factories so no instance is shared by requests.
CACHE_SIZE = 512

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    extensions=[lambda: ParserCache(maxsize=CACHE_SIZE), NameLiteralErrors,
                lambda: ValidationCache(maxsize=CACHE_SIZE)],
    scalar_overrides=INSTANT_SCALARS,  # Date and DateTime within the supported range
)
