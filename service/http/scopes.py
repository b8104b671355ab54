"""What a token may see: the `read` scope rule, checked on the validated document before any SQL runs.

The one rule for queries and subscriptions, over HTTP and WebSocket (service/http/operation.py).

`read` covers every query. A token without it (automation holding `write:owners` or
`write:activity` only) may run mutations, but their answers must not become a way to
read: it sees the payload's own scalars and enums (`changed`, errors' `message` and
`field`, `__typename`) and, of any object the payload references, only `id` and
`__typename` (enough to chain calls: `deployment { id }`). Anything more refuses the
whole request before it runs, so a refused mutation writes nothing.

The walk sees the operation as execution would: a field is judged by its name, never
by its alias (`id: email` is `email`); named and inline fragments are expanded where
they are spread, at the level of the selection that spreads them; `@skip`/`@include`
are not evaluated (a field that may be selected counts as selected). No type is looked
up: in a validated document a field has a selection set exactly when it returns an
object, interface or union, and that is all the rule needs. The limits check has
already bounded how far fragments expand.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)

from service.auth import Principal

READ = "read"
REFERENCE_FIELDS = frozenset({"id", "__typename"})  # what a token without `read` sees of a referenced object


class Level(IntEnum):
    """Where a selection set sits in a mutation, for a token without `read`."""

    ROOT = 0  # the Mutation type: its fields are the mutations
    PAYLOAD = 1  # what a mutation returns: its leaves are the payload's own scalars
    REFERENCE = 2  # an object the payload references: `id` and `__typename` only
    NOTHING = 3  # a query: nothing at all


@dataclass(frozen=True)
class Refusal:
    """The first field the token may not select (field names, aliases looked through) and the scope it needs."""

    path: tuple[str, ...]
    scope: str

    @property
    def message(self) -> str:
        where = ".".join(self.path)
        if len(self.path) == 1:
            return f"`{where}` needs the {self.scope!r} scope, which this token lacks"
        return (f"`{where}` needs the {self.scope!r} scope, which this token lacks: without it a mutation "
                "answers with its payload's own fields and the `id` and `__typename` of the objects it references")


def may_subscribe(principal: Principal) -> bool:
    """A subscription is read like a query: a token without `read` could select nothing in one, so its
    WebSocket connection is refused at connection_init (4403) instead of each subscription."""
    return principal.can(READ)


def refusal(document: DocumentNode, operation: OperationDefinitionNode, principal: Principal) -> Refusal | None:
    """The first field of `operation` that `principal` may not see, or None if it may run."""
    if principal.can(READ):
        return None
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    start = Level.ROOT if operation.operation is OperationType.MUTATION else Level.NOTHING
    path = _first_refused(operation.selection_set, start, (), fragments, frozenset())
    return None if path is None else Refusal(path, READ)


def _first_refused(selection_set: SelectionSetNode, level: Level, path: tuple[str, ...],
                   fragments: dict[str, FragmentDefinitionNode], spread: frozenset[str]) -> tuple[str, ...] | None:
    for selection in selection_set.selections:
        found = None
        if isinstance(selection, FieldNode):
            here = path + (selection.name.value,)
            if level is Level.NOTHING:
                return here
            if level is Level.REFERENCE:
                if selection.name.value not in REFERENCE_FIELDS or selection.selection_set is not None:
                    return here
                continue
            if selection.selection_set is not None:  # a mutation's payload, or an object the payload references
                found = _first_refused(selection.selection_set, Level(level + 1), here, fragments, spread)
        elif isinstance(selection, InlineFragmentNode):
            found = _first_refused(selection.selection_set, level, path, fragments, spread)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in spread:  # validation has refused unknown and cyclic ones
                found = _first_refused(fragment.selection_set, level, path, fragments, spread | {name})
        if found is not None:
            return found
    return None
