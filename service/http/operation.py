"""A GraphQL request's operation, read and checked the same way over HTTP and over WebSocket.

`read()` takes the request's parameters (`query`, `variables`, `operationName`, `documentId`,
`extensions`), fills in a persisted document, parses it (limits.Pass) and selects the operation;
`check()` then holds it to the limits and validation and coerces its variables. Both run before
any SQL of the request (a persisted document may be read from the database). Each endpoint adds
its own rules between and after (which operation types it runs, its token and rate limit).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, OperationDefinitionNode

from schema.text import text_problem
from service.auth import Principal
from service.http import edge, limits, scopes
from service.http.documents import DocumentError
from service.http.errors import RequestError, rejected


@dataclass(frozen=True)
class Operation:
    """The request's document and the operation it selects (None when the document cannot tell)."""

    query: str
    variables: dict[str, Any] | None
    operation_name: str | None
    document: DocumentNode
    selected: OperationDefinitionNode | None

    @property
    def name(self) -> str:
        """For logs and metrics: the operation's name, "anonymous", or "-" when none is selected."""
        if self.selected is None:
            return "-"
        return self.selected.name.value if self.selected.name else "anonymous"


async def read(state: Any, params: dict[str, Any]) -> Operation:
    """Fill in a persisted document, check the parameters' types, parse; RequestError if any fails."""
    try:
        params = await state.documents.resolve(params, state.replicas.read_pool(),
                                                 state.settings.db_connect_timeout_s)
    except DocumentError as exc:
        raise rejected(exc.code, str(exc)) from None
    query, variables, operation_name = validate_params(params)
    document = limits.parse_document(query, state.settings, state.graphql_pass)
    return Operation(query, variables, operation_name, document, selected_operation(document, operation_name))


def check(state: Any, operation: Operation) -> OperationDefinitionNode:
    """The operation to run, within the limits, valid, its variables coerced; QueryRejected if not."""
    # looked up on the module at each call, so a test can stand in for it
    limits.check_document(operation.document, operation.variables, state.settings, state.graphql_pass)
    if operation.selected is None:
        message = (f"the document has no operation named {operation.operation_name!r}"
                   if operation.operation_name is not None
                   else "the document has several operations: say which one in `operationName`")
        raise rejected("OPERATION_RESOLUTION_FAILURE", message)
    limits.check_variables(operation.selected, operation.variables, state.graphql_pass.schema)
    return operation.selected


def allowed(operation: Operation, selected: OperationDefinitionNode, principal: Principal) -> None:
    """What the token may see (service/http/scopes.py), judged on the validated document: 403 if not."""
    refused = scopes.refusal(operation.document, selected, principal)
    if refused is not None:
        raise edge.forbidden(refused)


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
