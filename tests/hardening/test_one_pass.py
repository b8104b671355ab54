"""A new document is parsed once and validated once per process: the edge's checks and Strawberry's execution
share the schema's caches (service/http/limits.py, Pass)."""
from __future__ import annotations

import uuid


def counts(api) -> tuple[int, int, int, int]:
    """(parse misses, parse hits, validation misses, validation hits) of the app's schema caches."""
    documents = api.app.state.graphql_pass
    parsed, validated = documents.parse.cache_info(), documents._validate.cache_info()
    return parsed.misses, parsed.hits, validated.misses, validated.hits


async def test_a_new_document_is_parsed_and_validated_once_then_only_found(api, token):
    query = f"query Once_{uuid.uuid4().hex} {{ organizations {{ slug }} }}"  # no other test sent this text
    before = counts(api)
    first = await api.post(query, token=token)
    assert first.status_code == 200 and first.json() == {"data": {"organizations": [{"slug": "acme"}]}}
    after_first = counts(api)
    # one parse and one validation (the edge's), then Strawberry found both in the caches
    assert [a - b for a, b in zip(after_first, before, strict=True)] == [1, 1, 1, 1]
    again = await api.post(query, token=token)
    assert again.json() == first.json()
    # a repeated document is only found, by the edge and by Strawberry
    assert [a - b for a, b in zip(counts(api), after_first, strict=True)] == [0, 2, 0, 2]


async def test_a_refused_document_is_validated_once_and_not_executed(api, token):
    query = f"query Refused_{uuid.uuid4().hex} {{ organizations {{ nope }} }}"
    before = counts(api)
    response = await api.post(query, token=token)
    assert response.status_code == 200 and [e["extensions"]["code"] for e in response.json()["errors"]] == [
        "GRAPHQL_VALIDATION_FAILED"]
    assert [a - b for a, b in zip(counts(api), before, strict=True)] == [1, 0, 1, 0]
