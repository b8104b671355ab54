"""Webhooks as the API shows them: endpoints, their deliveries, and each delivery's attempts (admin only).

Endpoint URLs can carry credentials (chat tools put tokens in them), so reading webhooks needs
the `admin` scope, like changing them. The signing secret is never readable here.
"""
from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from schema.errors import forbidden
from schema.info import Info
from schema.relay import Connection, Sort, connection, keyset_args, page_request, to_global_id
from service.sql_files import load

SQL = load("schema.webhooks", "queries.sql")
NEWEST_FIRST = Sort("id", "bigint", descending=True)
ATTEMPTS_SHOWN = 50
ADMIN = "admin"


@strawberry.enum(description="What a webhook delivery is about. An endpoint subscribes to the first three; "
                             "WEBHOOK_TEST is sent by testWebhook only.")
class WebhookEvent(Enum):
    _value_: str  # each member's value is the str given to enum_value
    HEALTH_CHANGED = strawberry.enum_value(
        "HEALTH_CHANGED", description="A deployment's health status or reason set changed (payload type "
                                      "`health.changed`).")
    OWNER_CHANGED = strawberry.enum_value(
        "OWNER_CHANGED", description="A deployment's accountable owner changed: assigned, handed over, unassigned "
                                     "or deactivated (payload type `owner.changed`).")
    WEBHOOK_DISABLED = strawberry.enum_value(
        "WEBHOOK_DISABLED", description="An endpoint of the organization was disabled, after a run of failed "
                                        "attempts or by an admin (payload type `webhook.disabled`); the disabled "
                                        "endpoint itself does not get it.")
    WEBHOOK_TEST = strawberry.enum_value(
        "WEBHOOK_TEST", description="A test (ping) sent by testWebhook (payload type `webhook.test`); not "
                                    "subscribable.")


@strawberry.enum(description="Where a delivery stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Not delivered yet: due at nextAttemptAt.")
    DELIVERED = strawberry.enum_value("DELIVERED", description="The endpoint answered 2xx.")
    FAILED = strawberry.enum_value(
        "FAILED", description="Every attempt within the retry window (24 h) failed; redeliverWebhookDelivery "
                              "tries again.")


@strawberry.enum(description="Why an endpoint is disabled.")
class WebhookDisabledReason(Enum):
    MANUAL = strawberry.enum_value("MANUAL", description="An admin disabled it (updateWebhook enabled: false).")
    FAILURES = strawberry.enum_value(
        "FAILURES", description="Its attempts failed too many times in a row (STEWARD_WEBHOOK_MAX_FAILURES).")


@strawberry.type(description="One HTTP attempt of a delivery.")
class WebhookAttempt:
    attempt: int = strawberry.field(description="1 for the first attempt of the delivery, then 2, 3, …")
    attempted_at: datetime = strawberry.field(description="When the request was sent.")
    status_code: int | None = strawberry.field(description="The HTTP status the endpoint answered; null: no "
                                                           "answer (refused, timed out, connection failed).")
    latency_ms: int = strawberry.field(description="Milliseconds from the start of the attempt to its outcome.")
    error: str | None = strawberry.field(description="Why it failed (null on success); the start of the "
                                                     "endpoint's answer for a non-2xx status.")
    next_retry_at: datetime | None = strawberry.field(description="When the delivery is tried again after this "
                                                                  "failure; null after a success or the last try.")

    @classmethod
    def from_row(cls, row) -> "WebhookAttempt":
        return cls(attempt=row["attempt"], attempted_at=row["attempted_at"], status_code=row["status_code"],
                   latency_ms=row["latency_ms"], error=row["error"], next_retry_at=row["next_retry_at"])


