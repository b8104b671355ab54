"""The graphql-http server audit (the GraphQL-over-HTTP spec's own test kit) against a live `steward serve`.

Needs Node.js and the npm registry (`npm ci` of tests/hardening/audit, pinned by its lock file); skipped without node.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from .conftest import FIGURES

AUDIT = Path(__file__).resolve().parent / "audit"


@pytest.fixture(scope="module")
def audit_kit() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js is not installed")
    if not (AUDIT / "node_modules" / "graphql-http").is_dir():
        subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=AUDIT, check=True, timeout=300)
    return AUDIT


def test_graphql_http_audit_has_no_warning_and_no_error(audit_kit, live_server, token):
    run = subprocess.run(["node", "audit.mjs", f"{live_server}/graphql", token], cwd=audit_kit,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    results = [json.loads(line) for line in run.stdout.splitlines()]
    counts = Counter(r["status"] for r in results)
    FIGURES["graphql-http audit"] = dict(counts)
    assert len(results) > 50
    assert [r for r in results if r["status"] != "ok"] == []
