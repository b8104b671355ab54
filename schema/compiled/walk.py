"""The walk of a validated operation: fields collected as execution collects them, each turned into SQL.

A selection becomes one `json_build_object` of its response keys in document order (fragments, aliases,
`@skip`/`@include` resolved); each field's SQL comes from the registry (schema/compiled/fields.py).
Anything the registry does not hold raises Unsupported: the request then runs through Strawberry.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.execution.values import VariableValues, get_argument_values, get_directive_values
from graphql.type import GraphQLIncludeDirective, GraphQLSkipDirective

from service.sql_files import load

SQL = load("schema.compiled", "compiled.sql")
# json_build_object takes at most 100 arguments: 50 keys
MAX_KEYS = 50
PARAM = re.compile(r"\$(\d+)")


@dataclass
class Page:
    """A connection being compiled: its row alias, its page size parameter, the statements batched for it."""

    row: str
    limit: str
    batches: list[str] = field(default_factory=list)


class Unsupported(Exception):
    """The compiler cannot take this operation whole (or an argument would be an error): use Strawberry."""


def fill(template: str, args: Sequence[str] = (), **slots: str) -> str:
    """A fragment or statement with its `$n` replaced by `args` (expressions) and its `{{slot}}`s filled."""
    # comment lines go: their `$n` are prose, and the statement is inlined into a larger one
    text = "\n".join(line for line in template.splitlines() if not line.lstrip().startswith("--"))
    text = text.strip().rstrip(";")
    text = PARAM.sub(lambda m: f"({args[int(m.group(1)) - 1]})", text)
    for name, value in slots.items():
        text = text.replace("{{" + name + "}}", value)
    return text


def plain(value: Any) -> Any:
    """An argument's coerced value as the resolvers see it (enums by their value)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# a field's SQL: given the walk, the parent's row alias, the field's nodes and definition, its JSON expression
Emit = Callable[["Walk", str, Sequence[FieldNode], GraphQLField], str]


@dataclass
class Walk:
    """One compilation: the schema, the operation's fragments and variables, the parameters so far."""

    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    variables: VariableValues
    principal: Any
    settings: Any
    registry: dict[str, dict[str, Emit]]  # type name -> field name -> its SQL (schema/compiled/fields.py)
    params: list[Any] = field(default_factory=list)
    aliases: int = 0
    impact: str = ""  # OwnershipSummary's impact statement, read by its bucket fields
    page: Page | None = None  # the connection whose nodes are being compiled

    def batch(self, row: str, statement: Callable[[str], str], key: str, parent: str) -> str | None:
        """For a node of the current page: `statement` (given the ids) read once for the page, then this
        node's rows of it (`key` = `parent`); None outside a page (the statement then reads one parent)."""
        if self.page is None or self.page.row != row:
            return None
        name = f"_b{len(self.page.batches) + 1}_{self.page.row}"
        # materialized: referenced once, inside each node's subquery, it would otherwise be inlined there
        self.page.batches.append(f"{name} as materialized ({statement(fill(SQL['page_ids'], [self.page.limit]))}),")
        return fill(SQL["batched"], [parent], batch=name, key=key)

    def param(self, value: Any, cast: str | None = None) -> str:
        """A statement parameter (never interpolated); `cast` names its SQL type where PostgreSQL cannot infer it.

        A null with its type is written as a literal: the plan PostgreSQL caches for a prepared statement
        (a generic plan, after five runs) then still drops the `$n is null or …` branches it makes, and
        estimates a filter left open (`between greatest(null, …) and least(null, …)`) as open, not as
        selective (which sent a deployment's updates through the author index: the whole organization's)."""
        if value is None and cast is not None:
            return f"null::{cast}"
        self.params.append(value)
        return f"${len(self.params)}::{cast}" if cast else f"${len(self.params)}"

    def org(self) -> str:
        """The caller's organization: the resolvers' statements name it (`org_id = $n`) beside row-level
        security, so under Citus each routes to one shard; the compiled statement passes it the same way."""
        return self.param(self.principal.org_id, "bigint")

    def alias(self) -> str:
        self.aliases += 1
        return f"_t{self.aliases}"

    def arguments(self, definition: GraphQLField, node: FieldNode) -> dict[str, Any]:
        return plain(get_argument_values(definition, node, self.variables))

    # ------------------------------------------------------------------ selections

    def collect(self, parent: GraphQLObjectType,
                selections: Sequence[SelectionSetNode | None]) -> dict[str, list[FieldNode]]:
        """Response key -> its field nodes, in document order (graphql-core's CollectFields)."""
        grouped: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()

        def visit(selection_set: SelectionSetNode) -> None:
            for selection in selection_set.selections:
                if not self._included(selection):
                    continue
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    grouped.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    if self._applies(selection.type_condition, parent):
                        visit(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if name in visited or fragment is None:
                        continue
                    visited.add(name)
                    if self._applies(fragment.type_condition, parent):
                        visit(fragment.selection_set)

        for selection_set in selections:
            if selection_set is not None:
                visit(selection_set)
        return grouped

    def _included(self, node: Any) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and include.get("if") is False)

    def _applies(self, condition: Any, parent: GraphQLObjectType) -> bool:
        if condition is None or condition.name.value == parent.name:
            return True
        named = self.schema.get_type(condition.name.value)
        return named is not None and any(i.name == named.name for i in parent.interfaces)

    def selection(self, type_: GraphQLObjectType, nodes: Sequence[FieldNode], row: str) -> str:
        """The JSON object of the selection of `nodes` (one response key's field nodes) over row alias `row`."""
        grouped = self.collect(type_, [n.selection_set for n in nodes])
        if not grouped or len(grouped) > MAX_KEYS:
            raise Unsupported(f"{len(grouped)} keys on {type_.name}")
        registry = self.registry.get(type_.name)
        parts = []
        for key, field_nodes in grouped.items():
            name = field_nodes[0].name.value
            if name == "__typename":
                value = f"to_json({self.param(type_.name, 'text')})"
            else:
                emit = registry.get(name) if registry else None
                if emit is None:
                    raise Unsupported(f"{type_.name}.{name}")
                definition = type_.fields[name]
                value = emit(self, row, field_nodes, definition)
            parts.append(f"{self.param(key, 'text')}, {value}")
        return "json_build_object(" + ", ".join(parts) + ")"


def object_type(definition: GraphQLField) -> GraphQLObjectType:
    """The object type a field returns (through non-null and list wrappers); Unsupported if abstract."""
    type_: Any = definition.type
    while isinstance(type_, (GraphQLNonNull, GraphQLList)):
        type_ = type_.of_type
    if not isinstance(type_, GraphQLObjectType):
        raise Unsupported(f"abstract or leaf type {type_}")
    return type_

