"""Shared pieces of the webhook tests: fast settings, the mutations, and reading the outbox."""
from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from service.config import Settings, WebhookSettings

from ..api.automation import sql

# Short retries so that outages play out in seconds; the local receiver needs the allow flag.
FAST = WebhookSettings(allow_private=True, poll_s=0.5, timeout_s=2.0, connect_timeout_s=0.5, retry_base_s=0.05,
                       retry_max_s=0.3, retry_window_s=3600, max_failures=1000, concurrency=8)


def settings(**hooks) -> Settings:
    """App settings with the fast webhook settings, changed by `hooks`."""
    return Settings(webhooks=replace(FAST, **hooks))


def no_worker(**hooks) -> Settings:
    return settings(worker=False, **hooks)


CREATE = """
mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) {
    __typename
    ... on CreateWebhookSuccess { replayed secret webhook { id url events description enabled } }
    ... on UserError { message field code }
  }
}
"""

UPDATE = """
mutation($input: UpdateWebhookInput!) {
  updateWebhook(input: $input) {
    __typename
    ... on UpdateWebhookSuccess { webhook { id url events description enabled disabledAt disabledReason
                                            consecutiveFailures } }
    ... on UserError { message field code }
  }
}
"""

DELETE = """
mutation($input: DeleteWebhookInput!) {
  deleteWebhook(input: $input) {
    __typename
    ... on DeleteWebhookSuccess { deletedWebhookId }
    ... on UserError { message field code }
  }
}
"""

TEST = """
mutation($input: TestWebhookInput!) {
  testWebhook(input: $input) {
    __typename
    ... on WebhookDeliveryQueued { delivery { id event messageId status } }
    ... on UserError { message field code }
  }
}
"""

REDELIVER = """
mutation($input: RedeliverWebhookDeliveryInput!) {
  redeliverWebhookDelivery(input: $input) {
    __typename
    ... on WebhookDeliveryQueued { delivery { id messageId status nextAttemptAt } }
    ... on UserError { message field code }
  }
}
"""

WEBHOOKS = """
query($slug: String!) {
  organization(slug: $slug) {
    webhooks {
      id url enabled disabledReason consecutiveFailures
      deliveries(first: 100) {
        totalCount
        edges { node { id event messageId status attemptCount nextAttemptAt deliveredAt payload
                       attempts { attempt statusCode latencyMs error nextRetryAt } } }
      }
    }
  }
}
"""


async def create(api, token: str, url: str, events=("OWNER_CHANGED",), **more) -> dict:
    body = await api.gql(CREATE, {"input": {"url": url, "events": list(events), **more}}, token)
    assert "errors" not in body, body["errors"]
    return body["data"]["createWebhook"]


async def outbox(db_url: str, org_id: int | None = None) -> list:
    """The outbox rows (of one organization), as the owner sees them."""
    return await sql(db_url, "select * from steward.webhook_deliveries where $1::bigint is null or org_id = $1"
                             " order by id", org_id)


async def all_settled(db_url: str, timeout: float = 10.0) -> list:
    """Wait until no delivery is PENDING (the worker recorded every answer); return the outbox."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await outbox(db_url)
        pending = [dict(r) for r in rows if r["status"] == "PENDING"]
        if not pending:
            return rows
        assert time.monotonic() < deadline, pending
        await asyncio.sleep(0.05)
