"""The differential check: the compiled path and Strawberry alone must give the same answer.

Equal means: the same status, and the same JSON (data and errors) with keys in the same order; a
number compares by value (PostgreSQL writes the float 1.0 as `1`, Python as `1.0`: the same JSON number).
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import httpx
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

# requests answered by both apps; of those, the suite's own (through Api.post), and the ones the compiler took
COMPARED = {"requests": 0, "suite": 0, "suite_compiled": 0}


def enabled() -> bool:
    return os.environ.get("STEWARD_TEST_DIFFERENTIAL", "") not in ("", "0")


def is_query(query: str) -> bool:
    """Only reads are sent twice (a mutation would write twice)."""
    try:
        document = parse(query)
    except (GraphQLError, RecursionError):
        return False
    kinds = {d.operation for d in document.definitions if isinstance(d, OperationDefinitionNode)}
    return kinds == {OperationType.QUERY}


def canonical(value: Any) -> Any:
    if isinstance(value, dict):  # a masked error's requestId is the request's own
        return [(k, canonical(v)) for k, v in value.items() if k != "requestId"]
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def assert_same(query: str, variables: dict | None, expected: httpx.Response, got: httpx.Response) -> None:
    COMPARED["requests"] += 1
    assert got.status_code == expected.status_code, (query, variables, expected.text, got.text)
    try:
        want, have = expected.json(), got.json()
    except ValueError:
        assert got.content == expected.content, (query, variables)
        return
    assert canonical(have) == canonical(want), (query, variables, json.dumps(want)[:2000], json.dumps(have)[:2000])


async def plain_app(db_url: str):
    """The app with the compiler off: every query through Strawberry, as before compiled reads."""
    from .conftest import TEST_SETTINGS, start_api

    api, lifespan = await start_api(db_url, dataclasses.replace(TEST_SETTINGS, compile=False))
    # its requests are the test's requests a second time: they must not write a token's last use again
    # (a test that fingerprints the tables would see the second app's late flush)
    api.app.state.token_usage.seen = lambda principal: None
    return api, lifespan
