"""GraphiQL in a real headless Chromium: the first load from a token link works, with no 401 and Docs filled in.

Driven over the DevTools protocol (tests/hardening/chromium.py), which also records every request and response
the page makes, so "no 401" is read from the browser itself.
"""
from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from service.db.pool import connect

from ..api.conftest import make_token
from .chromium import CHROMIUM, Chromium
from .conftest import FIGURES

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium: "
                       "`apt-get install chromium` to run the GraphiQL browser test (.ci/run does in CI)"),
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / ".steward" / "artifacts" / "graphiql.png"
QUERY = "{ deployments { totalCount } organizations { slug } }"


@pytest.fixture(scope="module")
async def globex_token(world_url: str) -> str:
    return await make_token(world_url, "globex")


@pytest.fixture
def browser(tmp_path):
    with Chromium(tmp_path / "profile") as browser:
        yield browser


def editor_js(marker: str) -> str:
    """The CodeMirror instance whose wrapper matches a CSS selector."""
    return f"document.querySelector({json.dumps(marker + ' .CodeMirror')}).CodeMirror"


HEADERS_EDITOR = ("[...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')]"
                  ".map(e => e.CodeMirror).find(cm => /authorization/i.test(cm.getValue()))")


def run_query(browser: Chromium, query: str) -> dict:
    """Type a query into GraphiQL, press its run button, and read GraphiQL's result pane."""
    browser.evaluate(f"{editor_js('.graphiql-response')}.setValue('')")
    browser.evaluate(f"{editor_js('.graphiql-query-editor')}.setValue({json.dumps(query)})")
    browser.evaluate("document.querySelector('.graphiql-execute-button').click()")
    text = browser.wait_for(f"{editor_js('.graphiql-response')}.getValue()", what="GraphiQL's result pane")
    return json.loads(text)


def open_query_docs(browser: Chromium) -> str:
    """Open the Docs explorer on the Query type and return its text: it lists fields only if the schema loaded."""
    browser.wait_for("!!document.querySelector('.graphiql-container')", what="GraphiQL to mount")
    return browser.wait_for("""(() => {
        const explorer = document.querySelector('.graphiql-doc-explorer');
        if (!explorer) {
            document.querySelector('[aria-label="Show Documentation Explorer"]').click();
            return '';
        }
        const text = explorer.innerText;
        if (/Error fetching schema/.test(text) || /\\bdeployments\\s*\\(/.test(text)) return text;
        const query = [...explorer.querySelectorAll('a.graphiql-doc-explorer-type-name')]
            .find(a => a.innerText === 'Query');
        if (query) query.click();
        return '';
    })()""", what="the Query type's fields in Docs")


def introspection_requests(browser: Chromium, base: str) -> list[dict]:
    return [r for r in browser.requests(f"{base}/graphql")
            if r["method"] == "POST" and "IntrospectionQuery" in (r.get("postData") or "")]


def introspections(browser: Chromium, base: str) -> list[str]:
    """The Authorization header of each introspection GraphiQL sent, in order."""
    return [r["headers"].get("Authorization") for r in introspection_requests(browser, base)]


def statuses(browser: Chromium, base: str) -> list[int]:
    return [r["status"] for r in browser.responses(f"{base}/graphql")]


def storage(browser: Chromium, kind: str) -> dict:
    return browser.evaluate(f"Object.fromEntries(Object.entries({kind}))")


def test_graphiql_from_a_token_link(live_server, token, globex_token, browser):
    browser.navigate(f"{live_server}/graphql#token={quote(token)}")
    docs = open_query_docs(browser)
    # The first introspection already carried the token: Docs list Query's fields, no "Error fetching schema".
    assert "Error fetching schema" not in docs
    assert re.search(r"deployments\s*\(", docs) and "organizations" in docs, docs
    assert introspections(browser, live_server) == [f"Bearer {token}"]
    # The token left the address bar, and lives in this tab's sessionStorage only.
    assert browser.evaluate("location.href") == f"{live_server}/graphql"
    assert storage(browser, "sessionStorage") == {"steward.token": token}
    assert token not in json.dumps(storage(browser, "localStorage"))

    assert run_query(browser, QUERY) == {
        "data": {"deployments": {"totalCount": 3}, "organizations": [{"slug": "acme"}]}}
    FIGURES["GraphiQL screenshot (token link, Docs, a result)"] = browser.screenshot(SCREENSHOT)

    # Another organization's token in the header editor: GraphiQL introspects again with it.
    browser.evaluate("document.querySelector('[aria-label=\"Hide Documentation Explorer\"]').click()")
    browser.evaluate(f"{HEADERS_EDITOR}.setValue({json.dumps(json.dumps({'Authorization': f'Bearer {globex_token}'}))})")
    second = browser.until(lambda: introspection_requests(browser, live_server)[1:], what="a second introspection")[0]
    browser.until(lambda: browser.finished(second["requestId"]), what="the second introspection's answer")
    assert introspections(browser, live_server) == [f"Bearer {token}", f"Bearer {globex_token}"]
    docs = open_query_docs(browser)
    assert "Error fetching schema" not in docs and "organizations" in docs
    assert run_query(browser, QUERY) == {
        "data": {"deployments": {"totalCount": 1}, "organizations": [{"slug": "globex"}]}}
    assert storage(browser, "sessionStorage") == {"steward.token": globex_token}
    browser.screenshot(SCREENSHOT.with_name("graphiql-globex.png"))

    assert 401 not in statuses(browser, live_server), statuses(browser, live_server)


