"""One webhook attempt: sign the payload (Standard Webhooks), send it to a checked address, judge the answer."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from schema.webhooks import urls as webhook_urls
from schema.webhooks.payloads import new_secret  # noqa: F401  (webhook_sender.new_secret, for callers)
from service.config import WebhookSettings

# Enough of an answer to say what went wrong; the rest is never read.
MAX_RESPONSE_BYTES = 16_384
MAX_ERROR_LENGTH = 300
USER_AGENT = "Steward-Webhooks/1"


def signed_headers(secret: str, message_id: str, body: str, at: datetime | None = None) -> dict[str, str]:
    """webhook-id, webhook-timestamp and webhook-signature for `body`, signed now (or `at`)."""
    at = at or datetime.now(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a 2xx is a success; anything else (or no answer) a failure, with why."""

    ok: bool
    status_code: int | None
    latency_ms: int
    error: str | None


def client(settings: WebhookSettings) -> httpx.AsyncClient:
    """The worker's HTTP client: no redirects, no proxies from the environment, no connection reuse.

    Each attempt connects to the address it checked (with the name as Host and TLS server
    name), so a kept-alive connection must never serve another name at the same address.
    """
    return httpx.AsyncClient(
        follow_redirects=False, trust_env=False,
        timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
        limits=httpx.Limits(max_connections=settings.concurrency, max_keepalive_connections=0),
        headers={"user-agent": USER_AGENT},
    )


async def send(http: httpx.AsyncClient, settings: WebhookSettings, url: str, secret: str, message_id: str,
               body: str) -> Outcome:
    """Check the URL's addresses now, then POST the signed body to the first; bounded in time and size."""
    started = time.monotonic()

    def outcome(ok: bool, status: int | None, error: str | None) -> Outcome:
        return Outcome(ok, status, int((time.monotonic() - started) * 1000),
                       None if error is None else error[:MAX_ERROR_LENGTH])

    try:
        async with asyncio.timeout(settings.timeout_s):
            target = await webhook_urls.check(url, settings.allow_private)
            address = target.addresses[0]
            original = httpx.URL(url)
            pinned = original.copy_with(host=str(address))
            headers = {"host": original.netloc.decode("ascii"), "content-type": "application/json",
                       **signed_headers(secret, message_id, body)}
            extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
            request = http.build_request("POST", pinned, content=body.encode(), headers=headers,
                                         extensions=extensions)
            response = await http.send(request, stream=True)
            try:
                answer = await _bounded_read(response)
            finally:
                await response.aclose()
    except webhook_urls.UnsafeUrl as exc:
        return outcome(False, None, f"refused: {exc}")
    except TimeoutError:
        return outcome(False, None, f"timed out after {settings.timeout_s:g} s")
    except httpx.TimeoutException as exc:
        return outcome(False, None, f"timed out ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return outcome(False, None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    if 200 <= response.status_code < 300:
        return outcome(True, response.status_code, None)
    if 300 <= response.status_code < 400:
        return outcome(False, response.status_code, "redirects are not followed: point the webhook at the final URL")
    text = answer.decode("utf-8", "replace").strip()
    return outcome(False, response.status_code, f"HTTP {response.status_code}" + (f": {text}" if text else ""))


async def _bounded_read(response: httpx.Response) -> bytes:
    """The first MAX_RESPONSE_BYTES of the body; a receiver that sends more is not read further."""
    chunks, size = [], 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_RESPONSE_BYTES:
            break
    return b"".join(chunks)[:MAX_RESPONSE_BYTES]
