"""Webhook mutations (admin): create, update, delete, test an endpoint; redeliver a delivery."""
from __future__ import annotations

import json
from typing import Annotated, ClassVar

import strawberry

from schema.errors import ConflictError, NotFoundError, PermissionError, ValidationError, present
from schema.info import Info
from schema.relay import to_global_id
from schema.webhooks import urls as webhook_urls
from schema.webhooks.payloads import disabled_payload, instant, new_secret
from schema.webhooks.types import SQL, Webhook, WebhookDelivery, WebhookEvent
from schema.writes import IDEMPOTENCY_KEY, INPUT, REPLAYED, Write, conflict, invalid, missing, run, success, text

ADMIN = "admin"
MAX_DESCRIPTION = 1000
SUBSCRIBABLE = (WebhookEvent.HEALTH_CHANGED, WebhookEvent.OWNER_CHANGED, WebhookEvent.WEBHOOK_DISABLED)


async def _webhook(info: Info, pk: int) -> Webhook:
    return Webhook.from_row(await info.context.db.fetchrow(SQL["webhook"], pk, info.context.principal.org_id))


async def _delivery(info: Info, pk: int) -> WebhookDelivery:
    return WebhookDelivery.from_row(await info.context.db.fetchrow(SQL["delivery"], pk, info.context.principal.org_id))


async def _url(w: Write, value: str | None) -> str:
    """A URL a webhook may use now: http(s), resolving to public addresses only (unless allowed)."""
    url = text(value, "url", required=True, limit=webhook_urls.MAX_URL_LENGTH)
    try:
        await webhook_urls.check(url, w.ctx.settings.webhooks.allow_private)
    except webhook_urls.UnsafeUrl as exc:
        raise invalid(str(exc), "url") from None
    return url


def _events(values: list[WebhookEvent] | None) -> list[str]:
    if not values:
        raise invalid("events must name at least one event", "events")
    if WebhookEvent.WEBHOOK_TEST in values:
        raise invalid("WEBHOOK_TEST is sent by testWebhook only; subscribe to "
                      + ", ".join(e.value for e in SUBSCRIBABLE), "events")
    return [e.value for e in SUBSCRIBABLE if e in values]  # a fixed order, duplicates dropped


def _disabled_event(row) -> str:
    return json.dumps(disabled_payload(row, "MANUAL"))


# --- createWebhook --------------------------------------------------------------------------------

@strawberry.input(description="A new webhook endpoint.")
class CreateWebhookInput:
    url: str = strawberry.field(description="Where to POST events: http(s), a public address (checked on the "
                                            "resolved addresses now and before every attempt); redirects are "
                                            "not followed.")
    events: list[WebhookEvent] = strawberry.field(description="The events to receive (not WEBHOOK_TEST).")
    description: str | None = strawberry.field(default=None, description="What it is for (up to 1000 characters).")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@success
@strawberry.type(description="The endpoint was created. Keep the secret: it is shown only here.")
class CreateWebhookSuccess:
    NOT_REPLAYED: ClassVar[tuple[str, ...]] = ("secret",)
    replayed: bool = strawberry.field(description=REPLAYED)
    secret: str | None = strawberry.field(
        default=None, description="The signing secret (`whsec_` + base64 of 32 random bytes) for "
                                  "standardwebhooks' Webhook(secret).verify. Shown once: null when replayed, "
                                  "and never readable again (delete the webhook and create another to replace it).")
    webhook_pk: strawberry.Private[int]

    @strawberry.field(description="The new endpoint.")
    async def webhook(self, info: Info) -> Webhook:
        return await _webhook(info, self.webhook_pk)


CreateWebhookPayload = Annotated[
    CreateWebhookSuccess | ConflictError | ValidationError | PermissionError,
    strawberry.union("CreateWebhookPayload", description="The result of createWebhook: the success or a typed error."),
]


async def create_webhook(info: Info, input: Annotated[CreateWebhookInput, INPUT]) -> CreateWebhookPayload:
    async def work(w: Write) -> CreateWebhookSuccess:
        events = _events(input.events)
        description = text(input.description, "description", limit=MAX_DESCRIPTION)
        url = await _url(w, input.url)
        secret = new_secret()
        pk = await w.db.fetchval(SQL["create_webhook"], w.org_id, url, events, description, secret)
        return CreateWebhookSuccess(replayed=False, secret=secret, webhook_pk=pk)

    return await run(info, "createWebhook", ADMIN, input, work)


