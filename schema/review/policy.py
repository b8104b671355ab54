"""Whose reviews count, and the organization's health policy as Organization.healthPolicy reads it."""
from __future__ import annotations

from enum import Enum

import strawberry

from schema.info import Info
from schema.review.loading import row_by_key


@strawberry.enum(description="Whose performance reviews count for health, weeksReviewed, the weekly brief and "
                             "maturity (sql/views/015_reviews.sql, metrics.reviews). Every review is still listed.")
class ReviewersCounted(Enum):
    _value_: str  # each member's value is the str given to enum_value
    OWNER = strawberry.enum_value(
        "OWNER", description="Only the accountable owner's: the reviewer owned the deployment when reviewing "
                             "(the default).")
    OWNER_OR_CX = strawberry.enum_value(
        "OWNER_OR_CX", description="The owner's, or a review by anyone whose function is CX.")
    ANYONE = strawberry.enum_value("ANYONE", description="Every review, whoever made it (a vendor's too).")


async def policy_row(info: Info, org_pk: int):
    """The organization's policy row (metrics.health_policy), batched by organization."""
    return await row_by_key(info, "health_policy", key="org_id").load(org_pk)


async def review_counted(info: Info, review_pk: int) -> bool:
    """Whether a review counts under the organization's policy now (metrics.reviews)."""
    row = await row_by_key(info, "reviews_counted", key="review_id").load(review_pk)
    return bool(row is not None and row["counted"])

