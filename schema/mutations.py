"""The Mutation root: automation changes owners and records activity through these.

Scopes: assignOwner, unassignOwner, deactivatePerson, createPerson, updatePerson,
acknowledgeHealthEvent and setEscalationContact need `write:owners`; recordWorkflowUpdate and recordReview
need `write:activity`;
createDeployment, updateDeployment, setHealthPolicy and the webhook mutations need `admin` (which implies
every other scope). A missing scope is a PermissionError member; nothing is written.
"""
from __future__ import annotations

from typing import Annotated

import strawberry

from schema.activity import mutations as activity
from schema.activity.mutations import (
    RecordReviewInput,
    RecordReviewPayload,
    RecordWorkflowUpdateInput,
    RecordWorkflowUpdatePayload,
)
from schema.deployments import mutations as admin
from schema.deployments.mutations import (
    CreateDeploymentInput,
    CreateDeploymentPayload,
    SetHealthPolicyInput,
    SetHealthPolicyPayload,
    UpdateDeploymentInput,
    UpdateDeploymentPayload,
)
from schema.health import mutations as escalation
from schema.health.mutations import (
    AcknowledgeHealthEventInput,
    AcknowledgeHealthEventPayload,
    SetEscalationContactInput,
    SetEscalationContactPayload,
)
from schema.ownership import mutations as owners
from schema.ownership.mutations import (
    AssignOwnerInput,
    AssignOwnerPayload,
    DeactivatePersonInput,
    DeactivatePersonPayload,
    UnassignOwnerInput,
    UnassignOwnerPayload,
)
from schema.people import mutations as people
from schema.people.mutations import CreatePersonInput, CreatePersonPayload, UpdatePersonInput, UpdatePersonPayload
from schema.webhooks import mutations as hooks
from schema.webhooks.mutations import (
    CreateWebhookInput,
    CreateWebhookPayload,
    DeleteWebhookInput,
    DeleteWebhookPayload,
    RedeliverWebhookDeliveryInput,
    RedeliverWebhookDeliveryPayload,
    TestWebhookInput,
    TestWebhookPayload,
    UpdateWebhookInput,
    UpdateWebhookPayload,
)

INPUT = strawberry.argument(description="What to change, with an optional idempotencyKey.")


