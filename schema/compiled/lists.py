"""More compiled lists: the organization's people and workflow updates, a deployment's reviews, a person's
deployments. Each reads its resolver's statements and checks its arguments with the resolver's functions."""
from __future__ import annotations

from collections.abc import Sequence

from graphql import FieldNode, GraphQLField

from schema.activity.types import REVIEWS_NEWEST_FIRST, UPDATES_NEWEST_FIRST
from schema.compiled.pages import connection, dates, guarded, keyset, org_checked, page, window
from schema.compiled.values import column, global_id, nested
from schema.compiled.walk import SQL, Emit, Walk, fill
from schema.people.types import BY_NAME, escape_like
from schema.relay import from_global_id
from service.sql_files import load

ACTIVITY = load("schema.activity", "queries.sql")
DEPLOYMENTS = load("schema.deployments", "queries.sql")
PEOPLE = load("schema.people", "queries.sql")


def people(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
    """Query.people (schema/people/types.py people)."""
    a = walk.arguments(definition, nodes[0])
    org = org_checked(walk, a.get("orgSlug"))
    f = a.get("filter") or {}
    request = page(walk, a)
    filters = [org, walk.param(f.get("active"), "boolean"), walk.param(f.get("function"), "text"),
               walk.param(f"%{escape_like(f['search'])}%" if f.get("search") else None, "text")]
    return connection(walk, nodes, definition, fill(PEOPLE["people"], [*filters, *keyset(walk, BY_NAME, request)]),
                      fill(PEOPLE["count_people"], filters), BY_NAME, request)


def workflow_updates(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
    """Query.workflowUpdates (schema/activity/types.py workflow_updates)."""
    a = walk.arguments(definition, nodes[0])
    f = a.get("filter") or {}
    request = page(walk, a)
    start, end = window(walk, f["window"], 30) if f.get("window") is not None else dates(walk, None, None, None)
    ids = [guarded(from_global_id, f[name], type_name, field=f"filter.{field}")[1] if f.get(name) is not None
           else None for name, type_name, field in (("deploymentId", "Deployment", "deployment_id"),
                                                    ("authorId", "Person", "author_id"))]
    filters = [walk.param(f.get("kind"), "text"), start, end, walk.param(ids[0], "bigint"),
               walk.param(ids[1], "bigint")]
    org = walk.org()
    statement = fill(ACTIVITY["workflow_updates"], [*filters, *keyset(walk, UPDATES_NEWEST_FIRST, request), org])
    return connection(walk, nodes, definition, statement, fill(ACTIVITY["count_workflow_updates"], [*filters, org]),
                      UPDATES_NEWEST_FIRST, request)


def reviews(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
    """Deployment.reviews (schema/activity/types.py reviews)."""
    request = page(walk, walk.arguments(definition, nodes[0]))
    parent = f"{row}.id"
    org = walk.org()
    statement = fill(ACTIVITY["reviews"], [parent, *keyset(walk, REVIEWS_NEWEST_FIRST, request), org])
    count = fill(SQL["nested_count"], [fill(ACTIVITY["review_counts_by_deployment"],
                                            [f"array[{parent}]::bigint[]", org])])
    return connection(walk, nodes, definition, statement, count, REVIEWS_NEWEST_FIRST, request)


def review_fields(person: Emit) -> dict[str, Emit]:
    return {"id": global_id("Review"), "reviewedAt": column("reviewed_at", "instant"), "notes": column("notes"),
            "decisions": column("decisions"), "briefWeek": column("brief_week"), "reviewer": person}


OWNED_DEPLOYMENTS = nested(DEPLOYMENTS["owned_deployments"], lambda w, ids, _: [ids, w.org()], many=True,
                           key="person_id")
