"""How big an operation is: depth, aliases, directives, cost and introspection, measured before any SQL runs.

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
introspection query needs 3: types -> fields -> args), which stops
`fields { type { fields { type { fields … } } } }` bombs.

Every check builds its own `Walk`: nothing is shared between requests. Sizes depend on the
variables (`first: $n`), so this runs per request, on the document the parse cache kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
)
from graphql.type import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef

from service.config import Settings
from service.http.errors import rejected

DEFAULT_PAGE_SIZE = 20  # what the connection resolvers return when neither `first` nor `last` is given
INTROSPECTION_LISTS = 3
MAX_VISITS = 20_000  # fields visited while measuring (fragments expanded): bounds fragment bombs
MAX_NESTING = 200  # selection sets nested through fragments: bounds the recursion itself
META_FIELDS = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef, "__typename": TypeNameMetaFieldDef}


def check_operations(document: DocumentNode, variables: dict[str, Any] | None, settings: Settings,
                     schema: GraphQLSchema) -> None:
    """Each operation of `document` within the limits of `settings`, or QueryRejected."""
    for operation in document.definitions:
        if isinstance(operation, OperationDefinitionNode):
            _check_operation(Walk.of(document, operation, variables or {}, schema), settings)


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
