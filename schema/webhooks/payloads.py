"""What webhook mutations and the delivery worker share: signing secrets, and the payload of WEBHOOK_DISABLED."""
from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import Any

from schema.relay import to_global_id

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A signing secret: `whsec_` and base64 of 32 random bytes (Standard Webhooks)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def instant(at: datetime) -> str:
    """An instant as payloads write it (as steward.webhook_instant does): UTC, microseconds, Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def disabled_payload(row: Any, reason: str) -> dict:
    """The data of a WEBHOOK_DISABLED event: the endpoint, why (FAILURES or MANUAL), when."""
    return {
        "webhook": {"id": to_global_id("Webhook", row["id"]), "url": row["url"], "description": row["description"]},
        "reason": reason,
        "consecutiveFailures": row["consecutive_failures"],
        "disabledAt": instant(row["disabled_at"]),
    }
