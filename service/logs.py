"""JSON log lines on stderr, each stamped with the request id of the request that wrote it."""
from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar

# Set by the request middleware for the duration of one request.
request_id: ContextVar[str | None] = ContextVar("steward_request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        current = request_id.get()
        if current is not None:
            line["request_id"] = current
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["stack"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Strawberry logs every GraphQL error, expected ones (NOT_FOUND…) included, at ERROR;
    # graphql_http logs the unexpected ones itself, with their stack and request id.
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)
