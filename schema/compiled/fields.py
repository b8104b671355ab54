"""The compiled fields, type by type: each reads the statement its resolver runs (the domain's queries.sql).

A field missing here is not compiled: an operation that selects it runs through Strawberry.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import FieldNode, GraphQLField

from schema.activity.types import UPDATES_NEWEST_FIRST
from schema.compiled.lists import OWNED_DEPLOYMENTS, people, review_fields, reviews, workflow_updates
from schema.compiled.pages import SHARED, connection, dates, guarded, keyset, org_checked, page, today, window
from schema.compiled.values import column, computed, global_id, nested, present_or_missing, same_row
from schema.compiled.walk import SQL, Emit, Unsupported, Walk, fill, object_type
from schema.deployments.types import MAX_WEEKS, ORDERS
from schema.people.types import escape_like
from schema.relay import Sort, from_global_id
from schema.windows import check_range
from service.sql_files import load

ACTIVITY = load("schema.activity", "queries.sql")
DEPLOYMENTS = load("schema.deployments", "queries.sql")
ORGANIZATIONS = load("schema.organizations", "queries.sql")
PEOPLE = load("schema.people", "queries.sql")


def one(walk: Walk, row: str, column_name: str) -> str:
    return f"array[{row}.{column_name}]::bigint[]"


# ------------------------------------------------------------------------ Query


def deployments(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
    """Query.deployments (schema/deployments/types.py deployments)."""
    a = walk.arguments(definition, nodes[0])
    org = org_checked(walk, a.get("orgSlug"))
    f = a.get("filter") or {}
    order = a.get("orderBy") or {"field": "name", "direction": "ASC"}
    request = page(walk, a)
    sql_type, statement = ORDERS[order["field"]]
    sort = Sort(order["field"], sql_type, descending=order["direction"] == "DESC")
    owner = (guarded(from_global_id, f["ownerId"], "Person", field="filter.ownerId")[1]
             if f.get("ownerId") is not None else None)
    filters = [org, walk.param(f.get("status"), "text"), walk.param(f.get("health"), "text"),
               walk.param(owner, "bigint"), walk.param(f.get("unowned"), "boolean"),
               walk.param(f.get("channel"), "text"),
               walk.param(f"%{escape_like(f['search'])}%" if f.get("search") else None, "text")]
    page_sql = fill(statement, [*filters, *keyset(walk, sort, request)])
    return connection(walk, nodes, definition, page_sql, fill(DEPLOYMENTS["count_deployments"], filters), sort,
                      request)


def deployment(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
    """Query.deployment: by global ID, or by key; an unknown one fails the statement (Strawberry says NOT_FOUND)."""
    a = walk.arguments(definition, nodes[0])
    if a.get("id") is not None:
        if a.get("key") is not None:
            raise Unsupported("id and key")
        pk = guarded(from_global_id, a["id"], "Deployment", field="id")[1]
        source = fill(DEPLOYMENTS["deployments_by_id"], [f"array[{walk.param(pk, 'bigint')}]::bigint[]",
                                                           walk.org()])
    elif a.get("key") is None:
        raise Unsupported("neither id nor key")
    else:
        source = fill(DEPLOYMENTS["deployment_by_key"], [org_checked(walk, a.get("orgSlug")),
                                                         walk.param(a["key"], "text")])
    alias = walk.alias()
    value = fill(SQL["object"], [source], row=alias, json=walk.selection(object_type(definition), nodes, alias))
    return f"coalesce({value}, {fill(SQL['missing'], [walk.param('deployment', 'text')])})"


def ownership_summary(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
    a = walk.arguments(definition, nodes[0])
    org = org_checked(walk, a.get("orgSlug"))
    start, end = window(walk, a.get("window"), 90)
    alias = walk.alias()
    walk.impact = fill(SQL["impact_rows"])
    source = fill(SQL["summary"], [fill(ORGANIZATIONS["ownership_overview"], [org]), start, end])
    return fill(SQL["summary_object"], [fill(ORGANIZATIONS["ownership_impact"], [start, end]), source], row=alias,
                json=walk.selection(object_type(definition), nodes, alias))


def buckets(kinds: tuple[str, ...]) -> Emit:
    def emit(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
        alias = walk.alias()
        return fill(SQL["buckets"], [walk.impact, walk.param(list(kinds), "text[]")],
                    row=alias, json=walk.selection(object_type(definition), nodes, alias))
    return emit


def bucket_rate(kind: str) -> Emit:
    def emit(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
        return f"to_json({fill(SQL['bucket_rate'], [walk.impact, walk.param(kind, 'text')])})"
    return emit


# ------------------------------------------------------------------------ Deployment


def metrics(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
    start, end = window(walk, walk.arguments(definition, nodes[0]).get("window"), 30)
    return nested(SHARED["window_metrics"], lambda w, ids, a: [ids, start, end], what="the metrics",
                  key="deployment_id")(walk, row, nodes, definition)


def weekly_metrics(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
    a = walk.arguments(definition, nodes[0])
    if a.get("from") is None and a.get("to") is None:
        start = fill(SQL["weeks_start"], [walk.param(None, "date"), walk.param(25, "integer"), today()])
        end = f"{today()} + 1"
    else:
        first, last = guarded(check_range, a.get("from"), a.get("to"), "from")
        if (last - first).days > MAX_WEEKS * 7:
            raise Unsupported("weeks")
        start, end = walk.param(first, "date"), walk.param(last, "date")
    return nested(SHARED["weekly_metrics"], lambda w, ids, _: [ids, start, end], many=True,
                  key="deployment_id")(walk, row, nodes, definition)


def topic_opportunities(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
    a = walk.arguments(definition, nodes[0])
    if not 1 <= a["first"] <= walk.settings.max_page_size:
        raise Unsupported("first")
    start, end = window(walk, a.get("window"), 90)
    first = walk.param(a["first"], "bigint")
    return nested(SHARED["topic_opportunities"], lambda w, ids, _: [ids, start, end, first], many=True,
                  key="deployment_id")(walk, row, nodes, definition)


def updates_of(parent: str) -> Emit:
    """Deployment.workflowUpdates and Person.workflowUpdates (schema/activity/types.py updates_of)."""
    def emit(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
        a = walk.arguments(definition, nodes[0])
        if a.get("window") is not None:
            start, end = window(walk, a["window"], 30)
        else:
            start, end = dates(walk, None, None, None)
        request = page(walk, a)
        of = [f"{row}.id", walk.param(None, "bigint")]
        filters = [walk.param(a.get("kind"), "text"), start, end, *(of if parent == "deployment" else of[::-1])]
        org = walk.org()
        page_sql = fill(ACTIVITY["workflow_updates"], [*filters, *keyset(walk, UPDATES_NEWEST_FIRST, request), org])
        return connection(walk, nodes, definition, page_sql,
                          fill(ACTIVITY["count_workflow_updates"], [*filters, org]), UPDATES_NEWEST_FIRST, request)
    return emit


def owner(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
    org = walk.org()
    current = fill(PEOPLE["current_owners"], [one(walk, row, "id"), org])
    return nested(PEOPLE["persons_by_id"], lambda w, _, a: [f"array[(select o.person_id from ({current}) o limit 1)]"
                                                            "::bigint[]", org])(walk, row, nodes, definition)


def days_since(what: str) -> Emit:
    """schema/metrics.py days_since: a null count with a latest instant fails the field (left to Strawberry)."""
    def emit(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
        missing = fill(SQL["missing"], [walk.param(what, "text")])
        return (f"case when {row}.days_since_last_{what} is null and {row}.last_{what}_at is not null "
                f"then {missing} else to_json({row}.days_since_last_{what}) end")
    return emit


def health(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
    return nested(SHARED["health"], lambda w, ids, _: [ids], what="the health", key="deployment_id")(
        walk, row, nodes, definition)


def reasons(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
    alias = walk.alias()
    return fill(SQL["reasons"], [f"{row}.reasons"], row=alias,
                json=walk.selection(object_type(definition), nodes, alias))


def element(key: str) -> Emit:
    def emit(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
        return f"to_json({row}.v ->> {walk.param(key, 'text')})"
    return emit


def by_id(statement: str, column_name: str, what: str) -> Emit:
    return nested(statement, lambda w, ids, _: [ids, w.org()], what=what, parent=column_name)


PERSON: dict[str, Emit] = {
    "id": global_id("Person"), "name": column("name"), "email": column("email"), "title": column("title"),
    "function": column("function"), "fteOnAi": column("fte_on_ai", "float"), "active": column("active"),
    "deactivatedAt": column("deactivated_at", "instant"), "workflowUpdates": updates_of("author"),
    "ownedDeployments": OWNED_DEPLOYMENTS,
}

METRIC_COLUMNS = {"reopenWindowHours": "reopen_window_hours", "conversations": "conversations",
                  "addressable": "addressable", "unaddressable": "unaddressable", "aiEngaged": "ai_engaged",
                  "aiOutcomes": "ai_outcomes", "aiResolved": "ai_resolved", "reopened": "reopened",
                  "escalated": "escalated", "workflowUpdates": "workflow_updates",
                  "peakWeekUpdates": "peak_week_updates", "reviews": "reviews"}
METRIC_FLOATS = {"topicCoverage": "topic_coverage", "addressableResolutionRate": "addressable_resolution_rate",
                 "reopenRate": "reopen_rate", "automationRate": "automation_rate", "escalationRate": "escalation_rate",
                 "weeksReviewed": "weeks_reviewed", "ownershipGapDays": "ownership_gap_days"}

FIELDS: dict[str, dict[str, Emit]] = {
    "Query": {"deployments": deployments, "deployment": deployment, "ownershipSummary": ownership_summary,
              "people": people, "workflowUpdates": workflow_updates},
    "Deployment": {
        "id": global_id("Deployment"), "key": column("key"), "name": column("name"), "channels": column("channels"),
        "vendor": column("vendor"), "status": column("status"), "launchedAt": column("launched_at", "instant"),
        "integrations": column("integrations"), "owner": owner, "health": health, "metrics": metrics,
        "weeklyMetrics": weekly_metrics, "topicOpportunities": topic_opportunities,
        "ownershipHistory": nested(PEOPLE["ownership_history"], lambda w, ids, _: [ids, w.org()], many=True,
                                   key="deployment_id"),
        "workflowUpdates": updates_of("deployment"), "reviews": reviews,
    },
    "Review": review_fields(by_id(PEOPLE["persons_by_id"], "reviewer_id", "the reviewer")),
    "Person": PERSON,
    "Health": {"status": column("status"), "reasons": reasons, "lastUpdateAt": column("last_update_at", "instant"),
               "lastReviewAt": column("last_review_at", "instant")},
    "HealthReason": {"code": element("code"), "message": element("message")},
    "DeploymentMetrics": {
        "window": same_row, **{k: column(v) for k, v in METRIC_COLUMNS.items()},
        **{k: column(v, "float") for k, v in METRIC_FLOATS.items()},
        "daysSinceLastUpdate": days_since("update"), "daysSinceLastReview": days_since("review"),
    },
    "Window": {"from": column("window_from"), "to": column("window_to")},
    "WeeklyMetric": {"weekStart": column("window_from"), "metrics": same_row},
    "OwnershipAssignment": {
        "id": global_id("OwnershipAssignment", "assignment_id"), "validFrom": column("valid_from", "instant"),
        "validTo": column("valid_to", "instant"), "isCurrent": column("is_current"),
        "assignedBy": column("assigned_by"), "reason": column("reason"), "endedReason": column("ended_reason"),
        "person": by_id(PEOPLE["persons_by_id"], "person_id", "the owner"),
    },
    "WorkflowUpdate": {
        "id": global_id("WorkflowUpdate"), "kind": column("kind"), "summary": column("summary"),
        "occurredAt": column("occurred_at", "instant"),
        "author": by_id(PEOPLE["persons_by_id"], "author_id", "the author"),
    },
    "TopicOpportunity": {
        "rank": column("rank"), "conversations": column("conversations"), "uncovered": column("uncovered"),
        "uncoveredEscalated": column("uncovered_escalated"), "escalationCost": column("escalation_cost", "float"),
        "score": column("score", "float"), "topic": by_id(ACTIVITY["topics_by_id"], "topic_id", "the topic"),
    },
    "Topic": {"id": global_id("Topic"), "key": column("key"), "name": column("name"),
              "escalationCost": column("escalation_cost", "float")},
    "OwnershipSummary": {
        "window": same_row, **{k: column(v) for k, v in (("deployments", "deployments"), ("unowned", "unowned"),
                                                         ("stale", "stale"), ("atRisk", "at_risk"),
                                                         ("healthy", "healthy"))},
        "ownedShare": column("owned_share", "float"), "arrOwned": bucket_rate("OWNED"),
        "arrUnowned": bucket_rate("UNOWNED"), "byOwnership": buckets(("OWNED", "UNOWNED")),
        "byUpdateCadence": buckets(("NONE", "LOW", "MEDIUM", "HIGH")),
    },
    "ImpactBucket": {"bucket": column("bucket"), "deploymentWeeks": column("deployment_weeks"),
                     "addressable": column("addressable"), "aiResolved": column("ai_resolved"),
                     "addressableResolutionRate": column("addressable_resolution_rate", "float")},
}

__all__ = ["FIELDS", "computed", "present_or_missing", "Any"]
