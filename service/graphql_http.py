"""GraphQL over HTTP: POST and GET /graphql, GraphiQL for browsers, one transaction per request."""
from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from graphql import GraphQLError, OperationType, parse
from graphql.error import GraphQLSyntaxError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from strawberry.http.ides import get_graphql_ide_html

from . import db
from .auth import Principal, authenticate, bearer
from .context import Context, Db

log = logging.getLogger("steward.graphql")

GRAPHQL_RESPONSE = "application/graphql-response+json"


def error_body(message: str, code: str, **extensions: Any) -> dict:
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


def json_response(body: dict, status: int, media_type: str = "application/json", headers=None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type=media_type,
                    headers=headers)


class RequestError(Exception):
    """A malformed GraphQL-over-HTTP request: answered with `status` before anything runs."""

    def __init__(self, status: int, message: str, code: str = "BAD_REQUEST", headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers


async def read_params(request: Request, max_body: int) -> dict[str, Any]:
    if request.method == "GET":
        params = dict(request.query_params)
        if "variables" in params:
            params["variables"] = _json_param(params["variables"], "variables")
        if "extensions" in params:
            params["extensions"] = _json_param(params["extensions"], "extensions")
        return params
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise RequestError(415, "send the request as application/json", "UNSUPPORTED_MEDIA_TYPE")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_body:
            raise RequestError(413, f"request body exceeds {max_body} bytes", "PAYLOAD_TOO_LARGE")
    try:
        params = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise RequestError(400, "the request body is not valid JSON") from None
    if not isinstance(params, dict):
        raise RequestError(400, "the request body must be a JSON object")
    return params


def _json_param(raw: str, name: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise RequestError(400, f"`{name}` is not valid JSON") from None


def validate_params(params: dict[str, Any]) -> tuple[str, dict | None, str | None]:
    query, variables, operation = params.get("query"), params.get("variables"), params.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise RequestError(400, "`query` must be a non-empty string")
    if variables is not None and not isinstance(variables, dict):
        raise RequestError(400, "`variables` must be a JSON object")
    if operation is not None and not isinstance(operation, str):
        raise RequestError(400, "`operationName` must be a string")
    return query, variables, operation


def operation_type(query: str, operation_name: str | None) -> OperationType | None:
    """The operation that would run, or None if the document cannot tell (validation will say why)."""
    try:
        document = parse(query)
    except GraphQLSyntaxError:
        return None
    operations = [d for d in document.definitions if hasattr(d, "operation")]
    if operation_name is not None:
        operations = [d for d in operations if d.name and d.name.value == operation_name]
    return operations[0].operation if len(operations) == 1 else None


def wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.method == "GET" and "text/html" in accept and "query" not in request.query_params


def response_media_type(request: Request) -> str:
    accept = request.headers.get("accept", "")
    if GRAPHQL_RESPONSE in accept or not accept or "*/*" in accept and "application/json" not in accept:
        return GRAPHQL_RESPONSE
    return "application/json"


async def graphql_endpoint(request: Request) -> Response:
    settings = request.app.state.settings
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
    headers = {"x-request-id": request_id}
    if wants_html(request):
        return HTMLResponse(get_graphql_ide_html(), headers=headers)
    media_type = response_media_type(request)
    try:
        query, variables, operation_name = validate_params(await read_params(request, settings.max_body_bytes))
        op = operation_type(query, operation_name)
        if request.method == "GET" and op is not None and op is not OperationType.QUERY:
            raise RequestError(405, "only queries may be sent with GET; use POST", "METHOD_NOT_ALLOWED",
                               {"allow": "POST"})
        token = bearer(request.headers.get("authorization"))
        if token is None:
            raise RequestError(401, "send `Authorization: Bearer <token>`", "UNAUTHENTICATED",
                               {"www-authenticate": "Bearer"})
        return await execute(request, query, variables, operation_name, op, token, request_id, media_type)
    except RequestError as exc:
        return json_response(error_body(str(exc), exc.code), exc.status, media_type, headers | (exc.headers or {}))


async def execute(request: Request, query: str, variables: dict | None, operation_name: str | None,
                  op: OperationType | None, token: str, request_id: str, media_type: str) -> Response:
    from schema import schema

    settings = request.app.state.settings
    headers = {"x-request-id": request_id}
    async with request.app.state.pool.acquire() as conn:
        principal: Principal | None = await authenticate(conn, token)
        if principal is None:
            raise RequestError(401, "the token is unknown or revoked", "UNAUTHENTICATED",
                               {"www-authenticate": 'Bearer error="invalid_token"'})
        if op is not OperationType.MUTATION and not principal.can("read"):
            raise RequestError(403, "this token lacks the 'read' scope", "FORBIDDEN")
        async with conn.transaction(readonly=op is OperationType.QUERY):
            await db.scope_transaction(conn, principal.org_id, settings.statement_timeout_ms)
            context = Context(db=Db(conn), principal=principal, settings=settings, request=request,
                              request_id=request_id)
            result = await schema.execute(query, variable_values=variables, context_value=context,
                                          operation_name=operation_name)
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [format_error(e, request_id) for e in result.errors]
    if result.data is not None or not result.errors:
        body["data"] = result.data
    status = 200
    if result.data is None and result.errors and media_type == GRAPHQL_RESPONSE:
        status = 400  # the request failed before execution (parse or validation)
    return json_response(body, status, media_type, headers)


def format_error(error: GraphQLError, request_id: str) -> dict:
    """Expected errors keep their message and code; anything else is masked and logged with its stack."""
    original = error.original_error
    formatted = error.formatted
    if original is None:
        formatted.setdefault("extensions", {}).setdefault("code", "GRAPHQL_VALIDATION_FAILED")
        return formatted
    if isinstance(getattr(original, "extensions", None), dict) and "code" in original.extensions:
        return formatted
    log.error("unexpected error in %s (request %s)", error.path, request_id, exc_info=original)
    masked = {"message": "Internal server error.", "extensions": {"code": "INTERNAL_SERVER_ERROR",
                                                                   "requestId": request_id}}
    if error.path:
        masked["path"] = error.path
    if error.locations:
        masked["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return masked
