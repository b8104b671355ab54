"""Compiled reads over HTTP: one statement's JSON text written as the body, or None for Strawberry to answer.

Same read-only transaction, statement timeout and app.org_id as the resolver path (db.scope_transaction).
A statement that fails (a row a resolver would report missing) is rolled back and the request answered
by Strawberry in a fresh transaction, so errors keep exactly the shape they always had.
"""
from __future__ import annotations

from typing import Any

from graphql import OperationDefinitionNode, OperationType
from starlette.responses import Response

from schema.compiled import run
from service.auth import Principal
from service.db import pool as db
from service.http.operation import Operation


class _Fallback(Exception):
    """Roll the compiled statement's transaction back: Strawberry answers instead."""


async def answer(state: Any, conn: Any, operation: Operation, selected: OperationDefinitionNode,
                 principal: Principal) -> bytes | None:
    """The response body of a compiled read, or None when Strawberry must answer it."""
    compiler = getattr(state, "compiler", None)
    if compiler is None or selected.operation is not OperationType.QUERY:
        return None
    plan = compiler.compile(operation.query, operation.document, selected, operation.variables, principal,
                            state.settings)
    if plan is None:
        return None
    try:
        async with conn.transaction(readonly=True):
            await db.scope_transaction(conn, principal.org_id, state.settings.statement_timeout_ms)
            data = await run(conn, plan)
            if data is None:
                raise _Fallback
    except _Fallback:
        return None
    return b'{"data":' + data.encode() + b"}"  # the JSON text as PostgreSQL wrote it: never decoded here


def response(body: bytes, media_type: str, headers: dict[str, str]) -> Response:
    return Response(body, status_code=200, media_type=media_type, headers=headers)
