"""The one parse-and-validate pass of a GraphQL document, with the abuse limits, before any SQL runs.

`Pass(schema)` parses and validates with the schema's own ParserCache and ValidationCache, the
very caches Strawberry reads when it executes: a document refused here takes no connection, and
a document accepted here is not parsed or validated again by `schema.execute` / `schema.subscribe`
(both find it in the caches). In order, as the caller's errors should come:
- tokens counted before parsing (parsing a huge document is the cost being limited);
- each operation measured against the limits (service/http/walk.py: depth, aliases, directives,
  cost, introspection), with the request's variables, since page sizes may come from them;
- no string PostgreSQL cannot store (NUL, lone surrogates), literal or variable;
- the spec's validation rules (and Strawberry's own), cached per document;
- the selected operation's variables coerced as execution would.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import strawberry
from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    StringValueNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    parse,
    visit,
)
from graphql.error import GraphQLFormattedError, GraphQLSyntaxError
from graphql.execution.values import get_variable_values
from graphql.language import Lexer, Source, TokenKind
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.schema import validate_document

from schema.scalars import RULES
from schema.text import text_problem
from service.config import Settings
from service.http.errors import QueryRejected, graphql_error, rejected
from service.http.walk import check_operations


class Pass:
    """Parsing and validation for one schema, through the caches its executions read."""

    def __init__(self, schema: strawberry.Schema):
        extensions = schema.get_extensions()
        self.schema: GraphQLSchema = schema._schema
        self.parse: Callable[[str], DocumentNode] = next(
            (e.cached_parse_document for e in extensions if isinstance(e, ParserCache)), parse)
        # RULES: the spec's rules as the schema's NameLiteralErrors extension sets them (so its key is the same)
        self._validate: Callable[..., list[GraphQLError]] = next(
            (e.cached_validate_document for e in extensions if isinstance(e, ValidationCache)), validate_document)

    def validate(self, document: DocumentNode) -> list[GraphQLError]:
        return self._validate(self.schema, document, RULES)


def count_tokens(query: str, stop_after: int) -> int:
    """Lexical tokens in `query` (comments excluded), counting no further than `stop_after`."""
    lexer, count = Lexer(Source(query)), 0
    try:
        while lexer.advance().kind is not TokenKind.EOF and count < stop_after:
            count += 1
    except GraphQLSyntaxError:
        pass  # parse() reports it with its location
    return count


def parse_document(query: str, settings: Settings, documents: Pass) -> DocumentNode:
    """Count tokens first (parsing a huge document is the cost being limited), then parse (cached)."""
    _within_tokens(query, settings.max_tokens)
    try:
        return documents.parse(query)
    except GraphQLSyntaxError as exc:  # raised anew each time: the cache keeps only documents
        raise QueryRejected([graphql_error(exc, "GRAPHQL_PARSE_FAILED")]) from None


@lru_cache(maxsize=512)
def _within_tokens(query: str, max_tokens: int) -> None:
    """Bounded cache keyed by the text: a repeated dashboard query is not lexed again."""
    if count_tokens(query, max_tokens + 1) > max_tokens:
        raise rejected("TOO_MANY_TOKENS", f"the document has more than {max_tokens} tokens", limit=max_tokens)


def check_document(document: DocumentNode, variables: dict[str, Any] | None, settings: Settings,
                   documents: Pass) -> None:
    """Each operation within the limits, text that PostgreSQL can store, then the validation rules."""
    check_operations(document, variables, settings, documents.schema)
    # before validation, so NUL in any literal (a Date's too) is the same BAD_USER_INPUT
    check_text(document, variables)
    errors = documents.validate(document)
    if errors:
        # a literal the Date/DateTime scalars refused keeps its own code, BAD_USER_INPUT
        raise QueryRejected([graphql_error(e, (e.extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED"))
                             for e in errors])


def check_variables(operation: OperationDefinitionNode, variables: dict[str, Any] | None,
                    schema: GraphQLSchema) -> None:
    """Coerce the variables as execution would, without suggestions, or raise QueryRejected.

    Done here rather than left to execution so that bad variables cost no connection, and
    because computing suggestions for some non-ASCII input keys crashes graphql-core
    (suggestion_list: IndexError on "İ", whose lower case is two characters).
    """
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {},
                                  max_errors=20, hide_suggestions=True)
    if isinstance(coerced, list):
        raise QueryRejected([graphql_error(e, "BAD_USER_INPUT") for e in coerced])


MAX_TEXT_ERRORS = 20


def check_text(document: DocumentNode, variables: dict[str, Any] | None) -> None:
    """No string the caller sends, literal or variable, may hold NUL or a lone surrogate; or QueryRejected.

    PostgreSQL text cannot store either, so they are refused here, before any SQL, as BAD_USER_INPUT
    naming the argument (`input.name`), whatever its type: String, ID, a cursor, a Date.
    The lexer already refuses lone surrogates in the document, but allows NUL (`"\\u0000"`).
    """
    literals, usages = _scan_arguments(_Same(document))
    errors = [_text_error(*literal) for literal in literals]
    for name, value in (variables or {}).items():
        for inner, problem in _bad_strings(value):
            where = usages.get(name)
            errors.append(_text_error(f"variable `${name}{inner}` {problem}", f"{where}{inner}" if where
                                      else f"${name}{inner}"))
    if errors:
        raise QueryRejected(errors[:MAX_TEXT_ERRORS])


def _text_error(message: str, field: str, location: tuple[int, int] | None = None) -> GraphQLFormattedError:
    error: GraphQLFormattedError = {"message": message, "extensions": {"code": "BAD_USER_INPUT", "field": field}}
    if location is not None:
        error["locations"] = [{"line": location[0], "column": location[1]}]
    return error


def _bad_strings(value: Any) -> list[tuple[str, str]]:
    """(JSON path, problem) of every string in a variable's value (object keys too) that text cannot hold."""
    found, stack = [], [("", value)]
    while stack:  # a loop, not recursion: the value may nest as deep as the JSON parser allowed
        path, item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                found.append((path, problem))
        elif isinstance(item, dict):
            for key, inner in item.items():
                problem = text_problem(key)
                if problem:
                    found.append((path, f"has a key that {problem}"))
                else:
                    stack.append((f"{path}.{key}", inner))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", inner) for i, inner in enumerate(item))
    return sorted(found)


