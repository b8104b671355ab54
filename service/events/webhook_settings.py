"""Settings of the webhook worker (STEWARD_WEBHOOK_*), read from the environment once and validated."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WebhookSettings:
    # Run the delivery worker inside `steward serve` (every replica may: they share the work).
    worker: bool = True
    # Let webhooks reach loopback, private, link-local, reserved and multicast addresses (a local receiver).
    allow_private: bool = False
    # A run of this many failed attempts in a row disables the endpoint (a WEBHOOK_DISABLED event).
    max_failures: int = 20
    connect_timeout_s: float = 3.0
    # The whole attempt: connect, send, and read the (bounded) answer.
    timeout_s: float = 10.0
    # Without a notification the worker still looks for due deliveries this often.
    poll_s: float = 5.0
    # Backoff: base × 2^(attempt-1), capped, with jitter; retried for `retry_window_s` from the event.
    retry_base_s: float = 5.0
    retry_max_s: float = 3600.0
    retry_window_s: float = 86_400.0
    # Deliveries one worker sends at once.
    concurrency: int = 8

    @property
    def lease_s(self) -> float:
        """How long a claimed delivery is the claimer's: past it, another worker may send it again."""
        return 2 * self.timeout_s + 5

    @classmethod
    def from_env(cls, env: dict[str, str]) -> "WebhookSettings":
        from service.config import ConfigError, _bool, _int

        timeout_ms = _int(env, "STEWARD_WEBHOOK_TIMEOUT_MS", 10_000, 100, 60_000)
        connect_ms = _int(env, "STEWARD_WEBHOOK_CONNECT_TIMEOUT_MS", 3000, 50, 60_000)
        if connect_ms > timeout_ms:
            raise ConfigError("STEWARD_WEBHOOK_CONNECT_TIMEOUT_MS must not exceed STEWARD_WEBHOOK_TIMEOUT_MS")
        base_ms = _int(env, "STEWARD_WEBHOOK_RETRY_BASE_MS", 5000, 10, 3_600_000)
        max_ms = _int(env, "STEWARD_WEBHOOK_RETRY_MAX_MS", 3_600_000, 10, 86_400_000)
        if base_ms > max_ms:
            raise ConfigError("STEWARD_WEBHOOK_RETRY_BASE_MS must not exceed STEWARD_WEBHOOK_RETRY_MAX_MS")
        return cls(
            worker=_bool(env, "STEWARD_WEBHOOK_WORKER", True),
            allow_private=_bool(env, "STEWARD_WEBHOOK_ALLOW_PRIVATE", False),
            max_failures=_int(env, "STEWARD_WEBHOOK_MAX_FAILURES", 20, 1, 10_000),
            connect_timeout_s=connect_ms / 1000,
            timeout_s=timeout_ms / 1000,
            poll_s=_int(env, "STEWARD_WEBHOOK_POLL_MS", 5000, 10, 600_000) / 1000,
            retry_base_s=base_ms / 1000,
            retry_max_s=max_ms / 1000,
            retry_window_s=_int(env, "STEWARD_WEBHOOK_RETRY_WINDOW_S", 86_400, 1, 30 * 86_400),
            concurrency=_int(env, "STEWARD_WEBHOOK_CONCURRENCY", 8, 1, 100),
        )