@strawberry.type(description="One event for one endpoint: the payload, its webhook-id and its attempts.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="Global ID (for redeliverWebhookDelivery).")
    event: WebhookEvent = strawberry.field(description="What the delivery is about.")
    message_id: str = strawberry.field(description="The `webhook-id` header: the same on every attempt and "
                                                   "redelivery, so receivers can drop duplicates.")
    status: WebhookDeliveryStatus = strawberry.field(description="Where the delivery stands.")
    attempt_count: int = strawberry.field(description="Attempts made so far.")
    next_attempt_at: datetime | None = strawberry.field(description="When it is due (PENDING only).")
    created_at: datetime = strawberry.field(description="When the event entered the outbox.")
    delivered_at: datetime | None = strawberry.field(description="When the endpoint last answered 2xx.")
    payload: str = strawberry.field(description="The JSON body sent (signed as it is).")
    pk: strawberry.Private[int]

    @strawberry.field(description=f"The attempts, oldest first (the latest {ATTEMPTS_SHOWN} at most).")
    async def attempts(self, info: Info) -> list[WebhookAttempt]:
        return await info.context.loaders.webhook_attempts.load(self.pk)

    @classmethod
    def from_row(cls, row) -> "WebhookDelivery":
        return cls(id=to_global_id("WebhookDelivery", row["id"]), event=WebhookEvent(row["event"]),
                   message_id=row["message_id"], status=WebhookDeliveryStatus(row["status"]),
                   attempt_count=row["attempts"], next_attempt_at=row["next_attempt_at"],
                   created_at=row["created_at"], delivered_at=row["delivered_at"], payload=row["payload"],
                   pk=row["id"])


@strawberry.type(description="An endpoint that receives the organization's events, signed per Standard "
                             "Webhooks. Its secret was shown once, by createWebhook.")
class Webhook:
    id: strawberry.ID = strawberry.field(description="Global ID.")
    url: str = strawberry.field(description="Where events are POSTed (http or https, public addresses only).")
    events: list[WebhookEvent] = strawberry.field(description="The events it receives.")
    description: str | None = strawberry.field(description="What it is for.")
    enabled: bool = strawberry.field(description="False: nothing is sent to it (its deliveries wait).")
    disabled_at: datetime | None = strawberry.field(description="When it was disabled.")
    disabled_reason: WebhookDisabledReason | None = strawberry.field(description="Why it was disabled.")
    consecutive_failures: int = strawberry.field(description="Failed attempts since its last success.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it was last changed.")
    pk: strawberry.Private[int]

    @strawberry.field(description="Its deliveries, newest first (a Relay connection); optionally of one status.")
    async def deliveries(
        self, info: Info,
        status: Annotated[WebhookDeliveryStatus | None,
                          strawberry.argument(description="Only deliveries in this state.")] = None,
        first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[WebhookDelivery]:
        page = page_request(first, after, last, before, info.context.settings.max_page_size)
        args = [self.pk, status.value if status else None]
        org = info.context.principal.org_id
        rows = await info.context.db.fetch(SQL["deliveries"], *args, *keyset_args(NEWEST_FIRST, page), org)

        async def count() -> int:
            return await info.context.db.fetchval(SQL["count_deliveries"], *args, org)

        return connection(rows, page, NEWEST_FIRST, WebhookDelivery.from_row, count)

    @classmethod
    def from_row(cls, row) -> "Webhook":
        return cls(id=to_global_id("Webhook", row["id"]), url=row["url"],
                   events=[WebhookEvent(e) for e in row["events"]], description=row["description"],
                   enabled=row["enabled"], disabled_at=row["disabled_at"],
                   disabled_reason=WebhookDisabledReason(row["disabled_reason"]) if row["disabled_reason"] else None,
                   consecutive_failures=row["consecutive_failures"], created_at=row["created_at"],
                   updated_at=row["updated_at"], pk=row["id"])


async def webhooks(info: Info, org_id: int) -> list[Webhook]:
    """The organization's endpoints (admin scope)."""
    if not info.context.principal.can(ADMIN):
        raise forbidden(ADMIN)
    return [Webhook.from_row(r) for r in await info.context.db.fetch(SQL["webhooks"], org_id)]
