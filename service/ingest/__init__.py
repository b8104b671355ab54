"""Bulk ingest: merge.ingest() streams a body through formats (parsing) and validate (rows) into the database."""
from service.ingest.formats import FORMATS, MAX_LINE_BYTES, CsvParser, NdjsonParser, Parser, parser_for
from service.ingest.merge import ingest
from service.ingest.result import BodyTooLarge, IngestError, Problem, Reject, Result
from service.ingest.validate import RowValidator

__all__ = ["FORMATS", "MAX_LINE_BYTES", "BodyTooLarge", "CsvParser", "IngestError", "NdjsonParser", "Parser",
           "Problem", "Reject", "Result", "RowValidator", "ingest", "parser_for"]
