"""GraphiQL in a real headless Chromium: the page loads offline, runs a query with a token, shows the result."""
from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium: "
                       "`apt-get install chromium` to run the GraphiQL browser test (.ci/run does in CI)"),
]
QUERY = "{ deployments { totalCount } organizations { slug } }"


def dump_dom(url: str, profile: Path) -> str:
    """The page's DOM once its scripts went idle; every host but 127.0.0.1 unreachable, like CI."""
    result = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
         "--virtual-time-budget=30000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (profile.parent / "dom.html").write_text(result.stdout)  # kept by pytest for a look after a failure
    return result.stdout


def test_graphiql_runs_a_query_with_a_token(live_server, token, tmp_path):
    dom = dump_dom(f"{live_server}/graphql#token={quote(token)}&query={quote(QUERY)}&run=1", tmp_path / "profile")
    shown = re.search(r'<pre id="steward-result">(.*?)</pre>', dom, re.S)
    assert shown and shown.group(1).strip(), f"no result on the page; DOM in {tmp_path / 'dom.html'}"
    # Read from GraphiQL's own result pane, after GraphiQL's run button sent the query.
    assert json.loads(html.unescape(shown.group(1))) == {
        "data": {"deployments": {"totalCount": 3}, "organizations": [{"slug": "acme"}]}}
    assert token in dom  # in the headers editor, as sent


def test_graphiql_prefills_the_authorization_header(live_server, tmp_path):
    dom = dump_dom(f"{live_server}/graphql", tmp_path / "profile")
    assert 'class="graphiql-container' in dom, dom[-3000:]
    assert '"Bearer &lt;token&gt;"' in dom  # the headers editor, ready for a real token


def test_the_page_loads_nothing_from_elsewhere():
    page = (Path(__file__).resolve().parents[2] / "service" / "static" / "graphiql.html").read_text()
    assert not re.search(r'(src|href)="(https?:)?//', page)
