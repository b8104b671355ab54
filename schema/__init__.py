"""The Steward GraphQL schema."""
from __future__ import annotations

import strawberry
from strawberry.extensions import ParserCache, ValidationCache

from .arguments import describe_arguments
from .mutations import Mutation
from .query import Query

# Dashboards send the same few documents over and over: parse and validate each
# once. Bounded, and passed as factories so no instance is shared by requests.
CACHE_SIZE = 512

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    extensions=[lambda: ParserCache(maxsize=CACHE_SIZE), lambda: ValidationCache(maxsize=CACHE_SIZE)],
)
describe_arguments(schema._schema)
