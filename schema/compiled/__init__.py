"""Compiled reads: a validated query operation as ONE SQL statement that returns the response's `data` as JSON.

`compile_query` gives (statement, parameters) or None when the operation is not the compiler's to take
whole (a mutation, introspection, a field with no SQL yet, an argument a resolver would refuse): the
caller then runs it through Strawberry. `run` executes a compiled statement; a statement that fails
(a row a resolver would report missing) returns None too, after which the caller answers through
Strawberry in a fresh transaction. The statement text depends only on the document, the operation and
the values of variables that choose its shape, so each connection prepares it once.
"""
from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import asyncpg
from graphql import DocumentNode, FragmentDefinitionNode, GraphQLSchema, OperationDefinitionNode, OperationType
from graphql.execution.values import get_variable_values

from schema.compiled.fields import FIELDS
from schema.compiled.walk import PARAM, SQL, Unsupported, Walk, fill

CACHE_SIZE = 512
log = logging.getLogger("steward.compiled")


@dataclass(frozen=True)
class Compiled:
    statement: str
    params: tuple[Any, ...]


class Compiler:
    """Compiled statements of recent (document, operation, variables, organization), LRU like the parser cache."""

    def __init__(self, schema: GraphQLSchema, size: int = CACHE_SIZE):
        self.schema = schema
        self.size = size
        self._cache: OrderedDict[tuple, Compiled | None] = OrderedDict()
        self.taken = self.declined = 0  # operations compiled, and left to Strawberry (for tests and tuning)

    def compile(self, query: str, document: DocumentNode, operation: OperationDefinitionNode,
                variables: dict[str, Any] | None, principal: Any, settings: Any) -> Compiled | None:
        try:
            key = (query, operation.name.value if operation.name else None,
                   json.dumps(variables, sort_keys=True, default=str), principal.org_id, principal.org_slug,
                   settings.max_page_size)
        except (TypeError, ValueError):
            return None
        if key in self._cache:
            self._cache.move_to_end(key)
            compiled = self._cache[key]
        else:
            try:
                compiled = compile_query(self.schema, document, operation, variables, principal, settings)
            except Exception:  # a gap in the compiler must cost speed, never the answer
                log.exception("compiling %s failed; Strawberry answers it", key[1] or "an anonymous operation")
                compiled = None
        if compiled is None:
            self.declined += 1
        else:
            self.taken += 1
        self._cache[key] = compiled
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return compiled


def compile_query(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
                  variables: dict[str, Any] | None, principal: Any, settings: Any) -> Compiled | None:
    """The operation's statement and parameters, or None if Strawberry must answer it."""
    if operation.operation is not OperationType.QUERY or schema.query_type is None:
        return None
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {},
                                  hide_suggestions=True)
    if isinstance(coerced, list):
        return None
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    walk = Walk(schema, fragments, coerced, principal, settings, FIELDS)
    try:
        root: Any = _Root(operation)  # stands in for a field node: the operation's own selection set
        body = walk.selection(schema.query_type, [root], "_root")
    except (Unsupported, KeyError):
        return None
    return _without_unused(fill(SQL["statement"], json=body), walk.params)


def _without_unused(statement: str, params: list[Any]) -> Compiled:
    """Parameters the statement does not reference dropped (PostgreSQL cannot type them), the rest renumbered.

    Fields make some parameters before they know whether the selection reads them (a connection's
    direction when only `totalCount` is asked for)."""
    used = sorted({int(n) for n in PARAM.findall(statement)})
    number = {old: new for new, old in enumerate(used, 1)}
    text = PARAM.sub(lambda m: f"${number[int(m.group(1))]}", statement)
    return Compiled(text, tuple(params[old - 1] for old in used))


class _Root:
    def __init__(self, operation: OperationDefinitionNode):
        self.selection_set = operation.selection_set


async def run(conn: asyncpg.Connection, compiled: Compiled) -> str | None:
    """The `data` JSON text, or None if the statement failed (the transaction is then aborted).

    A statement timeout is a failure too: the resolvers' smaller statements may each fit in it, and if
    they do not, Strawberry reports the TIMEOUT on the fields it hit, as it always has. A lost
    connection is not a PostgresError: it propagates (a 503, as on the resolver path).
    """
    try:
        return await conn.fetchval(compiled.statement, *compiled.params)
    except asyncpg.PostgresError as exc:
        if "missing:" not in str(exc):  # not the planned signal (compiled.sql `missing`): worth a look
            log.warning("a compiled statement failed (%s: %s); Strawberry answers", type(exc).__name__, exc)
        return None
