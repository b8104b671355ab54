"""The root types, merged from each domain's pieces (in the order of their fields in the SDL)."""
from __future__ import annotations

from strawberry.tools import merge_types
from strawberry.types.base import get_object_definition

from schema.activity.mutations import ActivityMutations
from schema.activity.queries import ActivityQueries
from schema.deployments.mutations import DeploymentMutations, HealthPolicyMutations
from schema.deployments.queries import DeploymentQueries
from schema.health.mutations import HealthMutations
from schema.nodes import NodeQueries
from schema.organizations.queries import OrganizationQueries
from schema.ownership.mutations import OwnershipMutations
from schema.ownership.queries import OwnershipQueries
from schema.people.mutations import PeopleMutations
from schema.people.queries import PeopleQueries
from schema.webhooks.mutations import WebhookMutations

Query = merge_types("Query", (NodeQueries, OrganizationQueries, DeploymentQueries, PeopleQueries, ActivityQueries,
                              OwnershipQueries))
get_object_definition(Query, strict=True).description = (
    "Reads, scoped to the token's organization (needs the `read` scope).")

# Scopes: the ownership, people, health event and escalation mutations need `write:owners`; the activity ones
# `write:activity`; deployments, the health policy and webhooks `admin` (which implies every other scope).
# A missing scope is a PermissionError member; nothing is written.
Mutation = merge_types("Mutation", (OwnershipMutations, PeopleMutations, DeploymentMutations, ActivityMutations,
                                    HealthPolicyMutations, WebhookMutations, HealthMutations))
get_object_definition(Mutation, strict=True).description = (
    "Changes, for automation. Every mutation takes an optional idempotencyKey.")

__all__ = ["Mutation", "Query"]
