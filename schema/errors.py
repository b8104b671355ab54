"""Errors: ApiError for queries (stable extensions.code), typed payload members for mutations."""
from __future__ import annotations

from enum import Enum
from typing import ClassVar, TypeVar

import strawberry

from schema.instants import INSTANT_RANGE

T = TypeVar("T")


class ApiError(Exception):
    """An expected failure shown to the caller as a GraphQL error with a stable `extensions.code`."""

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.extensions = {"code": code} | ({"field": field} if field else {})


def bad_input(message: str, field: str | None = None) -> ApiError:
    return ApiError("BAD_USER_INPUT", message, field)


def not_found(what: str, field: str | None = None) -> ApiError:
    return ApiError("NOT_FOUND", f"{what} not found", field)


def stored_out_of_range(what: str) -> ApiError:
    """A value stored before the range constraints (migration 0007) that a figure cannot use."""
    return ApiError("DATA_OUT_OF_RANGE", f"{what} is stored with a time outside the supported range "
                    f"({INSTANT_RANGE}); this figure cannot be computed until it is corrected")


def present(value: T | None, what: str) -> T:
    """An object a reference promises (a foreign key); its absence is a bug that fails this field alone."""
    if value is None:
        raise LookupError(f"{what} is referenced but could not be read")
    return value


def forbidden(scope: str) -> ApiError:
    return ApiError("FORBIDDEN", f"this token lacks the {scope!r} scope")


@strawberry.enum(description="What kind of expected failure a UserError is; the same codes as `extensions.code`.")
class UserErrorCode(Enum):
    NOT_FOUND = strawberry.enum_value("NOT_FOUND", description="NotFoundError.")
    CONFLICT = strawberry.enum_value("CONFLICT", description="ConflictError.")
    BAD_USER_INPUT = strawberry.enum_value("BAD_USER_INPUT", description="ValidationError.")
    FORBIDDEN = strawberry.enum_value("FORBIDDEN", description="PermissionError.")


@strawberry.interface(description="An expected failure of a mutation; nothing was written.")
class UserError:
    CODE: ClassVar[UserErrorCode]
    message: str = strawberry.field(description="What went wrong, for people.")
    field: str | None = strawberry.field(default=None, description="The input field at fault, if any.")

    @strawberry.field(description="The kind of failure, for programs (one value per error type).")
    def code(self) -> UserErrorCode:
        return self.CODE


@strawberry.type(description="The referenced object does not exist in the caller's organization.")
class NotFoundError(UserError):
    CODE = UserErrorCode.NOT_FOUND


@strawberry.type(description="The change conflicts with the current state (or a reused idempotency key).")
class ConflictError(UserError):
    CODE = UserErrorCode.CONFLICT


@strawberry.type(description="The input is invalid.")
class ValidationError(UserError):
    CODE = UserErrorCode.BAD_USER_INPUT


@strawberry.type(description="The token lacks the scope this mutation needs.")
class PermissionError(UserError):
    CODE = UserErrorCode.FORBIDDEN