def test_graphiql_asks_for_a_token_before_introspecting(live_server, token, browser):
    browser.navigate(f"{live_server}/graphql")
    browser.wait_for("!document.getElementById('steward-sign-in').hidden", what="the token prompt")
    # Nothing was sent to the API yet: no introspection with a placeholder header, no 401.
    assert [r["method"] for r in browser.requests(f"{live_server}/graphql")] == ["GET"]
    assert browser.evaluate("document.activeElement.id") == "steward-token"
    assert browser.evaluate("document.querySelector('label[for=steward-token]').innerText") == "API token"
    assert browser.evaluate("!!document.querySelector('.graphiql-container')") is False

    def submit(value: str) -> None:
        browser.evaluate(f"document.getElementById('steward-token').value = {json.dumps(value)}")
        browser.evaluate("document.querySelector('#steward-token-form button').click()")

    submit("stw_not-a-token")
    error = browser.wait_for("document.getElementById('steward-token-error').innerText", what="the error")
    assert "did not accept" in error
    assert browser.evaluate("document.getElementById('steward-token').getAttribute('aria-invalid')") == "true"
    browser.screenshot(SCREENSHOT.with_name("graphiql-sign-in.png"))
    assert statuses(browser, live_server) == [200, 401]  # the page, then the check of the bad token

    submit(token)
    docs = open_query_docs(browser)
    assert "Error fetching schema" not in docs and "organizations" in docs
    assert introspections(browser, live_server) == [f"Bearer {token}"]
    assert storage(browser, "sessionStorage") == {"steward.token": token}
    assert token not in json.dumps(storage(browser, "localStorage"))

    # The tab remembers it: a reload opens GraphiQL straight away.
    browser.navigate(f"{live_server}/graphql")
    docs = open_query_docs(browser)
    assert "organizations" in docs
    assert browser.evaluate("document.getElementById('steward-sign-in').hidden") is True
    assert statuses(browser, live_server).count(401) == 1


def test_the_page_loads_nothing_from_elsewhere():
    page = (ROOT / "service" / "static" / "graphiql.html").read_text()
    assert not re.search(r'(src|href)="(https?:)?//', page)


def open_subscriptions(base: str) -> float:
    """The server's count of open subscriptions, from /metrics."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=2) as response:
        text = response.read().decode()
    return float(re.search(r"^steward_graphql_subscriptions (\S+)$", text, re.M).group(1))


async def test_graphiql_shows_a_subscription_event(live_server, world_url, token, browser):
    """A subscription typed into GraphiQL goes over WebSocket with the token in connection_init, and shows
    the event committed next."""
    subscription = "subscription { healthChanged(orgSlug: \"acme\") { statusAfter cause deployment { key } } }"
    browser.navigate(f"{live_server}/graphql#token={quote(token)}&query={quote(subscription)}")
    open_query_docs(browser)
    browser.evaluate("document.querySelector('.graphiql-execute-button').click()")
    browser.until(lambda: open_subscriptions(live_server) == 1, what="the subscription to open")
    conn = await connect(world_url)
    try:
        deployment = await conn.fetchval("select id from steward.deployments where key = 'bot-001'")
        org = await conn.fetchval("select org_id from steward.deployments where id = $1", deployment)
        await conn.execute(
            "insert into steward.health_events (org_id, deployment_id, status_before, reasons_before, status_after,"
            " reasons_after, cause) values ($1, $2, 'HEALTHY', '{}', 'UNOWNED', '{NO_OWNER}', 'WRITE')",
            org, deployment)
    finally:
        await conn.close()
    text = browser.wait_for(f"{editor_js('.graphiql-response')}.getValue()", what="the event in the result pane")
    assert json.loads(text) == {"data": {"healthChanged": {"statusAfter": "UNOWNED", "cause": "WRITE",
                                                           "deployment": {"key": "bot-001"}}}}
    FIGURES["GraphiQL screenshot (a subscription's event)"] = browser.screenshot(
        SCREENSHOT.with_name("graphiql-subscription.png"))
    # The stop button ends it on the server too.
    browser.evaluate("document.querySelector('.graphiql-execute-button').click()")
    browser.until(lambda: open_subscriptions(live_server) == 0, what="the subscription to close")
