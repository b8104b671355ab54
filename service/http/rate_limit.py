"""Requests per bearer token, counted in this process's memory (moving window), refused before any SQL.

The key is a hash of the token as sent, so a refusal costs no lookup; an unknown
token is counted like any other and then refused by authentication. Counts live
in the process: N workers or replicas allow N times the limit in all.
Headers follow the IETF draft "RateLimit header fields for HTTP"
(RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset in seconds).
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

import limits
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # seconds until the window has room again

    @property
    def headers(self) -> dict[str, str]:
        headers = {"ratelimit-limit": str(self.limit), "ratelimit-remaining": str(self.remaining),
                   "ratelimit-reset": str(self.reset_s)}
        if not self.allowed:
            headers["retry-after"] = str(self.reset_s)
        return headers


class RateLimiter:
    """One moving window per token; `hit()` counts a request and says whether it may run."""

    def __init__(self, rate: str):
        self.item = limits.parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def hit(self, token: str) -> Verdict:
        key = hashlib.sha256(token.encode()).hexdigest()
        allowed = await self.limiter.hit(self.item, key)
        stats = await self.limiter.get_window_stats(self.item, key)
        reset = max(1, math.ceil(stats.reset_time - time.time()))
        return Verdict(allowed, self.item.amount, stats.remaining, reset)


def concurrency_headers(limit: int, retry_after_s: int) -> dict[str, str]:
    """For a refusal by a concurrency bound: no window to report, so Reset is the suggested retry."""
    return {"ratelimit-limit": str(limit), "ratelimit-remaining": "0", "ratelimit-reset": str(retry_after_s),
            "retry-after": str(retry_after_s)}


def limiter_for(rate: str | None) -> RateLimiter | None:
    return RateLimiter(rate) if rate else None
