"""Query abuse limits: tokens, depth, aliases, directives, cost and introspection, checked before any SQL runs.

`check()` parses and validates a document against the schema without touching the
database, so graphql_http can refuse hostile documents before acquiring a connection.
Every call builds its own `Walk`: nothing is shared between requests.

Depth does not count Relay wrapper levels: `edges` directly under a paginated field
and `node` directly under such `edges` add no level, so `deployments { edges { node
{ owner { name } } } }` is 3 deep, and the GraphQL-armor default of 6 fits every
query a dashboard needs while `a { b { c { d { e { f { g } } } } } }` is refused.

Cost is the number of field resolutions the query asks for: each field costs the
product of the page sizes above it (`first`/`last` from literals or variables, the
argument's schema default, else 20). A list without `first`/`last` counts once: its
size is bounded by the data (ownership history, workflows), not by the caller.
Introspection (`__schema`, `__type`) runs in memory, so it costs nothing and has no
depth; instead it may nest at most INTROSPECTION_LISTS list levels (the standard
introspection query needs 3: types → fields → args), which stops
`fields { type { fields { type { fields … } } } }` bombs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    get_named_type,
    get_nullable_type,
    parse,
    validate,
    visit,
)
from graphql.error import GraphQLFormattedError, GraphQLSyntaxError
from graphql.execution.values import get_variable_values
from graphql.language import Lexer, Source, TokenKind
from graphql.type import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef

from schema.text import text_problem
from service.config import Settings

DEFAULT_PAGE_SIZE = 20  # what the connection resolvers return when neither `first` nor `last` is given
INTROSPECTION_LISTS = 3
MAX_VISITS = 20_000  # fields visited while measuring (fragments expanded): bounds fragment bombs
MAX_NESTING = 200  # selection sets nested through fragments: bounds the recursion itself
SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
META_FIELDS = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef, "__typename": TypeNameMetaFieldDef}


class QueryRejected(Exception):
    """The document failed parsing, a limit or validation; `errors` are GraphQL errors for the caller."""

    def __init__(self, errors: list[GraphQLFormattedError]):
        super().__init__(errors[0]["message"])
        self.errors = errors


def rejected(code: str, message: str, **extensions: Any) -> QueryRejected:
    return QueryRejected([{"message": message, "extensions": {"code": code, **extensions}}])


def without_suggestions(message: str) -> str:
    """Drop "Did you mean …?" hints: they let a caller map the schema field by field."""
    return SUGGESTION.sub("", message)


def count_tokens(query: str, stop_after: int) -> int:
    """Lexical tokens in `query` (comments excluded), counting no further than `stop_after`."""
    lexer, count = Lexer(Source(query)), 0
    try:
        while lexer.advance().kind is not TokenKind.EOF and count < stop_after:
            count += 1
    except GraphQLSyntaxError:
        pass  # parse() reports it with its location
    return count


def check(query: str, variables: dict[str, Any] | None, settings: Settings, schema: GraphQLSchema) -> DocumentNode:
    """Parse `query` and hold it to every limit and the validation rules, or raise QueryRejected."""
    document = parse_document(query, settings)
    check_document(document, variables, settings, schema)
    return document


def parse_document(query: str, settings: Settings) -> DocumentNode:
    """Count tokens first (parsing a huge document is the cost being limited), then parse."""
    return _parse(query, settings.max_tokens)


# Bounded caches keyed by the document text: repeated dashboard queries skip the
# lexer, the parser and the validation rules; a parse error is raised anew each time.
@lru_cache(maxsize=512)
def _parse(query: str, max_tokens: int) -> DocumentNode:
    if count_tokens(query, max_tokens + 1) > max_tokens:
        raise rejected("TOO_MANY_TOKENS", f"the document has more than {max_tokens} tokens", limit=max_tokens)
    try:
        return parse(query)
    except GraphQLSyntaxError as exc:
        raise QueryRejected([_graphql_error(exc, "GRAPHQL_PARSE_FAILED")]) from None


def check_document(document: DocumentNode, variables: dict[str, Any] | None, settings: Settings,
                   schema: GraphQLSchema) -> None:
    """Each operation within the limits, text that PostgreSQL can store, then the spec's validation rules."""
    for operation in document.definitions:
        if isinstance(operation, OperationDefinitionNode):
            _check_operation(Walk.of(document, operation, variables or {}, schema), settings)
    # before validation, so NUL in any literal (a Date's too) is the same BAD_USER_INPUT
    check_text(document, variables)
    errors = _validate(schema, document)
    if errors:
        # a literal the Date/DateTime scalars refused keeps its own code, BAD_USER_INPUT
        raise QueryRejected([_graphql_error(e, (e.extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED"))
                             for e in errors])


@lru_cache(maxsize=512)
def _validate(schema: GraphQLSchema, document: DocumentNode) -> tuple[GraphQLError, ...]:
    # keyed by identity: documents come from the _parse cache, so a repeated query hits
    from schema.scalars import RULES  # the spec's rules, naming the argument of a bad Date/DateTime literal

    return tuple(validate(schema, document, RULES, hide_suggestions=True))


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
        raise QueryRejected([_graphql_error(e, "BAD_USER_INPUT") for e in coerced])


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


def _graphql_error(error: GraphQLError, code: str) -> GraphQLFormattedError:
    formatted = error.formatted
    formatted["message"] = without_suggestions(formatted["message"])
    formatted.setdefault("extensions", {})["code"] = code
    return formatted


def _check_operation(walk: "Walk", settings: Settings) -> None:
    try:
        walk.run()
    except _TooBig as exc:
        raise rejected(exc.code, exc.message) from None
    except RecursionError:
        raise rejected("QUERY_TOO_DEEP", "the document nests too deeply") from None
    if walk.introspection and not settings.introspection:
        raise rejected("INTROSPECTION_DISABLED", "introspection is disabled on this server; "
                       "the schema is published as schema.graphql")
    if walk.introspection_lists > INTROSPECTION_LISTS:
        raise rejected("QUERY_TOO_DEEP", f"introspection nests {walk.introspection_lists} lists; "
                       f"the limit is {INTROSPECTION_LISTS}", limit=INTROSPECTION_LISTS)
    for code, actual, limit, message in (
        ("QUERY_TOO_DEEP", walk.depth, settings.max_depth,
         "the query is {actual} levels deep (Relay edges/node levels not counted); the limit is {limit}"),
        ("TOO_MANY_ALIASES", walk.aliases, settings.max_aliases,
         "the query uses {actual} aliases; the limit is {limit}"),
        ("TOO_MANY_DIRECTIVES", walk.directives, settings.max_directives,
         "the query uses {actual} directives; the limit is {limit}"),
        ("QUERY_TOO_COSTLY", walk.cost, settings.max_cost,
         "the query costs {actual} (fields times the page sizes above them); the limit is {limit}"),
    ):
        if actual > limit:
            raise rejected(code, message.format(actual=actual, limit=limit), limit=limit, actual=actual)


class _TooBig(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Walk:
    """Measures one operation, expanding fragments; one instance per check."""

    schema: GraphQLSchema
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]
    depth: int = 0
    aliases: int = 0
    directives: int = 0
    cost: int = 0
    visits: int = 0
    introspection: bool = False
    introspection_lists: int = 0
    defaults: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, document: DocumentNode, operation: OperationDefinitionNode, variables: dict[str, Any],
           schema: GraphQLSchema) -> "Walk":
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        walk = cls(schema, operation, fragments, variables)
        for definition in operation.variable_definitions or ():
            if isinstance(definition.default_value, IntValueNode):
                walk.defaults[definition.variable.name.value] = int(definition.default_value.value)
        return walk

    def run(self) -> None:
        self.directives += len(self.operation.directives or ())
        root = self.schema.get_root_type(self.operation.operation)
        self.selections(self.operation.selection_set, root, _Scope(), frozenset(), 0)

    def selections(self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None, scope: "_Scope",
                   spread: frozenset[str], nesting: int) -> None:
        if nesting > MAX_NESTING:
            raise _TooBig("QUERY_TOO_DEEP", f"selections nest more than {MAX_NESTING} levels")
        for selection in selection_set.selections:
            self.directives += len(selection.directives or ())
            if isinstance(selection, FieldNode):
                self.field(selection, parent, scope, spread, nesting)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                self.selections(selection.selection_set, target, scope, spread, nesting + 1)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spread:
                    continue  # validation reports unknown and cyclic fragments
                self.directives += len(fragment.directives or ())
                target = self.schema.get_type(fragment.type_condition.name.value)
                self.selections(fragment.selection_set, target, scope, spread | {name}, nesting + 1)

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, scope: "_Scope", spread: frozenset[str],
              nesting: int) -> None:
        self.visits += 1
        if self.visits > MAX_VISITS:
            raise _TooBig("QUERY_TOO_COSTLY", f"the query expands to more than {MAX_VISITS} fields")
        if node.alias:
            self.aliases += 1
        name = node.name.value
        definition = META_FIELDS.get(name) or getattr(parent, "fields", {}).get(name)
        is_list = definition is not None and isinstance(get_nullable_type(definition.type), GraphQLList)
        introspection = scope.introspection or name in ("__schema", "__type")
        self.introspection |= introspection
        # Relay wrappers: `edges` right under a paginated field, `node` right under those edges.
        wrapper = (name == "edges" and scope.page is not None and is_list) or (name == "node" and scope.in_edges)
        child = _Scope(multiplier=scope.multiplier, depth=scope.depth, lists=scope.lists,
                       introspection=introspection)
        if introspection:
            child.lists += is_list
            self.introspection_lists = max(self.introspection_lists, child.lists)
        else:
            self.cost += scope.multiplier
            if not wrapper:
                child.depth += 1
            self.depth = max(self.depth, child.depth)
            size = self.page_size(node, definition)
            if is_list:
                child.multiplier *= size if size is not None else (scope.page or 1)
                child.in_edges = name == "edges" and scope.page is not None
            else:
                child.page = size
        if node.selection_set is not None:
            target = get_named_type(definition.type) if definition is not None else None
            self.selections(node.selection_set, target, child, spread, nesting + 1)

    def page_size(self, node: FieldNode, definition) -> int | None:
        """The list size a paginated field asks for; None if the field takes no `first`/`last`."""
        if definition is None or not {"first", "last"} & definition.args.keys():
            return None
        sizes = [self.int_value(a.value) for a in node.arguments or () if a.name.value in ("first", "last")]
        given = [s for s in sizes if s is not None]
        if given:
            return max(0, max(given))
        default = definition.args["first"].default_value if "first" in definition.args else None
        return default if isinstance(default, int) and not isinstance(default, bool) else DEFAULT_PAGE_SIZE

    def int_value(self, value) -> int | None:
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            name = value.name.value
            given = self.variables.get(name, self.defaults.get(name))
            return given if isinstance(given, int) and not isinstance(given, bool) else None
        return None


@dataclass
class _Scope:
    """What a selection set inherits from the field above it."""

    multiplier: int = 1
    depth: int = 0
    lists: int = 0
    introspection: bool = False
    page: int | None = None  # page size of the paginated (connection) field just above
    in_edges: bool = False
