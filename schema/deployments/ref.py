"""`DeploymentRef`: the Deployment type named lazily, for the many types that point back at a deployment
(a payload's `deployment`, an event's, a review's) without importing schema.deployments.types at run time."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

if TYPE_CHECKING:
    from schema.deployments.types import Deployment

DeploymentRef = Annotated["Deployment", strawberry.lazy("schema.deployments.types")]
