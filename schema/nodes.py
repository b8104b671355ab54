"""Query.node: any object by its global ID (Relay), read through the request's loaders."""
from __future__ import annotations

import strawberry

from schema.errors import not_found
from schema.info import Info
from schema.relay import Node, from_global_id

# global ID type -> the Loaders attribute that reads it
NODE_LOADERS = {
    "Organization": "organization",
    "Deployment": "deployment",
    "Person": "person",
    "Topic": "topic",
    "Workflow": "workflow",
    "WorkflowUpdate": "workflow_update",
    "Review": "review",
    "OwnershipAssignment": "assignment",
    "OwnershipChange": "ownership_change",
    "HealthEvent": "health_event",
}


async def load_node(info: Info, global_id: str, *types: str, field: str = "id") -> Node:
    """The object of a global ID (of one of `types`, or any node type); NOT_FOUND if it is not there."""
    type_name, pk = from_global_id(global_id, *(types or tuple(NODE_LOADERS)), field=field)
    node = await getattr(info.context.loaders, NODE_LOADERS[type_name]).load(pk)
    if node is None:
        raise not_found(type_name, field)
    return node


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Any object by its global ID; null, with a NOT_FOUND error, if it does not "
                                  "exist in your organization (the rest of the answer stands).")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await load_node(info, id)
