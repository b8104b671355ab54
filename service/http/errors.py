"""The error envelope of the HTTP edge, for GraphQL (POST/GET and WebSocket) and ingest alike.

One exception, `RequestError`, for every refusal before execution: a malformed request, a missing
or revoked token (401), too many requests (429), a database outage (503), a deadline (504/408), a
document over a limit or invalid (`QueryRejected`). GraphQL answers it with `answer()`,
`{"errors": [{"message", "extensions": {"code", …}}]}`; ingest with its documented `{"error": message}`.
Errors raised during execution are shaped and masked by `format_error`.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

import asyncpg
from graphql import GraphQLError, GraphQLFormattedError
from starlette.responses import Response

from service.http.health import database_down

log = logging.getLogger("steward.graphql")

GRAPHQL_RESPONSE = "application/graphql-response+json"
INTERNAL_ERROR = "Internal server error."
SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


class RequestError(Exception):
    """A request refused before anything runs: its `status`, GraphQL error code and response headers."""

    def __init__(self, status: int, message: str, code: str = "BAD_REQUEST", headers: Mapping[str, str] | None = None,
                 **extensions: Any):
        super().__init__(message)
        self.status, self.code, self.headers, self.extensions = status, code, dict(headers or {}), extensions

    @property
    def errors(self) -> list[GraphQLFormattedError]:
        return [{"message": str(self), "extensions": {"code": self.code, **self.extensions}}]

    def status_for(self, media_type: str) -> int:
        return self.status


class QueryRejected(RequestError):
    """The document failed parsing, a limit or validation; `errors` are GraphQL errors for the caller.

    The GraphQL-over-HTTP spec: a document that fails validation is a 400 in graphql-response+json,
    a 200 in plain JSON.
    """

    def __init__(self, errors: list[GraphQLFormattedError]):
        first = errors[0]
        super().__init__(400, first["message"], first.get("extensions", {}).get("code", "GRAPHQL_VALIDATION_FAILED"))
        self._errors = errors

    @property
    def errors(self) -> list[GraphQLFormattedError]:
        return self._errors

    def status_for(self, media_type: str) -> int:
        return 400 if media_type == GRAPHQL_RESPONSE else 200


def rejected(code: str, message: str, **extensions: Any) -> QueryRejected:
    return QueryRejected([{"message": message, "extensions": {"code": code, **extensions}}])


def error_body(message: str, code: str, **extensions: Any) -> dict:
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


def json_response(body: dict, status: int, media_type: str = "application/json",
                  headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type=media_type,
                    headers=headers)


def answer(exc: RequestError, media_type: str = "application/json", headers: Mapping[str, str] | None = None
           ) -> Response:
    """A refused GraphQL request: its errors, the status for `media_type`, its headers after `headers`."""
    return json_response({"errors": exc.errors}, exc.status_for(media_type), media_type,
                         {**(headers or {}), **exc.headers})


# The refusals every endpoint shares.
def unauthenticated(token_sent: bool) -> RequestError:
    if not token_sent:
        return RequestError(401, "send `Authorization: Bearer <token>`", "UNAUTHENTICATED",
                            {"www-authenticate": "Bearer"})
    return RequestError(401, "the token is unknown or revoked", "UNAUTHENTICATED",
                        {"www-authenticate": 'Bearer error="invalid_token"'})


def unavailable() -> RequestError:
    return RequestError(503, "the database is unavailable; retry shortly", "SERVICE_UNAVAILABLE",
                        {"retry-after": "1"})


def body_timeout(message: str) -> RequestError:
    # the unread rest of the body makes the connection unusable for another request
    return RequestError(408, message, "REQUEST_TIMEOUT", {"connection": "close"})


def deadline_passed(seconds: float) -> RequestError:
    return RequestError(504, f"the request took longer than {seconds:g}s and was cancelled", "TIMEOUT")


def without_suggestions(message: str) -> str:
    """Drop "Did you mean …?" hints: they let a caller map the schema field by field."""
    return SUGGESTION.sub("", message)


def graphql_error(error: GraphQLError, code: str) -> GraphQLFormattedError:
    """A graphql-core error (syntax, validation, variables) for the caller: no suggestions, `code` set."""
    formatted = error.formatted
    formatted["message"] = without_suggestions(formatted["message"])
    formatted.setdefault("extensions", {})["code"] = code
    return formatted


# Database failures inside resolvers: a stable code and a plain message, no stack in the log.
DATABASE_ERRORS = {
    "TIMEOUT": "the query ran past the statement timeout and was cancelled",
    "TRANSACTION_ABORTED": "not run: an earlier statement of this request failed (see the other errors)",
    "SERVICE_UNAVAILABLE": "the database is unavailable; retry shortly",
}


def database_error_code(exc: BaseException) -> str | None:
    if isinstance(exc, asyncpg.exceptions.QueryCanceledError):
        return "TIMEOUT"
    if isinstance(exc, asyncpg.exceptions.InFailedSQLTransactionError):
        return "TRANSACTION_ABORTED"
    return "SERVICE_UNAVAILABLE" if database_down(exc) else None


def format_error(error: GraphQLError, request_id: str) -> GraphQLFormattedError:
    """An execution error: expected ones keep their message and code; anything else is masked and logged."""
    original = error.original_error
    formatted = error.formatted
    if original is None or isinstance(original, GraphQLError):  # written for callers, e.g. variable coercion
        formatted["message"] = without_suggestions(formatted["message"])
        formatted.setdefault("extensions", {}).setdefault(
            "code", "GRAPHQL_VALIDATION_FAILED" if original is None else "BAD_USER_INPUT")
        return formatted
    extensions = getattr(original, "extensions", None)
    if isinstance(extensions, dict) and "code" in extensions:
        return formatted
    code = database_error_code(original)
    if code is None:
        log.error("unexpected error in %s (request %s)", error.path, request_id, exc_info=original,
                  extra={"fields": {"request_id": request_id, "path": error.path}})
        code = "INTERNAL_SERVER_ERROR"
    message = DATABASE_ERRORS.get(code, INTERNAL_ERROR)
    masked: GraphQLFormattedError = {"message": message, "extensions": {"code": code, "requestId": request_id}}
    if error.path:
        masked["path"] = error.path
    if error.locations:
        masked["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return masked
