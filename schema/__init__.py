"""The Steward GraphQL schema: the roots merged from the domains (schema/roots.py), with the caches and scalars."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import strawberry
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache

from schema.arguments import describe_arguments
from schema.roots import Mutation, Query
from schema.scalars import INSTANT_SCALARS, NameLiteralErrors
from schema.subscriptions import Subscription

# Dashboards send the same few documents over and over: parse and validate each
# once. Bounded, and passed as factories so no instance is shared by requests.
CACHE_SIZE = 512


def build_schema(extensions: Iterable[Callable[[], SchemaExtension] | Any] = ()) -> strawberry.Schema:
    """The schema, with optional extra extensions (tracing) after the caches."""
    built = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[lambda: ParserCache(maxsize=CACHE_SIZE), NameLiteralErrors,
                    lambda: ValidationCache(maxsize=CACHE_SIZE), *extensions],
        scalar_overrides=INSTANT_SCALARS,  # Date and DateTime within the supported range
    )
    describe_arguments(built._schema)
    return built


schema = build_schema()
