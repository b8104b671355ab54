"""Settings, read from the environment once and validated."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import limits

# `steward serve --workers N` / STEWARD_WORKERS: at most this many processes.
MAX_WORKERS = 64


class ConfigError(ValueError):
    """A setting is missing or unsafe."""


def _int(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _rate_limit(raw: str) -> str | None:
    """A `limits` rate string such as "1200/minute" or "20 per second"; "off" disables the limit."""
    raw = raw.strip()
    if raw.lower() in ("off", "none", "0", "false"):
        return None
    try:
        items = limits.parse_many(raw)
    except ValueError:
        items = []
    if len(items) != 1:
        raise ConfigError(f"STEWARD_RATE_LIMIT must be one rate such as 1200/minute or 20/second, or off;"
                          f" got {raw!r}")
    if items[0].amount < 1:
        raise ConfigError(f"STEWARD_RATE_LIMIT must allow at least one request; got {raw!r}")
    return raw


# Settings of the webhook worker (STEWARD_WEBHOOK_*), a part of Settings.
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


# Read replicas (STEWARD_REPLICA_*), a part of Settings: service/db/replicas.py.
@dataclass(frozen=True)
class ReplicaSettings:
    # Hot standbys of DATABASE_URL's server that serve queries; none: everything runs on the primary.
    urls: tuple[str, ...] = ()
    # A replica serves queries while its measured replay lag is at most this.
    max_lag_ms: int = 1000
    # How often each replica's lag (and the primary's reachability) is measured.
    check_interval_s: float = 0.25

    @classmethod
    def from_env(cls, env: dict[str, str], database_url: str | None) -> "ReplicaSettings":
        urls = tuple(u.strip() for u in env.get("STEWARD_REPLICA_URLS", "").split(",") if u.strip())
        for url in urls:
            if not url.startswith(("postgres://", "postgresql://")):
                raise ConfigError("STEWARD_REPLICA_URLS must be postgresql:// URLs separated by commas")
        if urls and not database_url:
            raise ConfigError("STEWARD_REPLICA_URLS needs DATABASE_URL: replicas are standbys of that primary, "
                              "never of the embedded PostgreSQL")
        if len(set(urls)) < len(urls):
            raise ConfigError("STEWARD_REPLICA_URLS lists a replica twice")
        return cls(urls=urls, max_lag_ms=_int(env, "STEWARD_REPLICA_MAX_LAG_MS", 1000, 0, 3_600_000),
                   check_interval_s=_int(env, "STEWARD_REPLICA_CHECK_MS", 250, 10, 60_000) / 1000)


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    data_dir: Path = Path(".steward")
    embedded_port: int = 54329
    host: str = "127.0.0.1"
    port: int = 8000
    # `steward serve` processes behind the one port (service/cli.py); rate limits, /metrics and
    # subscription counts are per process, everything else that matters lives in PostgreSQL
    workers: int = 1
    log_level: str = "INFO"
    pool_min: int = 2
    pool_max: int = 10
    statement_timeout_ms: int = 5000
    request_timeout_s: float = 10.0
    db_connect_timeout_s: float = 2.0
    max_page_size: int = 100
    # compiled reads (schema/compiled): a query the compiler takes whole runs as one SQL statement
    compile: bool = True
    max_body_bytes: int = 100_000
    max_ingest_bytes: int = 1_073_741_824
    ingest_timeout_ms: int = 600_000
    ingest_max_errors: int = 100
    ingest_concurrency: int = 2
    # None: pool_max - 2 (at least 1), so GraphQL always keeps connections while ingests run
    ingest_transactions: int | None = None
    # a request body must arrive at this average rate once the grace period is over (408 otherwise)
    body_min_bytes_per_s: int = 1024
    body_grace_s: float = 10.0
    # per bearer token and process, moving window ("1200/minute"); None disables it
    rate_limit: str | None = "1200/minute"
    # Relay's edges/node levels are not counted (see service/http/limits.py), so GraphQL-armor's 6 fits.
    max_depth: int = 6
    max_aliases: int = 15
    max_directives: int = 50
    max_tokens: int = 1000
    max_cost: int = 5000
    introspection: bool = True
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    require_database_url: bool = False
    metrics_token: str | None = None
    trusted_documents: str = "off"
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    # seconds between passes of the TIME health evaluator (service/events/evaluator.py); 0 disables it
    health_evaluator_interval_s: float = 60.0
    # GraphQL subscriptions over WebSocket (service/http/websocket.py)
    ws_init_timeout_s: float = 10.0
    ws_ping_interval_s: float = 15.0
    ws_send_timeout_s: float = 10.0
    max_subscriptions_per_connection: int = 20
    max_subscriptions_per_token: int = 100
    subscription_queue: int = 100
    replicas: ReplicaSettings = field(default_factory=ReplicaSettings)
    # Partitioned history (service/db/partitions.py, docs/operations.md): monthly partitions of
    # steward.conversations created this many months ahead, checked every interval (0 disables the
    # task; `steward migrate` still creates them); retention in whole months, None keeps everything.
    partition_months_ahead: int = 3
    partition_interval_s: float = 3600.0
    retention_months: int | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        log_level = env.get("STEWARD_LOG_LEVEL", "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(f"STEWARD_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
        database_url = env.get("DATABASE_URL") or None
        if database_url and not database_url.startswith(("postgres://", "postgresql://")):
            raise ConfigError("DATABASE_URL must be a postgresql:// URL")
        pool_min = _int(env, "STEWARD_POOL_MIN", 2, 0, 100)
        pool_max = _int(env, "STEWARD_POOL_MAX", 10, 1, 100)
        if pool_min > pool_max:
            raise ConfigError("STEWARD_POOL_MIN must not exceed STEWARD_POOL_MAX")
        # Set in the container image: there, an embedded PostgreSQL would silently lose data.
        require_database_url = _bool(env, "STEWARD_REQUIRE_DATABASE_URL", False)
        if require_database_url and not database_url:
            raise ConfigError("DATABASE_URL is required here (STEWARD_REQUIRE_DATABASE_URL is set): "
                              "point it at your PostgreSQL, e.g. postgresql://user@host:5432/steward")
        trusted_documents = (env.get("STEWARD_TRUSTED_DOCUMENTS") or "off").lower()
        if trusted_documents not in ("off", "only"):
            raise ConfigError(f"STEWARD_TRUSTED_DOCUMENTS must be off or only, got {trusted_documents!r}")
        ingest_transactions = _int(env, "STEWARD_INGEST_TRANSACTIONS", 0, 0, 100) or None
        if ingest_transactions is not None and ingest_transactions > pool_max:
            raise ConfigError("STEWARD_INGEST_TRANSACTIONS must not exceed STEWARD_POOL_MAX")
        rate_limit = _rate_limit(env.get("STEWARD_RATE_LIMIT") or "1200/minute")
        origins = tuple(o.strip() for o in env.get("STEWARD_CORS_ORIGINS", "").split(",") if o.strip())
        if "*" in origins:
            raise ConfigError("STEWARD_CORS_ORIGINS must list origins; '*' would expose tokens to any site")
        return cls(
            database_url=database_url,
            data_dir=Path(env.get("STEWARD_DATA_DIR", ".steward")),
            embedded_port=_int(env, "STEWARD_EMBEDDED_PORT", 54329, 1024, 65535),
            host=env.get("STEWARD_HOST", "127.0.0.1"),
            port=_int(env, "STEWARD_PORT", 8000, 1, 65535),
            workers=_int(env, "STEWARD_WORKERS", 1, 1, MAX_WORKERS),
            log_level=log_level,
            pool_min=pool_min,
            pool_max=pool_max,
            statement_timeout_ms=_int(env, "STEWARD_STATEMENT_TIMEOUT_MS", 5000, 100, 600_000),
            request_timeout_s=_int(env, "STEWARD_REQUEST_TIMEOUT_MS", 10_000, 100, 600_000) / 1000,
            db_connect_timeout_s=_int(env, "STEWARD_DB_CONNECT_TIMEOUT_MS", 2000, 100, 60_000) / 1000,
            max_page_size=_int(env, "STEWARD_MAX_PAGE_SIZE", 100, 1, 1000),
            max_body_bytes=_int(env, "STEWARD_MAX_BODY_BYTES", 100_000, 1000, 10_000_000),
            max_ingest_bytes=_int(env, "STEWARD_MAX_INGEST_BYTES", 1_073_741_824, 1000, 1 << 40),
            # one ingest request: statement timeout, errors listed, concurrent requests per token
            ingest_timeout_ms=_int(env, "STEWARD_INGEST_TIMEOUT_MS", 600_000, 1000, 86_400_000),
            ingest_max_errors=_int(env, "STEWARD_INGEST_MAX_ERRORS", 100, 0, 100_000),
            ingest_concurrency=_int(env, "STEWARD_INGEST_CONCURRENCY", 2, 1, 100),
            ingest_transactions=ingest_transactions,
            # 0 turns the minimum rate off
            body_min_bytes_per_s=_int(env, "STEWARD_BODY_MIN_BYTES_PER_S", 1024, 0, 1 << 30),
            body_grace_s=_int(env, "STEWARD_BODY_GRACE_MS", 10_000, 100, 3_600_000) / 1000,
            rate_limit=rate_limit,
            compile=_bool(env, "STEWARD_COMPILE", True),
            max_depth=_int(env, "STEWARD_MAX_DEPTH", 6, 2, 50),
            max_aliases=_int(env, "STEWARD_MAX_ALIASES", 15, 0, 1000),
            max_directives=_int(env, "STEWARD_MAX_DIRECTIVES", 50, 0, 1000),
            max_tokens=_int(env, "STEWARD_MAX_TOKENS", 1000, 10, 100_000),
            max_cost=_int(env, "STEWARD_MAX_COST", 5000, 1, 10_000_000),
            introspection=_bool(env, "STEWARD_INTROSPECTION", True),
            cors_origins=origins,
            require_database_url=require_database_url,
            # When set, /metrics asks for `Authorization: Bearer <it>` (Prometheus' `authorization` config).
            metrics_token=env.get("STEWARD_METRICS_TOKEN") or None,
            trusted_documents=trusted_documents,
            webhooks=WebhookSettings.from_env(env),
            health_evaluator_interval_s=_int(env, "STEWARD_HEALTH_EVALUATOR_INTERVAL_S", 60, 0, 86_400),
            ws_init_timeout_s=_int(env, "STEWARD_WS_INIT_TIMEOUT_MS", 10_000, 100, 600_000) / 1000,
            ws_ping_interval_s=_int(env, "STEWARD_WS_PING_INTERVAL_MS", 15_000, 100, 3_600_000) / 1000,
            ws_send_timeout_s=_int(env, "STEWARD_WS_SEND_TIMEOUT_MS", 10_000, 100, 600_000) / 1000,
            max_subscriptions_per_connection=_int(env, "STEWARD_MAX_SUBSCRIPTIONS_PER_CONNECTION", 20, 1, 10_000),
            max_subscriptions_per_token=_int(env, "STEWARD_MAX_SUBSCRIPTIONS_PER_TOKEN", 100, 1, 1_000_000),
            # events a subscription may fall behind before it is dropped (service/events/hub.py)
            subscription_queue=_int(env, "STEWARD_SUBSCRIPTION_QUEUE", 100, 1, 100_000),
            replicas=ReplicaSettings.from_env(env, database_url),
            # partitioned history: see the field comments
            partition_months_ahead=_int(env, "STEWARD_PARTITION_MONTHS_AHEAD", 3, 1, 120),
            partition_interval_s=_int(env, "STEWARD_PARTITION_INTERVAL_S", 3600, 0, 86_400),
            retention_months=_int(env, "STEWARD_RETENTION_MONTHS", 0, 1, 1200) or None,
        )

    @property
    def ingest_slots(self) -> int:
        """Ingest transactions allowed at once in this process."""
        return self.ingest_transactions or max(1, self.pool_max - 2)

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"
