"""GraphQL over HTTP: POST and GET /graphql, GraphiQL for browsers, one transaction per request."""
from __future__ import annotations

import asyncio
import functools
import json
import logging
from importlib.resources import files
from typing import Any

import asyncpg
from graphql import DocumentNode, GraphQLError, GraphQLFormattedError, OperationDefinitionNode, OperationType
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from schema.context import Context, Db
from schema.text import text_problem
from service.auth import Principal, authenticate, bearer
from service.db import pool as db
from service.http import limits, observability, scopes
from service.http.body import BodyTooSlow, timed_chunks
from service.http.documents import DocumentError
from service.http.health import database_down

log = logging.getLogger("steward.graphql")

GRAPHQL_RESPONSE = "application/graphql-response+json"
GRAPHIQL_PAGE = files("service") / "static" / "graphiql.html"  # package data


def error_body(message: str, code: str, **extensions: Any) -> dict:
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


def json_response(body: dict, status: int, media_type: str = "application/json", headers=None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type=media_type,
                    headers=headers)


class RequestError(Exception):
    """A malformed GraphQL-over-HTTP request: answered with `status` before anything runs."""

    def __init__(self, status: int, message: str, code: str = "BAD_REQUEST", headers: dict | None = None,
                 **extensions: Any):
        super().__init__(message)
        self.status, self.code, self.headers, self.extensions = status, code, headers, extensions


async def read_params(request: Request, max_body: int, min_rate: int = 0, grace: float = 10.0) -> dict[str, Any]:
    if request.method in ("GET", "HEAD"):
        if len(request.url.query) > max_body:
            raise RequestError(413, f"the query string exceeds {max_body} bytes", "PAYLOAD_TOO_LARGE")
        params = dict(request.query_params)
        if "variables" in params:
            params["variables"] = _json_param(params["variables"], "variables")
        if "extensions" in params:
            params["extensions"] = _json_param(params["extensions"], "extensions")
        return params
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise RequestError(415, "send the request as application/json", "UNSUPPORTED_MEDIA_TYPE")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body:
        raise RequestError(413, f"request body exceeds {max_body} bytes", "PAYLOAD_TOO_LARGE")
    data = b""
    request.state.reading_body = True  # the request deadline passing now is the client's slowness: 408
    try:
        async for chunk in timed_chunks(request, min_rate, grace):
            data += chunk
            if len(data) > max_body:
                raise RequestError(413, f"request body exceeds {max_body} bytes", "PAYLOAD_TOO_LARGE")
    except BodyTooSlow as exc:
        raise body_timeout(str(exc)) from None
    finally:
        request.state.reading_body = False
    try:
        params = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise RequestError(400, "the request body is not valid JSON") from None
    except RecursionError:  # "[[[[…" nested past the interpreter's limit
        raise RequestError(400, "the request body nests too deeply") from None
    if not isinstance(params, dict):
        raise RequestError(400, "the request body must be a JSON object")
    return params