class _Same:
    """A cache key by identity: hashing a DocumentNode walks the whole tree (45 us for a dashboard query)."""

    __slots__ = ("node",)

    def __init__(self, node: DocumentNode):
        self.node = node

    def __hash__(self) -> int:
        return id(self.node)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.node is self.node


@lru_cache(maxsize=512)
def _scan_arguments(key: _Same) -> tuple[tuple[tuple, ...], dict[str, str]]:
    """(bad literals as (message, field, location), variable -> argument path) of a document from _parse."""
    arguments = _Arguments()
    visit(key.node, arguments)  # iterative: selection sets may nest deep
    return tuple(arguments.literals), arguments.usages


class _Arguments(Visitor):
    """Walks every argument value of a document: bad string literals, and where each variable is used."""

    def __init__(self) -> None:
        super().__init__()
        self.literals: list[tuple[str, str, tuple[int, int] | None]] = []
        self.usages: dict[str, str] = {}  # variable name -> the first argument path it is used at

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        for argument in node.arguments or ():
            self.value(argument.value, argument.name.value, f"argument `{{path}}` of `{node.name.value}`")

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        for argument in node.arguments or ():
            self.value(argument.value, argument.name.value, f"argument `{{path}}` of `@{node.name.value}`")

    def enter_variable_definition(self, node: VariableDefinitionNode, *_: Any) -> None:
        if node.default_value is not None:
            self.value(node.default_value, f"${node.variable.name.value}", "the default value of `{path}`")

    def value(self, node: ValueNode, path: str, what: str) -> None:
        if isinstance(node, StringValueNode):
            problem = text_problem(node.value)
            if problem:
                where = node.loc.source.get_location(node.loc.start) if node.loc else None
                self.literals.append((f"{what.format(path=path)} {problem}", path,
                                      (where.line, where.column) if where else None))
        elif isinstance(node, VariableNode):
            self.usages.setdefault(node.name.value, path)
        elif isinstance(node, ObjectValueNode):
            for field in node.fields:
                self.value(field.value, f"{path}.{field.name.value}", what)
        elif isinstance(node, ListValueNode):
            for index, item in enumerate(node.values):
                self.value(item, f"{path}[{index}]", what)
