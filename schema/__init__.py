"""The Steward GraphQL schema."""
from __future__ import annotations

import strawberry

from .mutations import Mutation
from .query import Query

schema = strawberry.Schema(query=Query, mutation=Mutation)