def _json_param(raw: str, name: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise RequestError(400, f"`{name}` is not valid JSON") from None
    except RecursionError:
        raise RequestError(400, f"`{name}` nests too deeply") from None


def validate_params(params: dict[str, Any]) -> tuple[str, dict | None, str | None]:
    query, variables, operation = params.get("query"), params.get("variables"), params.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise RequestError(400, "`query` must be a non-empty string")
    if variables is not None and not isinstance(variables, dict):
        raise RequestError(400, "`variables` must be a JSON object")
    if operation is not None and not isinstance(operation, str):
        raise RequestError(400, "`operationName` must be a string")
    if operation is not None and (problem := text_problem(operation)):
        raise RequestError(400, f"`operationName` {problem}")
    if params.get("extensions") is not None and not isinstance(params["extensions"], dict):
        raise RequestError(400, "`extensions` must be a JSON object")
    return query, variables, operation


def selected_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    """The operation that would run, or None if the document cannot tell (execution will say why)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [d for d in operations if d.name and d.name.value == operation_name]
    return operations[0] if len(operations) == 1 else None


def wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.method == "GET" and "text/html" in accept and "query" not in request.query_params


@functools.cache
def graphiql_page() -> str:
    return GRAPHIQL_PAGE.read_text(encoding="utf-8")


def response_media_type(request: Request) -> str:
    """The most preferred type of Accept we can produce (q-values honoured, exact types before wildcards).

    No Accept, or only a wildcard, means application/json: every client reads it, and the
    graphql-http audit expects it (47DE, 80D8). graphql-response+json when asked for by name.
    """
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return "application/json"
    best, best_rank = None, (0.0, 0)
    for item in accept.split(","):
        kind, *parameters = (part.strip().lower() for part in item.split(";"))
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if kind in (GRAPHQL_RESPONSE, "application/json"):
            candidate, rank = kind, (q, 1)
        elif kind in ("application/*", "*/*"):
            candidate, rank = "application/json", (q, 0)
        else:
            continue
        if q > 0 and rank > best_rank:
            best, best_rank = candidate, rank
    if best is None:
        raise RequestError(406, f"responses are {GRAPHQL_RESPONSE} or application/json; Accept allows neither",
                           "NOT_ACCEPTABLE")
    return best


async def graphql_endpoint(request: Request) -> Response:
    """GET and POST /graphql: parse, refuse what breaks a limit, then run in one transaction."""
    record = observability.record()
    headers = {"x-request-id": record.request_id}
    if request.method == "OPTIONS":
        # A preflight that reaches us was not answered by the CORS middleware: no origin is allowed
        # (STEWARD_CORS_ORIGINS), so it gets the methods and no Access-Control-Allow-* header.
        return Response(status_code=204, headers=headers | {"allow": "GET, POST, OPTIONS"})
    if request.method not in ("GET", "HEAD", "POST"):
        record.error_codes.append("METHOD_NOT_ALLOWED")
        return json_response(error_body("use GET (queries) or POST", "METHOD_NOT_ALLOWED"), 405,
                             headers=headers | {"allow": "GET, POST"})
    if wants_html(request):
        return HTMLResponse(graphiql_page(), headers=headers)
    record.operation = "-"  # a GraphQL request whose operation is not known yet
    media_type = "application/json"  # for a 406, the one type every client reads
    try:
        media_type = response_media_type(request)
        return await run_within_deadline(request, media_type, record.request_id)
    except RequestError as exc:
        record.error_codes.append(exc.code)
        return json_response(error_body(str(exc), exc.code, **exc.extensions), exc.status, media_type,
                             headers | (exc.headers or {}))
    except limits.QueryRejected as exc:
        record.error_codes.extend(e["extensions"]["code"] for e in exc.errors)
        # The spec: a document that fails validation is a 400 in graphql-response+json, a 200 in plain JSON.
        status = 400 if media_type == GRAPHQL_RESPONSE else 200
        return json_response({"errors": exc.errors}, status, media_type, headers)


async def run_within_deadline(request: Request, media_type: str, request_id: str) -> Response:
    """Everything after content negotiation, within the request timeout; a database outage is a fast 503."""
    settings = request.app.state.settings
    deadline = asyncio.timeout(settings.request_timeout_s)
    try:
        async with deadline:
            return await handle(request, media_type, request_id)
    except TimeoutError:
        if deadline.expired() and getattr(request.state, "reading_body", False):
            raise body_timeout(f"the request body did not arrive within {settings.request_timeout_s:g}s") from None
        if deadline.expired():
            raise RequestError(504, f"the request took longer than {settings.request_timeout_s:g}s and was "
                               "cancelled", "TIMEOUT") from None
        log.warning("database did not answer within %ss", settings.db_connect_timeout_s)
        raise unavailable() from None
    except Exception as exc:
        if not database_down(exc):
            raise
        log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        raise unavailable() from None


def body_timeout(message: str) -> RequestError:
    # the unread rest of the body makes the connection unusable for another request
    return RequestError(408, message, "REQUEST_TIMEOUT", {"connection": "close"})


def unavailable() -> RequestError:
    return RequestError(503, "the database is unavailable; retry shortly", "SERVICE_UNAVAILABLE",
                        {"retry-after": "1"})


async def handle(request: Request, media_type: str, request_id: str) -> Response:
    """Read, parse and check the request (no database yet), then execute it."""
    schema = request.app.state.schema

    settings = request.app.state.settings
    params = await read_params(request, settings.max_body_bytes, settings.body_min_bytes_per_s,
                               settings.body_grace_s)
    try:
        params = await request.app.state.documents.resolve(params, request.app.state.pool,
                                                           settings.db_connect_timeout_s)
    except DocumentError as exc:
        raise limits.rejected(exc.code, str(exc)) from None
    query, variables, operation_name = validate_params(params)
    document = limits.parse_document(query, settings)
    operation = selected_operation(document, operation_name)
    op = operation.operation if operation is not None else None
    if operation is not None:
        observability.record().operation = operation.name.value if operation.name else "anonymous"
    if request.method != "POST" and op is not None and op is not OperationType.QUERY:
        raise RequestError(405, "only queries may be sent with GET; use POST", "METHOD_NOT_ALLOWED",
                           {"allow": "POST"})
    token = bearer(request.headers.get("authorization"))
    if token is None:
        raise RequestError(401, "send `Authorization: Bearer <token>`", "UNAUTHENTICATED",
                           {"www-authenticate": "Bearer"})
    rate = await rate_limited(request, token)
    # Limits and validation before a connection is taken: a refused document runs no SQL.
    limits.check_document(document, variables, settings, schema._schema)
    if operation is None:
        message = (f"the document has no operation named {operation_name!r}" if operation_name is not None
                   else "the document has several operations: say which one in `operationName`")
        raise limits.rejected("OPERATION_RESOLUTION_FAILURE", message)
    limits.check_variables(operation, variables, schema._schema)
    if op is OperationType.SUBSCRIPTION:
        raise limits.rejected("OPERATION_NOT_SUPPORTED", "subscriptions run over WebSocket at this path "
                              "(graphql-transport-ws, token in connection_init); see the README")
    response = await execute(request, query, variables, operation_name, document, operation, token, request_id,
                             media_type)
    response.headers.update(rate)
    return response


async def rate_limited(request: Request, token: str) -> dict[str, str]:
    """Count the request against its token's limit (no SQL); its RateLimit-* headers, or a 429."""
    limiter = request.app.state.rate_limiter
    if limiter is None:
        return {}
    verdict = await limiter.hit(token)
    if not verdict.allowed:
        raise RequestError(429, f"too many requests for this token (limit {verdict.limit} per window); "
                           f"retry in {verdict.reset_s}s", "RATE_LIMITED", verdict.headers)
    return verdict.headers


async def execute(request: Request, query: str, variables: dict | None, operation_name: str | None,
                  document: DocumentNode, operation: OperationDefinitionNode, token: str, request_id: str,
                  media_type: str) -> Response:
    schema = request.app.state.schema

    settings = request.app.state.settings
    headers = {"x-request-id": request_id}
    # A short acquire timeout: with the database down, fail fast (503) instead of queueing.
    async with request.app.state.pool.acquire(timeout=settings.db_connect_timeout_s) as conn:
        principal: Principal | None = await authenticate(conn, token)
        if principal is None:
            raise RequestError(401, "the token is unknown or revoked", "UNAUTHENTICATED",
                               {"www-authenticate": 'Bearer error="invalid_token"'})
        observability.record().token_id = principal.token_id
        request.app.state.token_usage.seen(principal)
        # What the token may see, judged on the document parsed above: refused, nothing runs.
        refused = scopes.refusal(document, operation, principal)
        if refused is not None:
            raise RequestError(403, refused.message, "FORBIDDEN", scope=refused.scope, field=".".join(refused.path))
        async with conn.transaction(readonly=operation.operation is OperationType.QUERY):
            await db.scope_transaction(conn, principal.org_id, settings.statement_timeout_ms)
            context = Context(db=Db(conn), principal=principal, settings=settings, request=request,
                              request_id=request_id)
            result = await schema.execute(query, variable_values=variables, context_value=context,
                                          operation_name=operation_name)
            await context.db.close()
    body, status = result_body(result, request_id, media_type)
    if request.method != "POST":
        # A GET answer is one organization's data: a browser may keep it, a shared cache never.
        headers |= {"cache-control": "private, no-cache", "vary": "Accept, Authorization"}
    return json_response(body, status, media_type, headers)


def result_body(result: Any, request_id: str, media_type: str) -> tuple[dict[str, Any], int]:
    """The GraphQL response and its status, as the GraphQL-over-HTTP spec asks."""
    errors = [format_error(e, request_id) for e in result.errors or ()]
    # Request errors (variables that do not coerce) have no path and leave no `data` entry;
    # field errors have one and keep `data`, even when it is null.
    request_failed = bool(errors) and result.data is None and all(e.path is None for e in result.errors)
    body: dict[str, Any] = {"errors": errors} if errors else {}
    if request_failed:
        return body, 400 if media_type == GRAPHQL_RESPONSE else 200
    body["data"] = result.data
    codes = {e.get("extensions", {}).get("code") for e in errors}
    if result.data is None and "SERVICE_UNAVAILABLE" in codes:
        return body, 503  # the database went away mid-request: nothing to show, retrying helps
    return body, 200


def format_error(error: GraphQLError, request_id: str) -> GraphQLFormattedError:
    """Expected errors keep their message and code; anything else is masked and logged with its stack."""
    formatted = _format_error(error, request_id)
    observability.record().error_codes.append(formatted["extensions"]["code"])
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


def _format_error(error: GraphQLError, request_id: str) -> GraphQLFormattedError:
    original = error.original_error
    formatted = error.formatted
    if original is None or isinstance(original, GraphQLError):  # written for callers, e.g. variable coercion
        formatted["message"] = limits.without_suggestions(formatted["message"])
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
    message = DATABASE_ERRORS.get(code, observability.INTERNAL_ERROR)
    masked: GraphQLFormattedError = {"message": message, "extensions": {"code": code, "requestId": request_id}}
    if error.path:
        masked["path"] = error.path
    if error.locations:
        masked["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return masked