@strawberry.type(description="Changes, for automation. Every mutation takes an optional idempotencyKey.")
class Mutation:
    @strawberry.mutation(description="Make a person the accountable owner of a deployment: ends the current "
                                     "owner's period and opens the new one at effectiveAt, in one transaction. "
                                     "Needs write:owners.")
    async def assign_owner(self, info: strawberry.Info,
                           input: Annotated[AssignOwnerInput, INPUT]) -> AssignOwnerPayload:
        return await owners.assign_owner(info, input)

    @strawberry.mutation(description="End a deployment's ownership: it becomes UNOWNED. Needs write:owners.")
    async def unassign_owner(self, info: strawberry.Info,
                             input: Annotated[UnassignOwnerInput, INPUT]) -> UnassignOwnerPayload:
        return await owners.unassign_owner(info, input)

    @strawberry.mutation(description="A person left: mark them inactive and end every ownership they hold, handing "
                                     "each deployment to `successorId` if given (else it becomes UNOWNED); lists "
                                     "what moved to whom and what was left UNOWNED. Needs write:owners.")
    async def deactivate_person(self, info: strawberry.Info,
                                input: Annotated[DeactivatePersonInput, INPUT]) -> DeactivatePersonPayload:
        return await owners.deactivate_person(info, input)

    @strawberry.mutation(description="Add a person who can own AI. Needs write:owners.")
    async def create_person(self, info: strawberry.Info,
                            input: Annotated[CreatePersonInput, INPUT]) -> CreatePersonPayload:
        return await people.create_person(info, input)

    @strawberry.mutation(description="Change a person's details. Needs write:owners.")
    async def update_person(self, info: strawberry.Info,
                            input: Annotated[UpdatePersonInput, INPUT]) -> UpdatePersonPayload:
        return await people.update_person(info, input)

    @strawberry.mutation(description="Add a deployment. Needs admin.")
    async def create_deployment(self, info: strawberry.Info,
                                input: Annotated[CreateDeploymentInput, INPUT]) -> CreateDeploymentPayload:
        return await admin.create_deployment(info, input)

    @strawberry.mutation(description="Change a deployment's details or status. Needs admin.")
    async def update_deployment(self, info: strawberry.Info,
                                input: Annotated[UpdateDeploymentInput, INPUT]) -> UpdateDeploymentPayload:
        return await admin.update_deployment(info, input)

    @strawberry.mutation(description="Record a workflow update (a change to the AI). Needs write:activity.")
    async def record_workflow_update(self, info: strawberry.Info,
                                     input: Annotated[RecordWorkflowUpdateInput, INPUT]) -> RecordWorkflowUpdatePayload:
        return await activity.record_workflow_update(info, input)

    @strawberry.mutation(description="Record a performance review. Needs write:activity.")
    async def record_review(self, info: strawberry.Info,
                            input: Annotated[RecordReviewInput, INPUT]) -> RecordReviewPayload:
        return await activity.record_review(info, input)

    @strawberry.mutation(description="Change the organization's health thresholds and reopen window. Needs admin.")
    async def set_health_policy(self, info: strawberry.Info,
                                input: Annotated[SetHealthPolicyInput, INPUT]) -> SetHealthPolicyPayload:
        return await admin.set_health_policy(info, input)

    @strawberry.mutation(description="Add a webhook endpoint; returns its signing secret, once. Needs admin.")
    async def create_webhook(self, info: strawberry.Info,
                             input: Annotated[CreateWebhookInput, INPUT]) -> CreateWebhookPayload:
        return await hooks.create_webhook(info, input)

    @strawberry.mutation(description="Change a webhook endpoint: url, events, description, enabled. Needs admin.")
    async def update_webhook(self, info: strawberry.Info,
                             input: Annotated[UpdateWebhookInput, INPUT]) -> UpdateWebhookPayload:
        return await hooks.update_webhook(info, input)

    @strawberry.mutation(description="Remove a webhook endpoint and its deliveries. Needs admin.")
    async def delete_webhook(self, info: strawberry.Info,
                             input: Annotated[DeleteWebhookInput, INPUT]) -> DeleteWebhookPayload:
        return await hooks.delete_webhook(info, input)

    @strawberry.mutation(description="Send a test event (webhook.test) to an endpoint through the outbox. "
                                     "Needs admin.")
    async def test_webhook(self, info: strawberry.Info,
                           input: Annotated[TestWebhookInput, INPUT]) -> TestWebhookPayload:
        return await hooks.test_webhook(info, input)

    @strawberry.mutation(description="Send a delivery again now, with the same webhook-id. Needs admin.")
    async def redeliver_webhook_delivery(
        self, info: strawberry.Info, input: Annotated[RedeliverWebhookDeliveryInput, INPUT],
    ) -> RedeliverWebhookDeliveryPayload:
        return await hooks.redeliver_webhook_delivery(info, input)

    @strawberry.mutation(description="Take a health event on: records the token, the instant and a note; "
                                     "acknowledging twice is a ConflictError. Needs write:owners.")
    async def acknowledge_health_event(
        self, info: strawberry.Info, input: Annotated[AcknowledgeHealthEventInput, INPUT]
    ) -> AcknowledgeHealthEventPayload:
        return await escalation.acknowledge_health_event(info, input)

    @strawberry.mutation(description="Name (or clear, with personId null) who a deployment escalates to. "
                                     "Needs write:owners.")
    async def set_escalation_contact(
        self, info: strawberry.Info, input: Annotated[SetEscalationContactInput, INPUT]
    ) -> SetEscalationContactPayload:
        return await escalation.set_escalation_contact(info, input)
