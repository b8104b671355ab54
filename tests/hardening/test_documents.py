"""Persisted documents: Apollo's automatic persisted queries, and trusted documents (STEWARD_TRUSTED_DOCUMENTS=only)."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import Settings

from .conftest import codes

ROOT = Path(__file__).resolve().parents[2]
QUERY = "query Count { deployments { totalCount } }"
OTHER = "query Keys { deployments { edges { node { key } } } }"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(text: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(text)}}


def steward(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env=os.environ | {"DATABASE_URL": url}, timeout=60)


async def post(api, token: str, body: dict, **headers: str):
    return await api.client.post("/graphql", json=body, headers={"authorization": f"Bearer {token}"} | headers)


async def test_automatic_persisted_queries_register_then_run_by_hash(api, token):
    unknown = await post(api, token, {"extensions": apq(QUERY)})
    assert unknown.status_code == 200 and codes(unknown.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"  # what Apollo Client looks for

    registered = await post(api, token, {"query": QUERY, "extensions": apq(QUERY)})
    assert registered.json() == {"data": {"deployments": {"totalCount": 3}}}

    by_hash = await post(api, token, {"extensions": apq(QUERY)})
    assert by_hash.json() == {"data": {"deployments": {"totalCount": 3}}}
    by_get = await api.client.get("/graphql", params={"extensions": json.dumps(apq(QUERY))},
                                  headers={"authorization": f"Bearer {token}", "accept": "application/json"})
    assert by_get.json() == {"data": {"deployments": {"totalCount": 3}}}


@pytest.mark.parametrize("extensions, code", [
    ({"persistedQuery": {"version": 1, "sha256Hash": sha("{ __typename }")}}, "PERSISTED_QUERY_HASH_MISMATCH"),
    ({"persistedQuery": {"version": 2, "sha256Hash": sha(QUERY)}}, "PERSISTED_QUERY_NOT_SUPPORTED"),
    ({"persistedQuery": {"version": 1, "sha256Hash": "NOT-HEX"}}, "BAD_REQUEST"),
    ({"persistedQuery": "yes"}, "PERSISTED_QUERY_NOT_SUPPORTED"),
])
async def test_bad_persisted_query_extensions_are_request_errors(api, token, extensions, code):
    response = await post(api, token, {"query": QUERY, "extensions": extensions},
                          accept="application/graphql-response+json")
    assert response.status_code == 400 and codes(response.json()) == [code]
    assert "data" not in response.json()


async def test_trusted_documents_only_runs_registered_documents(apps, world_url, token, tmp_path):
    manifest = tmp_path / "persisted_queries.json"  # Relay's format: {id: text}
    manifest.write_text(json.dumps({"relay-count-1": QUERY}))
    imported = steward(world_url, "documents", "import", str(manifest))
    assert imported.returncode == 0, imported.stderr
    assert "1 document(s) registered" in imported.stderr
    again = steward(world_url, "documents", "import", str(manifest))
    assert "0 document(s) registered, 1 already registered" in again.stderr
    listed = steward(world_url, "documents", "list")
    assert "relay-count-1" in listed.stdout and sha(QUERY) in listed.stdout and QUERY not in listed.stdout

    api = await apps(Settings(trusted_documents="only"))
    expected = {"data": {"deployments": {"totalCount": 3}}}
    assert (await post(api, token, {"documentId": "relay-count-1"})).json() == expected
    assert (await post(api, token, {"extensions": apq(QUERY)})).json() == expected
    assert (await post(api, token, {"query": QUERY})).json() == expected  # its text is registered too

    for body in ({"query": OTHER}, {"query": OTHER, "extensions": apq(OTHER)}, {"documentId": "nope"}):
        refused = await post(api, token, body)
        assert codes(refused.json()) == ["DOCUMENT_NOT_TRUSTED"] and "data" not in refused.json()


async def test_an_apollo_manifest_imports_and_an_id_never_changes_meaning(world_url, tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
        {"id": sha(OTHER), "name": "Keys", "type": "query", "body": OTHER}]}))
    assert steward(world_url, "documents", "import", str(manifest)).returncode == 0

    manifest.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
        {"id": sha(OTHER), "name": "Keys", "type": "query", "body": QUERY}]}))
    clash = steward(world_url, "documents", "import", str(manifest))
    assert clash.returncode == 2 and "already registered for another document" in clash.stderr

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"x": "query {"}))
    refused = steward(world_url, "documents", "import", str(broken))
    assert refused.returncode == 2 and "does not parse" in refused.stderr
