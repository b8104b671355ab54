"""The Steward GraphQL schema."""
from __future__ import annotations

import strawberry

from .query import Query

schema = strawberry.Schema(query=Query)