# --- updateWebhook --------------------------------------------------------------------------------

@strawberry.input(description="Changes to a webhook endpoint; fields left out stay as they are.")
class UpdateWebhookInput:
    id: strawberry.ID = strawberry.field(description="The webhook.")
    url: str | None = strawberry.field(default=strawberry.UNSET, description="A new URL (checked as on create).")
    events: list[WebhookEvent] | None = strawberry.field(default=strawberry.UNSET, description="The events to "
                                                                                              "receive.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="What it is for; null "
                                                                                    "clears it.")
    enabled: bool | None = strawberry.field(
        default=strawberry.UNSET, description="false stops sending (deliveries wait; a WEBHOOK_DISABLED event "
                                              "goes to the other endpoints); true resumes and clears the failure "
                                              "count.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@success
@strawberry.type(description="The endpoint was changed.")
class UpdateWebhookSuccess:
    replayed: bool = strawberry.field(description=REPLAYED)
    webhook_pk: strawberry.Private[int]

    @strawberry.field(description="The endpoint, as changed.")
    async def webhook(self, info: Info) -> Webhook:
        return await _webhook(info, self.webhook_pk)


UpdateWebhookPayload = Annotated[
    UpdateWebhookSuccess | NotFoundError | ConflictError | ValidationError | PermissionError,
    strawberry.union("UpdateWebhookPayload", description="The result of updateWebhook: the success or a typed error."),
]


async def update_webhook(info: Info, input: Annotated[UpdateWebhookInput, INPUT]) -> UpdateWebhookPayload:
    async def work(w: Write) -> UpdateWebhookSuccess:
        pk = w.decode(input.id, "Webhook", "id")
        if input.url is None:
            raise invalid("url cannot be cleared", "url")
        if input.events is None:
            raise invalid("events cannot be cleared", "events")
        if input.enabled is None:
            raise invalid("enabled must be true or false", "enabled")
        url = await _url(w, input.url) if input.url is not strawberry.UNSET else None
        events = _events(input.events) if input.events is not strawberry.UNSET else None
        has_description = input.description is not strawberry.UNSET
        description = text(input.description, "description", limit=MAX_DESCRIPTION) if has_description else None
        enabled = input.enabled if input.enabled is not strawberry.UNSET else None
        row = await w.db.fetchrow(SQL["update_webhook"], pk, url, events, description, has_description, enabled,
                                     w.org_id)
        if row is None:
            raise missing("Webhook", "id")
        if row["disabled_now"]:
            await w.db.fetchval(SQL["enqueue"], w.org_id, "WEBHOOK_DISABLED", _disabled_event(row))
        return UpdateWebhookSuccess(replayed=False, webhook_pk=pk)

    return await run(info, "updateWebhook", ADMIN, input, work)


# --- deleteWebhook --------------------------------------------------------------------------------

@strawberry.input(description="Remove a webhook endpoint with its deliveries and their attempts.")
class DeleteWebhookInput:
    id: strawberry.ID = strawberry.field(description="The webhook.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@success
@strawberry.type(description="The endpoint is gone; nothing more is sent to it.")
class DeleteWebhookSuccess:
    replayed: bool = strawberry.field(description=REPLAYED)
    deleted_webhook_id: strawberry.ID = strawberry.field(description="The global ID the webhook had.")


DeleteWebhookPayload = Annotated[
    DeleteWebhookSuccess | NotFoundError | ValidationError | PermissionError | ConflictError,
    strawberry.union("DeleteWebhookPayload", description="The result of deleteWebhook: the success or a typed error."),
]


async def delete_webhook(info: Info, input: Annotated[DeleteWebhookInput, INPUT]) -> DeleteWebhookPayload:
    async def work(w: Write) -> DeleteWebhookSuccess:
        pk = w.decode(input.id, "Webhook", "id")
        if await w.db.fetchval(SQL["delete_webhook"], pk, w.org_id) is None:
            raise missing("Webhook", "id")
        return DeleteWebhookSuccess(replayed=False, deleted_webhook_id=to_global_id("Webhook", pk))

    return await run(info, "deleteWebhook", ADMIN, input, work)


# --- testWebhook and redeliverWebhookDelivery ------------------------------------------------------

@strawberry.input(description="Send a test event (`webhook.test`) to one endpoint, through the outbox.")
class TestWebhookInput:
    __test__ = False  # not a pytest class
    id: strawberry.ID = strawberry.field(description="The webhook; it must be enabled.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="Send a delivery again now, with the same webhook-id and payload.")
class RedeliverWebhookDeliveryInput:
    id: strawberry.ID = strawberry.field(description="The delivery (WebhookDelivery.id).")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@success
@strawberry.type(description="The delivery is in the outbox, due now; follow it in Webhook.deliveries.")
class WebhookDeliveryQueued:
    replayed: bool = strawberry.field(description=REPLAYED)
    delivery_pk: strawberry.Private[int]

    @strawberry.field(description="The delivery.")
    async def delivery(self, info: Info) -> WebhookDelivery:
        return await _delivery(info, self.delivery_pk)


TestWebhookPayload = Annotated[
    WebhookDeliveryQueued | NotFoundError | ConflictError | ValidationError | PermissionError,
    strawberry.union("TestWebhookPayload", description="The result of testWebhook: the queued delivery or a typed "
                                                       "error."),
]
RedeliverWebhookDeliveryPayload = Annotated[
    WebhookDeliveryQueued | NotFoundError | ConflictError | ValidationError | PermissionError,
    strawberry.union("RedeliverWebhookDeliveryPayload",
                     description="The result of redeliverWebhookDelivery: the queued delivery or a typed error."),
]


async def _must_be_enabled(w: Write, webhook_pk: int, field: str) -> None:
    enabled = await w.db.fetchval(SQL["webhook_enabled"], webhook_pk, w.org_id)
    if enabled is None:
        raise missing("Webhook", field)
    if not enabled:
        raise conflict("the webhook is disabled: enable it with updateWebhook first", field)


async def test_webhook(info: Info, input: Annotated[TestWebhookInput, INPUT]) -> TestWebhookPayload:
    async def work(w: Write) -> WebhookDeliveryQueued:
        pk = w.decode(input.id, "Webhook", "id")
        await _must_be_enabled(w, pk, "id")
        webhook = present(await w.db.fetchrow(SQL["webhook"], pk, w.org_id), "the webhook")
        payload = {"type": "webhook.test", "timestamp": instant(await w.now()),
                   "data": {"webhook": {"id": to_global_id("Webhook", pk), "url": webhook["url"]},
                            "message": "A test event from Steward: the endpoint and the signature work."}}
        row = present(await w.db.fetchrow(SQL["test_delivery"], w.org_id, pk, json.dumps(payload)), "the delivery")
        return WebhookDeliveryQueued(replayed=False, delivery_pk=row["id"])

    return await run(info, "testWebhook", ADMIN, input, work)


test_webhook.__test__ = False  # type: ignore[attr-defined]  # not a pytest test (mypy: no function attributes)


async def redeliver_webhook_delivery(
    info: Info, input: Annotated[RedeliverWebhookDeliveryInput, INPUT]
) -> RedeliverWebhookDeliveryPayload:
    async def work(w: Write) -> WebhookDeliveryQueued:
        pk = w.decode(input.id, "WebhookDelivery", "id")
        delivery = await w.db.fetchrow(SQL["delivery"], pk, w.org_id)
        if delivery is None:
            raise missing("WebhookDelivery", "id")
        await _must_be_enabled(w, delivery["webhook_id"], "id")
        await w.db.fetchrow(SQL["redeliver"], pk, w.org_id)
        return WebhookDeliveryQueued(replayed=False, delivery_pk=pk)

    return await run(info, "redeliverWebhookDelivery", ADMIN, input, work)


@strawberry.type(description="Webhook endpoints and deliveries (admin).")
class WebhookMutations:
    create_webhook = strawberry.mutation(resolver=create_webhook, description=(
        "Add a webhook endpoint; returns its signing secret, once. Needs admin."))
    update_webhook = strawberry.mutation(resolver=update_webhook, description=(
        "Change a webhook endpoint: url, events, description, enabled. Needs admin."))
    delete_webhook = strawberry.mutation(resolver=delete_webhook, description=(
        "Remove a webhook endpoint and its deliveries. Needs admin."))
    test_webhook = strawberry.mutation(resolver=test_webhook, description=(
        "Send a test event (webhook.test) to an endpoint through the outbox. Needs admin."))
    redeliver_webhook_delivery = strawberry.mutation(resolver=redeliver_webhook_delivery, description=(
        "Send a delivery again now, with the same webhook-id. Needs admin."))
