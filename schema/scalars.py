"""`Date` and `DateTime` with the supported range (schema/instants.py) checked at the door.

Same names and formats as Strawberry's built-ins (ISO 8601 in, `isoformat()` out), so callers see
no change inside the range; outside it, and for unparsable values or offsets that overflow, the
value does not coerce: BAD_USER_INPUT naming the argument or input field and stating the range
(`input.effectiveAt: …` for a literal, through NamedValuesOfCorrectType below; graphql-core's
`Variable '$input' … at .effectiveAt: …` for a variable). Output is what the database holds, never
refused: a non-null field that failed would null its whole parent list.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any, TypeVar

import dateutil.parser
import strawberry
from graphql import SKIP, GraphQLError, ValuesOfCorrectTypeRule, specified_rules
from graphql.utilities.validate_input_value import validate_input_literal
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import SchemaExtension
from strawberry.types.scalar import ScalarDefinition

from schema.instants import DATE_RANGE, INSTANT_RANGE, comparable, date_problem, instant_problem

T = TypeVar("T")
RFC_3339 = "https://datatracker.ietf.org/doc/html/rfc3339"


class InstantInputError(StrawberryInputCoercionError):
    """A Date or DateTime input that does not parse or is outside the supported range."""

    def __init__(self, message: str):
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})


def _parser(name: str, parse: Callable[[str], T], problem: Callable[[T], str | None],
            example: str) -> Callable[[object], T]:
    def parse_value(value: object) -> T:
        if not isinstance(value, str):
            raise InstantInputError(f"{name} must be a string such as {example!r}")
        try:
            parsed = parse(value)
        except (ValueError, OverflowError) as exc:
            raise InstantInputError(
                f"{name} {value[:40]!r} is not a valid ISO 8601 value ({exc}); for example {example!r}") from None
        reason = problem(parsed)
        if reason is not None:
            raise InstantInputError(f"{name} {value[:40]!r} {reason}")
        return parsed

    return parse_value


def _isoformat(value: date) -> str:
    if isinstance(value, datetime):
        value = comparable(value)  # a stored ±infinity keeps the offset every DateTime has
    return value.isoformat()


DateTime = strawberry.scalar(
    name="DateTime",
    description=f"An instant: ISO 8601 date and time with a UTC offset (RFC 3339), e.g. 2026-03-01T09:00:00Z. "
                f"Supported range: {INSTANT_RANGE}; values outside it are refused.",
    specified_by_url=RFC_3339,
    serialize=_isoformat,
    parse_value=_parser("DateTime", dateutil.parser.isoparse, instant_problem, "2026-03-01T09:00:00Z"),
)

Date = strawberry.scalar(
    name="Date",
    description=f"A UTC calendar day: ISO 8601 date (RFC 3339 full-date), e.g. 2026-03-01. "
                f"Supported range: {DATE_RANGE}; values outside it are refused.",
    specified_by_url=RFC_3339,
    serialize=_isoformat,
    parse_value=_parser("Date", date.fromisoformat, date_problem, "2026-03-01"),
)

# For strawberry.Schema(scalar_overrides=...): every `datetime` and `date` annotation uses these.
# keyed by object, as Schema's scalar_overrides takes (a Mapping's key type is invariant)
INSTANT_SCALARS: dict[object, ScalarDefinition] = {datetime: DateTime, date: Date}


class NamedValuesOfCorrectType(ValuesOfCorrectTypeRule):
    """The spec's rule, except that a bad Date/DateTime literal names its argument and input field.

    graphql-core reports a literal the scalar refused with neither (only variables get a path);
    this one says `window.from: Date '0001-01-01' is out of range: …`, with code BAD_USER_INPUT.
    """

    _where = "value"

    def enter_argument(self, node: Any, *_args: Any) -> None:
        self._where = node.name.value

    def enter_variable_definition(self, node: Any, *_args: Any) -> None:
        self._where = f"${node.variable.name.value}"

    def is_valid_value_node(self, node: Any, input_type: Any) -> Any:
        if input_type:
            def on_error(error: GraphQLError, path: list[str | int]) -> None:
                if isinstance(error, InstantInputError):
                    where = ".".join([self._where, *map(str, path)])
                    error = GraphQLError(f"{where}: {error.message}", node,
                                         extensions={"code": "BAD_USER_INPUT", "field": where})
                self.report_error(error)

            validate_input_literal(node, input_type, on_error, None, None, self.context.hide_suggestions)
        return SKIP


# The specified rules with the one above in place of ValuesOfCorrectTypeRule (same position).
RULES = tuple(NamedValuesOfCorrectType if rule is ValuesOfCorrectTypeRule else rule for rule in specified_rules)


class NameLiteralErrors(SchemaExtension):
    """Validate with RULES (a fixed tuple, so the validation cache still hits)."""

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        ctx.validation_rules = tuple(NamedValuesOfCorrectType if rule is ValuesOfCorrectTypeRule else rule
                                     for rule in ctx.validation_rules)
        yield
