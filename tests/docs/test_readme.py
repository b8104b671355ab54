"""The README's shell examples, run as written with bash against `steward serve` over the demo data set.

The blocks to run are the ```sh blocks marked `<!-- tested: SLUG read|write token -->`. The test does what a
reader does: pastes the token `steward demo` printed for SLUG over `stw_…`, and uses the server's address.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from service.cli import DEMO_TOKENS
from service.demo.load import load_demo

from ..api.conftest import make_token
from ..live import ROOT, steward_serve

pytestmark = [
    pytest.mark.slow,  # loads the demo data set
    pytest.mark.skipif(not (shutil.which("bash") and shutil.which("curl")), reason="needs bash and curl"),
]
README = ROOT / "README.md"
MARKED = re.compile(r"^<!-- tested: (?P<slug>[a-z-]+) (?P<kind>read|write) token -->\n```sh\n(?P<script>.*?)^```$",
                    re.M | re.S)
README_URL = "http://127.0.0.1:8000"


def marked_blocks() -> dict[str, tuple[str, str, str]]:
    """Heading of the section → (org slug, token kind, script), for every marked block."""
    text = README.read_text()
    blocks = {}
    for match in MARKED.finditer(text):
        heading = re.findall(r"^## (.+)$", text[:match.start()], re.M)[-1]
        blocks[heading] = (match["slug"], match["kind"], match["script"])
    return blocks


@pytest.fixture(scope="module")
async def demo_url(module_db_url: str) -> str:
    await load_demo(module_db_url)
    return module_db_url


@pytest.fixture(scope="module")
def server(demo_url: str, tmp_path_factory) -> str:
    with steward_serve(demo_url, tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield base


async def run_block(heading: str, server: str, demo_url: str, tmp_path: Path) -> list[dict]:
    """Run one marked block with bash (errexit, pipefail); returns every JSON answer it printed, in order."""
    slug, kind, script = marked_blocks()[heading]
    token = await make_token(demo_url, slug, dict(DEMO_TOKENS)[kind])  # the scopes `steward demo` gives it
    assert "stw_…" in script and README_URL in script, "the block no longer reads like the README promises"
    script = script.replace("stw_…", token).replace(README_URL, server)
    (tmp_path / "block.sh").write_text(script)  # kept by pytest for a look after a failure
    env = {k: v for k, v in os.environ.items() if k != "TOKEN"}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr[-3000:]}\n{result.stdout[-3000:]}"
    assert not result.stderr.strip(), result.stderr
    (tmp_path / "output.txt").write_text(result.stdout)
    answers, decoder, text = [], json.JSONDecoder(), result.stdout.strip()
    while text:
        answer, end = decoder.raw_decode(text)
        answers.append(answer)
        text = text[end:].lstrip()
    for answer in answers:
        assert "errors" not in answer and answer.get("data"), answer
        assert not [t for t in typenames(answer) if not t.endswith("Success")], answer  # no typed UserError
    return answers


def typenames(value) -> list[str]:
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in ([v] if k == "__typename" else typenames(v))]
    if isinstance(value, list):
        return [t for v in value for t in typenames(v)]
    return []


def test_the_readme_marks_the_examples_this_test_runs():
    assert {h: b[:2] for h, b in marked_blocks().items()} == {
        "The demo": ("lumen-beauty", "read"), "Automation: owners and activity": ("harbor-home", "write"),
        "The weekly review": ("lumen-beauty", "read")}
    for _, _, script in marked_blocks().values():
        assert re.search(r"^export TOKEN=stw_…", script, re.M)
        assert not re.search(r"<[^>\n]*>", script), "a <placeholder> the reader would have to fill in"


async def test_the_weekly_review_query(server, demo_url, tmp_path):
    [answer] = await run_block("The weekly review", server, demo_url, tmp_path)
    concierge = answer["data"]["deployment"]
    assert [f["figure"] for f in concierge["weeklyBrief"]["headline"]] == [
        "ARR", "REOPEN_RATE", "COVERAGE", "AUTOMATION_RATE", "ESCALATION_RATE", "VOLUME"]
    assert concierge["maturity"]["level"] == 5 and concierge["maturity"]["nextStep"] is None


async def test_the_demo_query(server, demo_url, tmp_path):
    [answer] = await run_block("The demo", server, demo_url, tmp_path)
    concierge = answer["data"]["deployment"]
    assert concierge["health"] == {"status": "HEALTHY", "reasons": []}
    assert (concierge["metrics"]["workflowUpdates"], concierge["metrics"]["peakWeekUpdates"]) == (202, 131)


async def test_the_automation_walk_through_reaches_healthy(server, demo_url, tmp_path):
    people, assigned, updated, reviewed, final = await run_block(
        "Automation: owners and activity", server, demo_url, tmp_path)
    # Step 1: what the README says the reader sees, and chooses from.
    assert people["data"]["deployment"]["health"]["status"] == "UNOWNED"
    assert people["data"]["deployment"]["workflows"][0]["name"] == "Damaged items"
    assert sorted((p["node"]["name"], p["node"]["function"], p["node"]["fteOnAi"])
                  for p in people["data"]["people"]["edges"]) == [
        ("Chris Lund", "CX", 0.3), ("Marisol Vega", "CX", 0.2), ("Priya Nair", "CX", 0.7), ("Tom Becker", "IT", 0.5)]
    # Step 2: owned again, STALE for the reasons the README gives.
    deployment = assigned["data"]["assignOwner"]["deployment"]
    assert deployment["owner"] == {"name": "Priya Nair", "function": "CX", "fteOnAi": 0.7}
    assert deployment["health"]["status"] == "STALE"
    assert {r["code"] for r in deployment["health"]["reasons"]} == {
        "NO_RECENT_UPDATE", "NO_RECENT_REVIEW", "REVIEW_OVERDUE"}
    # Steps 3 and 4 wrote once each; step 5: HEALTHY with no reason left.
    update = updated["data"]["recordWorkflowUpdate"]
    assert update["replayed"] is False and update["workflowUpdate"]["workflow"] == {"name": "Damaged items"}
    assert update["workflowUpdate"]["kind"] == "WORKFLOW_CHANGE"
    assert reviewed["data"]["recordReview"]["replayed"] is False
    assert reviewed["data"]["recordReview"]["review"]["reviewer"] == {"name": "Priya Nair"}
    assert final["data"]["deployment"]["owner"] == {"name": "Priya Nair"}
    assert final["data"]["deployment"]["health"] == {"status": "HEALTHY", "reasons": []}
