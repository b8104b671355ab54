"""What every `steward` command shares: a message on stderr, and the database server to work on."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from service.config import Settings


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """Yield the server URL: DATABASE_URL, or the embedded cluster (stopped on exit if started here)."""
    if settings.database_url:
        say("steward: using PostgreSQL at DATABASE_URL")
        yield settings.database_url
        return
    from service.db.embedded import (
        EmbeddedPostgres,  # an extra: a clear ConfigError when it is not installed
    )

    embedded = EmbeddedPostgres(settings.pgdata, settings.embedded_port)
    url = embedded.start()
    state = "started" if embedded.started_here else "reusing running"
    say(f"steward: {state} embedded PostgreSQL in {embedded.pgdata} on 127.0.0.1:{settings.embedded_port}")
    try:
        yield url
    finally:
        if embedded.started_here:
            embedded.stop()
            say("steward: stopped embedded PostgreSQL")
