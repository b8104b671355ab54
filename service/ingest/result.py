"""What an ingest answers: the result, each rejected line's problem, and the errors that stop a whole request."""
from __future__ import annotations

from dataclasses import dataclass, field


class IngestError(Exception):
    """The request as a whole cannot be ingested; `status` is the HTTP status to answer with."""

    status = 400


class BodyTooLarge(IngestError):
    status = 413

    def __init__(self, limit: int):
        super().__init__(f"request body exceeds the ingest limit of {limit} bytes; nothing was written."
                         " Split the file into smaller requests")
        self.limit = limit


class Reject(Exception):
    """One field of a row is invalid: reported with the row's line number, the field and a code."""

    def __init__(self, reason: str, field: str | None = None, code: str = "INVALID"):
        super().__init__(reason)
        self.field, self.code = field, code


@dataclass(frozen=True)
class Problem:
    """Why one line was rejected: a `code` for programs, a `reason` for people, and every field at fault."""

    line: int
    code: str
    reason: str
    fields: tuple[Reject, ...] = ()

    def as_json(self) -> dict:
        body = {"line": self.line, "code": self.code, "reason": self.reason}
        if self.fields:
            body["fields"] = [{"field": f.field, "code": f.code, "reason": str(f)} for f in self.fields]
        return body


@dataclass
class Result:
    accepted: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[Problem] = field(default_factory=list)
    written: bool = True

    def as_json(self) -> dict:
        return {
            "accepted": self.accepted, "inserted": self.inserted, "updated": self.updated,
            "unchanged": self.unchanged, "rejected": self.rejected,
            "errors": [problem.as_json() for problem in self.errors],
        }
