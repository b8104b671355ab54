"""The two formats a body arrives in, NDJSON and CSV, parsed incrementally: byte chunks in, staging tuples out.

Line numbers are 1-based physical lines of the body (for CSV the header is line 1; a quoted
field spanning lines is reported at its first line); blank lines are skipped; unknown keys or
columns are ignored.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from service.ingest.result import IngestError, Problem, Reject
from service.ingest.validate import COLUMNS, REQUIRED_COLUMNS, RowValidator

FORMATS = ("ndjson", "csv")
MAX_LINE_BYTES = 1 << 20  # a line this long without its newline is rejected, not buffered

# The C scanner behind json.loads, without its Python wrapper; json.loads reports errors.
# (typeshed does not declare `scan_once`, which JSONDecoder.__init__ sets)
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


class Parser:
    """Incremental parser: feed() byte chunks, get staging tuples of the complete rows back."""

    def __init__(self, validator: RowValidator, max_errors: int):
        self.validator = validator
        self.max_errors = max_errors
        self.errors: list[Problem] = []
        self.rejected = 0
        self.accepted = 0
        self.line = 0  # physical lines consumed so far
        self._pending = b""
        self._skipping = False  # inside an over-long line

    def reject(self, line: int, code: str, reason: str) -> None:
        self.rejected += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(Problem(line, code, reason))

    def reject_row(self, line: int, values: tuple) -> None:
        """A row whose fields did not validate: report every field at fault (while errors are listed)."""
        self.rejected += 1
        if len(self.errors) < self.max_errors:
            fields = self.validator.problems(line, values)
            self.errors.append(Problem(line, "INVALID_FIELDS", "; ".join(str(f) for f in fields), fields))

    def feed(self, chunk: bytes) -> list[tuple]:
        data = self._pending + chunk if self._pending else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._hold(data)
            return []
        if self._skipping:
            # the over-long line ends at the first newline; it was already reported
            first = data.find(b"\n")
            self.line += 1
            self._skipping = False
            block, self._pending = data[first + 1:cut + 1], data[cut + 1:]
        else:
            block, self._pending = data[:cut + 1], data[cut + 1:]
        rows = self._block(block) if block else []
        if len(self._pending) > MAX_LINE_BYTES:
            self._hold(self._pending)
        return rows

    def finish(self) -> list[tuple]:
        rows = [] if self._skipping or not self._pending else self._block(self._pending + b"\n")
        self._pending = b""
        return rows + self._end()

    def _hold(self, data: bytes) -> None:
        if self._skipping:
            self._pending = b""
        elif len(data) > MAX_LINE_BYTES:
            self.reject(self.line + 1, "LINE_TOO_LONG", f"line longer than {MAX_LINE_BYTES} bytes")
            self._skipping, self._pending = True, b""
        else:
            self._pending = data

    def _decode(self, block: bytes) -> str:
        """Decode a block of whole lines; a line that is not UTF-8 is rejected and blanked."""
        try:
            return block.decode("utf-8")
        except UnicodeDecodeError:
            lines = block.split(b"\n")
            for i, raw in enumerate(lines):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    self.reject(self.line + i + 1, "NOT_UTF8", "line is not valid UTF-8")
                    lines[i] = b""
            return b"\n".join(lines).decode("utf-8")

    def _block(self, block: bytes) -> list[tuple]:
        raise NotImplementedError

    def _end(self) -> list[tuple]:
        return []


class NdjsonParser(Parser):
    def _block(self, block: bytes) -> list[tuple]:
        lines = self._decode(block).split("\n")
        lines.pop()  # the block ends with a newline
        out: list[tuple] = []
        append = out.append
        scan = _scan
        row = self.validator.row
        n = self.line
        for text in lines:
            n += 1
            if not text or text.isspace():
                continue
            obj = None
            try:
                try:
                    obj, end = scan(text, 0)
                    if end != len(text) and not text[end:].isspace():
                        raise ValueError
                except (StopIteration, ValueError):
                    obj = json.loads(text)  # leading blanks, or raises the precise error
                get = obj.get
                values = (get("externalId"), get("deploymentKey"), get("deploymentId"), get("topic"),
                          get("channel"), get("startedAt"), get("aiEngaged"), get("outcome"),
                          get("resolvedAt"), get("reopenedAt"))
                append(row(n, *values))
            except Reject:
                self.reject_row(n, values)
            except json.JSONDecodeError as exc:
                self.reject(n, "INVALID_JSON", f"invalid JSON: {exc}")
            except Exception:
                if isinstance(obj, dict):
                    self.reject(n, "WRONG_TYPE", "a field has a value of the wrong type")
                else:
                    self.reject(n, "NOT_AN_OBJECT", "expected a JSON object with the conversation's fields")
        self.line = n
        self.accepted += len(out)
        return out


class CsvParser(Parser):
    def __init__(self, validator: RowValidator, max_errors: int):
        super().__init__(validator, max_errors)
        self._getter: Callable | None = None
        self._width = 0
        self._carry = ""  # whole lines held back while a quoted field spans them

    def _block(self, block: bytes) -> list[tuple]:
        text = self._carry + self._decode(block) if self._carry else self._decode(block)
        if text.count('"') % 2:
            # A quoted field is still open: parse up to the last line boundary outside quotes.
            boundary, inside, pos = 0, False, 0
            for piece in text.split("\n")[:-1]:
                pos += len(piece) + 1
                inside ^= piece.count('"') % 2 == 1
                if not inside:
                    boundary = pos
            text, self._carry = text[:boundary], text[boundary:]
            if len(self._carry) > MAX_LINE_BYTES:
                start = self.line + text.count("\n") + 1
                raise IngestError(f"unterminated quoted field starting near line {start}")
        else:
            self._carry = ""
        return self._rows(text) if text else []

    def _end(self) -> list[tuple]:
        rows = self._rows(self._carry) if self._carry else []
        self._carry = ""
        if self._getter is None:
            raise IngestError("empty CSV: expected a header row naming the columns "
                              f"({', '.join(COLUMNS)})")
        return rows

    def _header(self, names: list[str]) -> None:
        names = [n.strip() for n in names]
        if names and names[0].startswith("\ufeff"):
            names[0] = names[0][1:]
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        if "deploymentKey" not in names and "deploymentId" not in names:
            missing.append("deploymentKey or deploymentId")
        if missing:
            raise IngestError(f"CSV header lacks column(s): {', '.join(missing)}")
        self._width = len(names)
        # an absent optional column reads the empty string appended to every row
        self._getter = itemgetter(*[names.index(c) if c in names else self._width for c in COLUMNS])

    def _rows(self, text: str) -> list[tuple]:
        out: list[tuple] = []
        append = out.append
        row = self.validator.row
        base = self.line
        reader = csv.reader(io.StringIO(text, newline="\n"))
        start = 0  # lines consumed by the reader before the current record
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                self.reject(base + start + 1, "MALFORMED_CSV", f"malformed CSV: {exc}")
                start = reader.line_num
                continue
            n = base + start + 1
            start = reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if self._getter is None:
                self._header(fields)
                continue
            if len(fields) != self._width:
                self.reject(n, "WRONG_FIELD_COUNT",
                            f"expected {self._width} fields as in the header, got {len(fields)}")
                continue
            fields.append("")
            values = self._getter(fields)
            try:
                append(row(n, *values))
            except Reject:
                self.reject_row(n, values)
            except Exception:
                self.reject(n, "INVALID_ROW", "invalid row")
        self.line = base + reader.line_num
        self.accepted += len(out)
        return out


def parser_for(fmt: str, validator: RowValidator, max_errors: int) -> Parser:
    if fmt == "ndjson":
        return NdjsonParser(validator, max_errors)
    if fmt == "csv":
        return CsvParser(validator, max_errors)
    raise IngestError(f"format must be one of {', '.join(FORMATS)}")
