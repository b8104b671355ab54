"""GraphQL over HTTP: POST and GET /graphql, GraphiQL for browsers, one transaction per request."""
from __future__ import annotations

import asyncio
import functools
import json
import logging
from importlib.resources import files
from typing import Any

from graphql import OperationDefinitionNode, OperationType
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from schema.context import Context, Db
from service.db import pool as db
from service.http import compiled, consistency, edge, observability
from service.http.body import BodyTooSlow, timed_chunks
from service.http.errors import (
    GRAPHQL_RESPONSE,
    RequestError,
    answer,
    body_timeout,
    deadline_passed,
    error_body,
    format_error,
    json_response,
    rejected,
)
from service.http.operation import Operation, allowed, check, read

log = logging.getLogger("steward.graphql")

GRAPHIQL_PAGE = files("service") / "static" / "graphiql.html"  # package data


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
        record.error_codes.extend(e["extensions"]["code"] for e in exc.errors)
        return answer(exc, media_type, headers)


async def run_within_deadline(request: Request, media_type: str, request_id: str) -> Response:
    """Everything after content negotiation, within the request timeout; a database outage is a fast 503."""
    settings = request.app.state.settings
    deadline = asyncio.timeout(settings.request_timeout_s)
    try:
        async with deadline:
            return await handle(request, media_type, request_id)
    except Exception as exc:
        if isinstance(exc, TimeoutError) and deadline.expired():
            if getattr(request.state, "reading_body", False):
                raise body_timeout(f"the request body did not arrive within {settings.request_timeout_s:g}s"
                                   ) from None
            raise deadline_passed(settings.request_timeout_s) from None
        if (refusal := edge.outage(exc)) is None:
            raise
        if isinstance(exc, TimeoutError):
            log.warning("database did not answer within %ss", settings.db_connect_timeout_s)
        else:
            log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        raise refusal from None


async def handle(request: Request, media_type: str, request_id: str) -> Response:
    """Read, parse and check the request (no database yet), then execute it."""
    state = request.app.state
    settings = state.settings
    params = await read_params(request, settings.max_body_bytes, settings.body_min_bytes_per_s,
                               settings.body_grace_s)
    operation = await read(state, params)
    observability.record().operation = operation.name
    kind = operation.selected.operation if operation.selected is not None else None
    if request.method != "POST" and kind is not None and kind is not OperationType.QUERY:
        raise RequestError(405, "only queries may be sent with GET; use POST", "METHOD_NOT_ALLOWED",
                           {"allow": "POST"})
    token = edge.token_of(request.headers.get("authorization"))
    rate = await edge.rate_limited(state, token)
    # Limits and validation before a connection is taken: a refused document runs no SQL.
    selected = check(state, operation)
    if selected.operation is OperationType.SUBSCRIPTION:
        raise rejected("OPERATION_NOT_SUPPORTED", "subscriptions run over WebSocket at this path "
                       "(graphql-transport-ws, token in connection_init); see the README")
    after = consistency.requested(request.headers)
    try:
        response = await execute(request, operation, selected, token, request_id, media_type, after)
    except Exception as exc:
        if not consistency.lost_replica(exc, state.replicas):
            raise
        # a read whose replica went away (or cancelled it) before it answered: nothing was written, run it again
        response = await execute(request, operation, selected, token, request_id, media_type, after, replicas=False)
    response.headers.update(rate)
    return response


async def execute(request: Request, operation: Operation, selected: OperationDefinitionNode, token: str,
                  request_id: str, media_type: str, after: int | None = None, replicas: bool = True) -> Response:
    """Run the operation in one transaction: a query on a replica when one is fresh enough (`after`: the
    consistency token the request sent), anything else on the primary."""
    state = request.app.state
    settings = state.settings
    headers = {"x-request-id": request_id}
    read = selected.operation is OperationType.QUERY
    written = None
    async with edge.authenticated(state, token, read, after, replicas) as (conn, principal):
        allowed(operation, selected, principal)  # refused: nothing runs
        compiled_body = await compiled.answer(state, conn, operation, selected, principal)
        if compiled_body is not None:
            return compiled.response(compiled_body, media_type, with_cache_headers(request, headers))
        async with conn.transaction(readonly=read):
            await db.scope_transaction(conn, principal.org_id, settings.statement_timeout_ms)
            context = Context(db=Db(conn), principal=principal, settings=settings, request=request,
                              request_id=request_id)
            # Strawberry finds the document in the caches `read` and `check` filled: no second parse or validation
            result = await state.schema.execute(operation.query, variable_values=operation.variables,
                                                context_value=context, operation_name=operation.operation_name)
            await context.db.close()
        consistency.check(result)
        if not read and state.replicas.replicas:
            written = await consistency.written(conn)
    body, status = result_body(result, request_id, media_type)
    consistency.attach(body, headers, written)
    return json_response(body, status, media_type, with_cache_headers(request, headers))


def with_cache_headers(request: Request, headers: dict[str, str]) -> dict[str, str]:
    if request.method != "POST":
        # A GET answer is one organization's data: a browser may keep it, a shared cache never.
        return headers | {"cache-control": "private, no-cache", "vary": "Accept, Authorization"}
    return headers


def result_body(result: Any, request_id: str, media_type: str) -> tuple[dict[str, Any], int]:
    """The GraphQL response and its status, as the GraphQL-over-HTTP spec asks."""
    errors = [format_error(e, request_id) for e in result.errors or ()]
    observability.record().error_codes.extend(e["extensions"]["code"] for e in errors)
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
